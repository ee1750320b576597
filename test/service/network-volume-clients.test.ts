// Black-box (issue 5): networks, published ports, DNS and volumes driven by the real clients —
// the docker CLI (DOCKER_HOST=unix://<socket>) and `podman --remote` — against real containers
// of the busybox test image. Busybox pitfalls: Debian's busybox-static `wget` cannot resolve
// names (and crashes with a search domain), so names are resolved with `nslookup` and HTTP is
// spoken with `nc`; busybox `nc` has no `-u` (and no udpsvd), so the UDP echo server is the host's
// python3 bind-mounted read-only into the container. After every test everything it made is removed; at the end no
// netns under the run root, no new tspod* link and no mount under the temp root may remain.
import { expect } from 'chai';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { canRunContainers, IMAGE, mountsUnder, shutdown } from '../helpers/containers.js';
import { TestService, waitFor } from '../helpers/service.js';
import { freePort, httpGet } from '../helpers/net.js';
import { loadBusyboxImage } from '../helpers/test-image.js';

const DOCKER = '/usr/local/bin/docker';
const PODMAN = '/usr/bin/podman';
const hasNetavark = () => ['/usr/lib/podman/netavark', '/usr/libexec/podman/netavark'].some((p) => existsSync(p));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv, timeout = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(bin, args, { env, timeout }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}


async function fetchUntil(port: number, path = '/', timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  let last: { status: number; body: string } | undefined;
  await waitFor(async () => {
    last = await httpGet(port, path).catch(() => undefined);
    return last?.status === 200;
  }, timeoutMs, `http://127.0.0.1:${port}${path} to answer 200`);
  return last!;
}

/** Sends `msg` to 127.0.0.1:<port>/udp every 200 ms until an answer arrives. */
function udpEcho(port: number, msg: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const done = (f: () => void) => {
      clearInterval(tick);
      clearTimeout(timer);
      sock.close();
      f();
    };
    sock.on('message', (m) => done(() => resolve(m.toString())));
    sock.on('error', () => {}); // ICMP port unreachable until the server binds: keep trying
    const send = () => sock.send(msg, port, '127.0.0.1', () => {});
    const tick = setInterval(send, 200);
    const timer = setTimeout(() => done(() => reject(new Error(`no UDP answer from 127.0.0.1:${port}`))), timeoutMs);
    send();
  });
}

