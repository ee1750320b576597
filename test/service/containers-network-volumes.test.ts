// Black-box: containers on bridge networks (addresses, published ports, DNS, connect and
// disconnect, none/host modes) and with volumes (named, anonymous, image content copied in,
// rm -v), through the networks and volumes domains.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TestService } from '../helpers/service.js';
import { canRunContainers, conmonsMentioning, createContainer, demux, hijackRequest, inspect, mountsUnder, runcStates, runContainer, shutdown, startWithImage, textOf, waitExit } from '../helpers/containers.js';

const hasNetavark = () => ['/usr/lib/podman/netavark', '/usr/libexec/podman/netavark'].some((p) => spawnSync('test', ['-x', p]).status === 0);

async function execOut(svc: TestService, id: string, cmd: string[]): Promise<{ out: string; code: number }> {
  const e = (await svc.request('POST', `/v1.40/containers/${id}/exec`, { body: { AttachStdout: true, AttachStderr: true, Cmd: cmd } })).json().Id as string;
  const h = await hijackRequest(svc.socketPath, 'POST', `/v1.40/exec/${e}/start`, {});
  const out = textOf(demux(await h.body), 1);
  const code = (await svc.request('GET', `/v1.40/exec/${e}/json`)).json().ExitCode as number;
  return { out, code };
}

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, timeout: 3000 }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve(b));
    });
    r.on('error', reject);
    r.end();
  });
}

