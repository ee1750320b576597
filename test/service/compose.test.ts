// End to end with Debian's docker-compose 1.29.2 (issue 5), DOCKER_HOST=unix://<socket> as a user
// sets it: the project in test/fixtures/compose (busybox httpd serving index.html from a named
// volume on a published loopback port, a client fetching http://web:8080/ by service name on the
// project network, an env_file). Steps: run --rm (seeds the volume), up -d, ps, logs, exec -T,
// port, restart, stop, start, run --rm, down -v; then nothing of the project may remain
// (containers, networks, volumes through the API; netns under the run root; the bridge).
import { expect } from 'chai';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { canRunContainers, inspect, shutdown } from '../helpers/containers.js';
import { projectRoot, TestService, waitFor } from '../helpers/service.js';
import { freePort, httpGet } from '../helpers/net.js';
import { loadBusyboxImage } from '../helpers/test-image.js';

const COMPOSE = '/usr/bin/docker-compose';
const FIXTURE = join(projectRoot, 'test', 'fixtures', 'compose');
const GREETING = 'hello-from-env-file'; // app.env
const hasNetavark = () => ['/usr/lib/podman/netavark', '/usr/libexec/podman/netavark'].some((p) => existsSync(p));


async function fetchUntil(port: number, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  let last: { status: number; body: string } | undefined;
  await waitFor(async () => {
    last = await httpGet(port).catch(() => undefined);
    return last?.status === 200;
  }, timeoutMs, `http://127.0.0.1:${port}/ to answer 200`);
  return last!;
}