const tspodLinks = (): string[] =>
  (JSON.parse(spawnSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' }).stdout || '[]') as Array<{ ifname: string }>).map((l) => l.ifname).filter((n) => n.startsWith('tspod'));

(canRunContainers() && hasNetavark() && existsSync(DOCKER) ? describe : describe.skip)('docker CLI and podman --remote: networks, ports, DNS, volumes (real containers)', function () {
  this.timeout(120_000);
  let svc: TestService;
  let env: NodeJS.ProcessEnv;
  let linksBefore: Set<string>;
  const tag = `nvc${process.pid}`;
  /** Things each test made, removed after it. */
  let made: { containers: string[]; networks: string[]; volumes: string[] };

  const docker = (...args: string[]) => run(DOCKER, args, env);
  async function dockerOk(...args: string[]): Promise<string> {
    const r = await docker(...args);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  }
  /** docker run -d …; records the container for removal. */
  async function runDetached(name: string, ...args: string[]): Promise<string> {
    made.containers.push(name);
    return (await dockerOk('run', '-d', '--name', name, ...args)).trim();
  }
  const execIn = (name: string, cmd: string) => docker('exec', name, 'sh', '-c', cmd);
  async function dockerInspect(name: string): Promise<any> {
    return (JSON.parse(await dockerOk('inspect', name)) as any[])[0];
  }

  before(async function () {
    linksBefore = new Set(tspodLinks());
    svc = await TestService.start();
    await loadBusyboxImage(svc);
    env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: svc.dir, DOCKER_HOST: `unix://${svc.socketPath}`, XDG_RUNTIME_DIR: join(svc.dir, 'xdg'), XDG_CONFIG_HOME: join(svc.dir, 'xdg-config') };
    mkdirSync(join(svc.dir, 'xdg'), { recursive: true, mode: 0o700 });
  });

  beforeEach(() => {
    made = { containers: [], networks: [], volumes: [] };
  });

  afterEach(async function () {
    if (!svc?.running) return;
    if (made.containers.length) await docker('rm', '-f', ...made.containers);
    for (const n of made.networks) await docker('network', 'rm', n);
    for (const v of made.volumes) await docker('volume', 'rm', '-f', v);
  });

  after(async function () {
    if (!svc) return;
    const runroot = svc.runroot;
    const dir = svc.dir;
    await shutdown(svc);
    // Nothing left on the host: netns, links, mounts.
    const netns = join(runroot, 'netns');
    expect(existsSync(netns) ? readdirSync(netns) : []).to.deep.equal([]);
    await waitFor(() => tspodLinks().every((l) => linksBefore.has(l)), 10_000, 'tspod links to be removed').catch(() => {});
    expect(tspodLinks().filter((l) => !linksBefore.has(l))).to.deep.equal([]);
    expect(mountsUnder(dir)).to.deep.equal([]);
  });

  it('run -d -p 127.0.0.1:<port>:8080 serves a file reached via 127.0.0.1; docker port shows the binding', async () => {
    const port = await freePort();
    const www = join(svc.dir, 'www');
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, 'index.html'), 'published-ok\n');
    await runDetached(`${tag}-web`, '-p', `127.0.0.1:${port}:8080`, '-v', `${www}:/www:ro`, IMAGE, 'httpd', '-f', '-p', '8080', '-h', '/www');
    expect((await fetchUntil(port, '/index.html')).body).to.equal('published-ok\n');
    expect((await dockerOk('port', `${tag}-web`)).trim()).to.equal(`8080/tcp -> 127.0.0.1:${port}`);
    expect((await dockerOk('port', `${tag}-web`, '8080')).trim()).to.equal(`127.0.0.1:${port}`);
    const j = await dockerInspect(`${tag}-web`);
    expect(j.NetworkSettings.Ports['8080/tcp']).to.deep.equal([{ HostIp: '127.0.0.1', HostPort: String(port) }]);
    await dockerOk('rm', '-f', `${tag}-web`);
    expect(await httpGet(port).then(() => 'answered', () => 'refused')).to.equal('refused');
  });

  it('run -P with --expose gets a random host port shown by docker port and reachable on loopback', async () => {
    await runDetached(`${tag}-pub`, '-P', '--expose', '7070', IMAGE, 'sh', '-c', 'mkdir -p /w && echo random-ok > /w/index.html && exec httpd -f -p 7070 -h /w');
    const out = (await dockerOk('port', `${tag}-pub`, '7070/tcp')).trim();
    const m = /^(?:0\.0\.0\.0|\[::\]|127\.0\.0\.1):(\d+)$/m.exec(out);
    expect(m, out).to.not.equal(null);
    const hostPort = Number(m![1]);
    expect(hostPort).to.be.greaterThan(0);
    const j = await dockerInspect(`${tag}-pub`);
    expect(j.Config.ExposedPorts).to.have.key('7070/tcp');
    expect((j.NetworkSettings.Ports['7070/tcp'] as Array<{ HostPort: string }>).map((b) => b.HostPort)).to.include(String(hostPort));
    expect((await fetchUntil(hostPort, '/index.html')).body).to.equal('random-ok\n');
  });

  it('publishes a UDP port (-p 127.0.0.1:<port>:9999/udp): docker port shows it and datagrams from 127.0.0.1 reach the container', async () => {
    const port = await freePort();
    // busybox nc has no -u (and busybox has no udpsvd): the UDP echo server is the host's python3,
    // bind-mounted read-only into the busybox container.
    const server = 'import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(("0.0.0.0",9999))\nwhile True:\n d,a=s.recvfrom(1500)\n s.sendto(b"pong:"+d,a)\n';
    await runDetached(`${tag}-udp`, '-p', `127.0.0.1:${port}:9999/udp`, '-v', '/usr:/usr:ro', '-v', '/usr/lib:/lib:ro', '-v', '/usr/lib64:/lib64:ro', IMAGE, '/usr/bin/python3', '-u', '-c', server);
    expect((await dockerOk('port', `${tag}-udp`)).trim()).to.equal(`9999/udp -> 127.0.0.1:${port}`);
    const j = await dockerInspect(`${tag}-udp`);
    expect(j.NetworkSettings.Ports['9999/udp']).to.deep.equal([{ HostIp: '127.0.0.1', HostPort: String(port) }]);
    expect(j.State.Running).to.equal(true);
    const reply = await udpEcho(port, 'ping', 10_000);
    expect(reply).to.equal('pong:ping');
  });

  it('network create: containers resolve each other by name and --network-alias; connect/disconnect a running container', async () => {
    const net = `${tag}-net`;
    made.networks.push(net);
    await dockerOk('network', 'create', net);
    const ls = await dockerOk('network', 'ls', '--format', '{{.Name}}');
    expect(ls.split('\n')).to.include(net);
    await runDetached(`${tag}-a`, '--network', net, '--network-alias', `${tag}-alias`, IMAGE, 'sh', '-c', 'mkdir -p /w && echo from-a > /w/i.html && exec httpd -f -p 80 -h /w');
    await runDetached(`${tag}-b`, '--network', net, IMAGE, 'sleep', '300');
    const ipA = (await dockerInspect(`${tag}-a`)).NetworkSettings.Networks[net].IPAddress as string;
    expect(ipA).to.match(/^\d+\.\d+\.\d+\.\d+$/);
    expect((await dockerInspect(`${tag}-a`)).NetworkSettings.Networks[net].Aliases).to.include(`${tag}-alias`);
    for (const name of [`${tag}-a`, `${tag}-alias`]) {
      const ns = await execIn(`${tag}-b`, `nslookup ${name}`);
      expect(ns.stdout, `nslookup ${name}: ${ns.stderr}`).to.contain(ipA);
    }
    let got = '';
    for (let i = 0; i < 30 && got !== 'from-a\n'; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      got = (await execIn(`${tag}-b`, `printf 'GET /i.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ipA} 80 | tail -1`)).stdout;
    }
    expect(got).to.equal('from-a\n');

    // A running container on the default network joins the user network, then leaves it.
    await runDetached(`${tag}-c`, IMAGE, 'sleep', '300');
    await dockerOk('network', 'connect', net, `${tag}-c`);
    const cj = await dockerInspect(`${tag}-c`);
    expect(cj.NetworkSettings.Networks).to.include.keys(net);
    const ipC = cj.NetworkSettings.Networks[net].IPAddress as string;
    expect((await execIn(`${tag}-c`, 'ip -4 -o addr')).stdout).to.contain(ipC);
    expect((await execIn(`${tag}-c`, `printf 'GET /i.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ipA} 80 | tail -1`)).stdout).to.equal('from-a\n');
    const ni = JSON.parse(await dockerOk('network', 'inspect', net))[0];
    expect(Object.keys(ni.Containers ?? {})).to.have.length(3);
    await dockerOk('network', 'disconnect', net, `${tag}-c`);
    expect((await dockerInspect(`${tag}-c`)).NetworkSettings.Networks).to.not.have.key(net);
    expect((await execIn(`${tag}-c`, 'ip -4 -o addr')).stdout).to.not.contain(ipC);
    const inUse = await docker('network', 'rm', net);
    expect(inUse.code).to.not.equal(0);
    await dockerOk('rm', '-f', `${tag}-a`, `${tag}-b`, `${tag}-c`);
    await dockerOk('network', 'rm', net);
    made.networks = [];
  });

  it('volume create: one container writes, another reads', async () => {
    const vol = `${tag}-vol`;
    made.volumes.push(vol);
    expect((await dockerOk('volume', 'create', vol)).trim()).to.equal(vol);
    await runDetached(`${tag}-w`, '-v', `${vol}:/data`, IMAGE, 'sh', '-c', 'echo shared-data > /data/f && exec sleep 300');
    await runDetached(`${tag}-r`, '-v', `${vol}:/data`, IMAGE, 'sleep', '300');
    let got = '';
    for (let i = 0; i < 50 && got !== 'shared-data\n'; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      got = (await execIn(`${tag}-r`, 'cat /data/f 2>/dev/null')).stdout;
    }
    expect(got).to.equal('shared-data\n');
    const vi = JSON.parse(await dockerOk('volume', 'inspect', vol))[0];
    expect(vi).to.include({ Name: vol, Driver: 'local' });
    expect((await docker('volume', 'rm', vol)).code).to.not.equal(0); // in use
    await dockerOk('rm', '-f', `${tag}-w`, `${tag}-r`);
    await dockerOk('volume', 'rm', vol);
    made.volumes = [];
  });

  it('--mount type=tmpfs with tmpfs-size, and a read-only bind refuses writes', async () => {
    await runDetached(`${tag}-tmpfs`, '--mount', 'type=tmpfs,destination=/t,tmpfs-size=1m', IMAGE, 'sleep', '300');
    const mounts = (await execIn(`${tag}-tmpfs`, 'grep " /t " /proc/mounts')).stdout;
    expect(mounts).to.match(/^tmpfs \/t tmpfs \S*size=1024k/m);
    expect((await execIn(`${tag}-tmpfs`, 'echo x > /t/x && cat /t/x')).stdout).to.equal('x\n');

    const host = join(svc.dir, 'bind-ro');
    mkdirSync(host, { recursive: true });
    writeFileSync(join(host, 'f'), 'host-file\n');
    await runDetached(`${tag}-ro`, '-v', `${host}:/data:ro`, IMAGE, 'sleep', '300');
    expect((await execIn(`${tag}-ro`, 'cat /data/f')).stdout).to.equal('host-file\n');
    const w = await execIn(`${tag}-ro`, 'echo x > /data/g');
    expect(w.code).to.not.equal(0);
    expect(w.stderr).to.match(/read-only file system/i);
    expect(existsSync(join(host, 'g'))).to.equal(false);
    expect((await execIn(`${tag}-ro`, 'grep " /data " /proc/mounts')).stdout).to.match(/\sro[,\s]/);
  });

  it('volume create --driver local --opt type=tmpfs --opt device=tmpfs --opt o=size=1m is a tmpfs in the container', async () => {
    const vol = `${tag}-tv`;
    made.volumes.push(vol);
    await dockerOk('volume', 'create', '--driver', 'local', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'o=size=1m', vol);
    const vi = JSON.parse(await dockerOk('volume', 'inspect', vol))[0];
    expect(vi.Options).to.include({ type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
    await runDetached(`${tag}-tvc`, '-v', `${vol}:/v`, IMAGE, 'sleep', '300');
    expect((await execIn(`${tag}-tvc`, 'grep " /v " /proc/mounts')).stdout).to.match(/^tmpfs \/v tmpfs \S*size=1024k/m);
    expect((await execIn(`${tag}-tvc`, 'echo y > /v/y && cat /v/y')).stdout).to.equal('y\n');
  });

  (existsSync(PODMAN) ? it : it.skip)('podman --remote: network create, volume create, run --rm --network names the network DNS server', async () => {
    const podman = (...args: string[]) => run(PODMAN, ['--remote', '--url', `unix://${svc.socketPath}`, ...args], env);
    const ok = async (...args: string[]) => {
      const r = await podman(...args);
      if (r.code !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      return r.stdout;
    };
    const net = `${tag}-pnet`;
    const vol = `${tag}-pvol`;
    made.networks.push(net);
    made.volumes.push(vol);
    expect((await ok('network', 'create', net)).trim()).to.equal(net);
    expect((await ok('volume', 'create', vol)).trim()).to.equal(vol);
    const n = await svc.request('GET', `/v5.0.0/libpod/networks/${net}/json`);
    expect(n.status, n.text).to.equal(200);
    expect(n.json().dns_enabled).to.equal(true);
    const gateway = n.json().subnets[0].gateway as string;
    expect(gateway).to.match(/^\d+\.\d+\.\d+\.\d+$/);
    const resolv = await ok('run', '--rm', '--network', net, '-v', `${vol}:/pv`, IMAGE, 'cat', '/etc/resolv.conf');
    expect(resolv).to.match(new RegExp(`^nameserver ${gateway.replace(/\./g, '\\.')}$`, 'm'));
    // --rm: no container left.
    expect((await svc.request('GET', '/v1.40/containers/json?all=1')).json()).to.have.length(0);
  });
});