(canRunContainers() && hasNetavark() ? describe : describe.skip)('containers: networks and volumes (real containers)', function () {
  this.timeout(90_000);
  let svc: TestService;

  before(async function () {
    svc = await startWithImage();
  });
  after(async function () {
    await svc.request('DELETE', '/v1.40/networks/ctr-net').catch(() => {});
    await shutdown(svc);
  });

  it('gives a bridge address, publishes ports, and answers inspect with the attachment', async () => {
    const port = 20000 + (process.pid % 20000);
    const id = await runContainer(svc, {
      Cmd: ['sh', '-c', 'echo served > /tmp/index.html; exec httpd -f -p 80 -h /tmp'],
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] } },
    });
    let body = '';
    for (let i = 0; i < 50 && !body; i++) {
      body = await httpGet(port, '/index.html').catch(() => '');
      if (!body) await new Promise((r) => setTimeout(r, 100));
    }
    expect(body).to.equal('served\n');
    const j = await inspect(svc, id);
    expect(j.NetworkSettings.IPAddress).to.match(/^\d+\.\d+\.\d+\.\d+$/);
    expect(j.NetworkSettings.Ports['80/tcp']).to.deep.equal([{ HostIp: '127.0.0.1', HostPort: String(port) }]);
    const nets = Object.values(j.NetworkSettings.Networks) as any[];
    expect(nets).to.have.length(1);
    expect(nets[0].IPAddress).to.equal(j.NetworkSettings.IPAddress);
    const ip = await execOut(svc, id, ['sh', '-c', 'ip -4 -o addr show eth0']);
    expect(ip.out).to.contain(j.NetworkSettings.IPAddress);
    const list = await svc.request('GET', '/v1.40/containers/json');
    const item = (list.json() as any[]).find((c) => c.Id === id);
    expect(item.Ports).to.deep.include({ IP: '127.0.0.1', PrivatePort: 80, PublicPort: port, Type: 'tcp' });
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
    // The port is free again.
    expect(await httpGet(port, '/').catch(() => 'refused')).to.equal('refused');
  });

  it('default network, one container after another: each has its address in /etc/hosts and on eth0; an exited one shows none', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await runContainer(svc, { Cmd: ['sh', '-c', 'ip -4 -o addr show eth0; cat /etc/hosts'] });
      expect(await waitExit(svc, id)).to.equal(0);
      const logs = textOf(demux((await svc.request('GET', `/v1.40/containers/${id}/logs?stdout=1`)).body), 1);
      const addr = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(logs)?.[1];
      expect(addr, logs).to.be.a('string');
      // /etc/hosts names the container at that address (written once the network was up, before the start).
      expect(logs).to.match(new RegExp(`^${addr!.replace(/\./g, '\\.')}\\s.*${id.slice(0, 12)}`, 'm'));
      seen.push(addr!);
      // Exited: no address in inspect; network inspect stops listing it (its teardown runs after the exit).
      const j = await inspect(svc, id);
      expect(j.NetworkSettings.IPAddress).to.equal('');
      const listed = async () => Object.keys((await svc.request('GET', '/v1.40/networks/bridge')).json().Containers ?? {}).includes(id);
      for (let t = 0; t < 50 && (await listed()); t++) await new Promise((r) => setTimeout(r, 20));
      expect(await listed()).to.equal(false);
      expect((await svc.request('DELETE', `/v1.40/containers/${id}`)).status).to.equal(204);
    }
    expect(new Set(seen).size).to.equal(3);
  });

  it('a start whose network cannot be set up (host port taken) answers 500 and leaves nothing; it starts once the port is free', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const id = await createContainer(svc, { Cmd: ['true'], ExposedPorts: { '80/tcp': {} }, HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] } } });
    try {
      const r = await svc.request('POST', `/v1.40/containers/${id}/start`);
      expect(r.status).to.equal(500);
      expect(r.json().message).to.contain(String(port));
      expect((await inspect(svc, id)).State.Status).to.equal('created');
      // runc may have created the container while the network was being set up: all of it is gone.
      expect(runcStates(svc)).to.deep.equal([]);
      expect(conmonsMentioning(id)).to.deep.equal([]);
      expect(mountsUnder(svc.dir).filter((m) => m.includes(id))).to.deep.equal([]);
      expect(existsSync(join(svc.runroot, 'netns', id))).to.equal(false);
      expect(existsSync(join(svc.runroot, 'networks', 'sandboxes', `${id}.json`))).to.equal(false);
    } finally {
      server.close();
    }
    await once(server, 'close');
    expect((await svc.request('POST', `/v1.40/containers/${id}/start`)).status).to.equal(204);
    expect(await waitExit(svc, id)).to.equal(0);
    expect((await svc.request('DELETE', `/v1.40/containers/${id}`)).status).to.equal(204);
  });

  it('resolves container names on a user network, connects and disconnects running containers', async () => {
    const n = await svc.request('POST', '/v1.40/networks/create', { body: { Name: 'ctr-net' } });
    expect(n.status, n.text).to.equal(201);
    // busybox ping needs CAP_NET_RAW (not in the default set): talk HTTP instead.
    const a = await runContainer(svc, { Cmd: ['sh', '-c', 'echo from-a > /tmp/i.html; exec httpd -f -p 80 -h /tmp'], HostConfig: { NetworkMode: 'ctr-net' } }, 'net-a');
    const b = await runContainer(svc, { Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'ctr-net' } }, 'net-b');
    // Names resolve through aardvark-dns; HTTP with nc (busybox's static wget crashes talking to httpd here).
    const ipA = (await inspect(svc, a)).NetworkSettings.Networks['ctr-net'].IPAddress as string;
    const ns = await execOut(svc, b, ['nslookup', 'net-a']);
    expect(ns.out).to.contain(ipA);
    let get = { out: '', code: 1 };
    for (let i = 0; i < 30 && get.out !== 'from-a\n'; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      get = await execOut(svc, b, ['sh', '-c', `printf 'GET /i.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ipA} 80 | tail -1`]);
    }
    expect(get.out).to.equal('from-a\n');
    expect((await inspect(svc, a)).NetworkSettings.Networks).to.have.key('ctr-net');
    const c = await runContainer(svc, { Cmd: ['sleep', '300'] }, 'net-c');
    const conn = await svc.request('POST', '/v1.40/networks/ctr-net/connect', { body: { Container: c } });
    expect(conn.status, conn.text).to.equal(200);
    expect((await inspect(svc, c)).NetworkSettings.Networks).to.include.keys('ctr-net');
    expect((await execOut(svc, c, ['sh', '-c', `printf 'GET /i.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ipA} 80 | tail -1`])).out).to.equal('from-a\n');
    const used = await svc.request('DELETE', '/v1.40/networks/ctr-net');
    expect(used.status).to.equal(409);
    const disc = await svc.request('POST', '/v1.40/networks/ctr-net/disconnect', { body: { Container: c } });
    expect(disc.status, disc.text).to.equal(200);
    expect((await inspect(svc, c)).NetworkSettings.Networks).not.to.have.key('ctr-net');
    for (const id of [a, b, c]) await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
    expect((await svc.request('DELETE', '/v1.40/networks/ctr-net')).status).to.equal(204);
  });

  it('none: loopback only; host: the host network', async () => {
    const none = await runContainer(svc, { Cmd: ['sh', '-c', 'ip -o link | wc -l'], HostConfig: { NetworkMode: 'none' } });
    await waitExit(svc, none);
    const logs = await svc.request('GET', `/v1.40/containers/${none}/logs?stdout=1`);
    expect(textOf(demux(logs.body), 1).trim()).to.equal('1');
    const host = await runContainer(svc, { Cmd: ['sh', '-c', 'cat /proc/net/dev | wc -l'], HostConfig: { NetworkMode: 'host' } });
    await waitExit(svc, host);
    const hl = await svc.request('GET', `/v1.40/containers/${host}/logs?stdout=1`);
    const hostLines = spawnSync('sh', ['-c', 'cat /proc/net/dev | wc -l'], { encoding: 'utf8' }).stdout.trim();
    expect(textOf(demux(hl.body), 1).trim()).to.equal(hostLines);
    for (const id of [none, host]) await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('mounts named volumes (kept across containers) and anonymous ones (gone with rm -v)', async () => {
    const w = await runContainer(svc, { Cmd: ['sh', '-c', 'echo kept > /data/f'], HostConfig: { Binds: ['ctr-vol:/data'] } });
    expect(await waitExit(svc, w)).to.equal(0);
    const j = await inspect(svc, w);
    expect(j.Mounts[0]).to.include({ Type: 'volume', Name: 'ctr-vol', Destination: '/data', RW: true });
    expect(j.Mounts[0].Source).to.match(/\/volumes\/ctr-vol\/_data$/);
    await svc.request('DELETE', `/v1.40/containers/${w}`);
    const r = await runContainer(svc, { Cmd: ['cat', '/data/f'], HostConfig: { Mounts: [{ Type: 'volume', Source: 'ctr-vol', Target: '/data', ReadOnly: true }] } });
    expect(await waitExit(svc, r)).to.equal(0);
    expect(textOf(demux((await svc.request('GET', `/v1.40/containers/${r}/logs?stdout=1`)).body), 1)).to.equal('kept\n');
    const inUse = await svc.request('DELETE', '/v1.40/volumes/ctr-vol');
    expect(inUse.status).to.equal(409);
    await svc.request('DELETE', `/v1.40/containers/${r}`);
    expect((await svc.request('DELETE', '/v1.40/volumes/ctr-vol')).status).to.equal(204);

    // Anonymous: the image's /etc content is copied in on first mount.
    const anon = await createContainer(svc, { Cmd: ['cat', '/etc/passwd'], Volumes: { '/etc': {} } });
    const aj = await inspect(svc, anon);
    const vol = aj.Mounts[0].Name as string;
    expect(vol).to.match(/^[0-9a-f]{64}$/);
    await svc.request('POST', `/v1.40/containers/${anon}/start`);
    expect(await waitExit(svc, anon)).to.equal(0);
    expect(textOf(demux((await svc.request('GET', `/v1.40/containers/${anon}/logs?stdout=1`)).body), 1)).to.match(/^root:x:0:0/);
    expect((await svc.request('GET', `/v1.40/volumes/${vol}`)).status).to.equal(200);
    await svc.request('DELETE', `/v1.40/containers/${anon}?v=1`);
    expect((await svc.request('GET', `/v1.40/volumes/${vol}`)).status).to.equal(404);
  });
});