(canRunContainers() && hasNetavark() && existsSync(COMPOSE) ? describe : describe.skip)('docker-compose 1.29 end to end (real containers)', function () {
  this.timeout(120_000);
  let svc: TestService;
  let port: number;
  const project = `tspodc${process.pid}`;
  const net = `${project}_default`;
  const vol = `${project}_www`;
  let bridge = '';

  /** docker-compose with the project's environment; resolves with the outputs, rejects on a non-zero exit. */
  function compose(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      execFile(
        COMPOSE,
        ['--no-ansi', '-p', project, ...args],
        {
          // `run` goes through the docker CLI (`docker start --attach`), compose's default when
          // `docker` is on PATH; COMPOSE_INTERACTIVE_NO_CLI=1 (docker-py's attach after start) is
          // not used here: see the report of this test's commit.
          cwd: FIXTURE,
          timeout: 60_000,
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: svc.dir, DOCKER_HOST: `unix://${svc.socketPath}`, WEB_PORT: String(port) },
        },
        (err, stdout, stderr) => (err ? reject(new Error(`docker-compose ${args.join(' ')} failed: ${err.message}\nstdout: ${stdout}\nstderr: ${stderr}`)) : resolve({ stdout, stderr })),
      );
    });
  }

  const containerOf = async (service: string) => {
    const r = await svc.request('GET', `/v1.40/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] }))}`);
    expect(r.status, r.text).to.equal(200);
    const list = (r.json() as Array<{ Id: string; Labels: Record<string, string> }>).filter((c) => c.Labels['com.docker.compose.oneoff'] !== 'True');
    expect(list, `containers of ${service}`).to.have.length(1);
    return inspect(svc, list[0]!.Id);
  };

  before(async function () {
    svc = await TestService.start();
    await loadBusyboxImage(svc);
    port = await freePort();
  });

  after(async function () {
    if (!svc) return;
    if (svc.running) await compose('down', '-v', '-t', '1').catch(() => {});
    await shutdown(svc);
  });

  it('seeds the volume with run --rm, then up -d serves it on the published port and the client fetches it by service name', async () => {
    await compose('run', '--rm', '-T', 'web', 'sh', '-c', 'echo "$GREETING" > /www/index.html');
    // The one-off container is gone (--rm); the network and the volume stay.
    const all = (await svc.request('GET', '/v1.40/containers/json?all=1')).json() as unknown[];
    expect(all).to.have.length(0);
    expect((await svc.request('GET', `/v1.40/volumes/${vol}`)).status).to.equal(200);

    await compose('up', '-d');
    const res = await fetchUntil(port);
    expect(res.body).to.equal(`${GREETING}\n`);

    const web = await containerOf('web');
    expect(web.State.Running).to.equal(true);
    expect(web.NetworkSettings.Ports['8080/tcp']).to.deep.equal([{ HostIp: '127.0.0.1', HostPort: String(port) }]);
    expect(Object.keys(web.NetworkSettings.Networks)).to.deep.equal([net]);
    expect(web.Mounts.some((m: { Type: string; Name: string; Destination: string }) => m.Type === 'volume' && m.Name === vol && m.Destination === '/www')).to.equal(true);
    expect(web.Config.Env).to.include(`GREETING=${GREETING}`);

    const client = await containerOf('client');
    expect(await svc.request('POST', `/v1.40/containers/${client.Id}/wait`).then((r) => r.json().StatusCode)).to.equal(0);

    const n = await svc.request('GET', `/v5.0.0/libpod/networks/${net}/json`);
    expect(n.status, n.text).to.equal(200);
    bridge = n.json().network_interface as string;
    expect(bridge).to.be.a('string').and.not.equal('');
    expect(n.json().dns_enabled).to.equal(true);
  });

  it('ps, logs, exec -T and port', async () => {
    const ps = (await compose('ps')).stdout;
    expect(ps).to.match(new RegExp(`${project}_web_1\\s.*\\sUp\\s.*127\\.0\\.0\\.1:${port}->8080/tcp`));
    expect(ps).to.match(new RegExp(`${project}_client_1\\s.*Exit 0`));

    const logs = (await compose('logs', '--no-color', 'client')).stdout;
    expect(logs).to.match(/resolved web to \d+\.\d+\.\d+\.\d+/);
    expect(logs).to.contain(`fetched: ${GREETING}`);

    const ex = await compose('exec', '-T', 'web', 'sh', '-c', 'echo "$GREETING $APP_MODE"; cat /www/index.html');
    expect(ex.stdout).to.equal(`${GREETING} compose-test\n${GREETING}\n`);

    const p = (await compose('port', 'web', '8080')).stdout.trim();
    expect(p).to.equal(`127.0.0.1:${port}`);
  });

  it('restart, stop and start', async () => {
    const before = (await containerOf('web')).State.StartedAt as string;
    await compose('restart', '-t', '5', 'web');
    const after = await containerOf('web');
    expect(after.State.Running).to.equal(true);
    expect(after.State.StartedAt).to.not.equal(before);
    expect((await fetchUntil(port)).body).to.equal(`${GREETING}\n`);

    await compose('stop', '-t', '5');
    expect((await containerOf('web')).State.Running).to.equal(false);
    expect(await httpGet(port).then(() => 'answered', () => 'refused')).to.equal('refused');
    expect((await compose('ps')).stdout).to.match(new RegExp(`${project}_web_1\\s.*Exit`));

    await compose('start');
    expect((await containerOf('web')).State.Running).to.equal(true);
    expect((await fetchUntil(port)).body).to.equal(`${GREETING}\n`);
  });

  it('run --rm of the client reaches web by name again and leaves no container', async () => {
    const r = await compose('run', '--rm', '-T', 'client');
    expect(r.stdout).to.contain(`fetched: ${GREETING}`);
    const left = (await svc.request('GET', `/v1.40/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['com.docker.compose.oneoff=True'] }))}`)).json() as unknown[];
    expect(left).to.have.length(0);
  });

  it('down -v leaves nothing of the project: containers, network, volume, netns, bridge', async () => {
    await compose('down', '-v', '-t', '5');
    const containers = (await svc.request('GET', '/v1.40/containers/json?all=1')).json() as unknown[];
    expect(containers).to.have.length(0);
    const nets = (await svc.request('GET', '/v1.40/networks')).json() as Array<{ Name: string }>;
    expect(nets.map((x) => x.Name)).to.not.include(net);
    expect((await svc.request('GET', `/v1.40/networks/${net}`)).status).to.equal(404);
    const vols = (await svc.request('GET', '/v1.40/volumes')).json() as { Volumes: Array<{ Name: string }> | null };
    expect((vols.Volumes ?? []).map((v) => v.Name)).to.not.include(vol);
    expect((await svc.request('GET', `/v1.40/volumes/${vol}`)).status).to.equal(404);
    // Network namespaces: none left under the run root, none mounted from it.
    await waitFor(() => {
      const dir = join(svc.runroot, 'netns');
      return !existsSync(dir) || readdirSync(dir).length === 0;
    }, 10_000, 'netns under the run root to be removed');
    const mountinfo = spawnSync('cat', ['/proc/self/mountinfo'], { encoding: 'utf8' }).stdout;
    expect(mountinfo.split('\n').filter((l) => l.includes(' - nsfs ') && l.includes(svc.runroot))).to.deep.equal([]);
    // The project's bridge is gone.
    await waitFor(() => {
      const links = JSON.parse(spawnSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' }).stdout || '[]') as Array<{ ifname: string }>;
      return !links.some((l) => l.ifname === bridge);
    }, 10_000, `bridge ${bridge} to be removed`);
  });
});
