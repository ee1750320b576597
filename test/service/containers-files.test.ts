// Black-box: files in and out of containers (archive, export, changes), top, stats and
// health checks, with real containers.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertMatchesSchema } from '../helpers/schema.js';
import type { TestService } from '../helpers/service.js';
import { tar } from '../helpers/tar-builder.js';
import { canRunContainers, createContainer, demux, hijackRequest, inspect, mountsUnder, runContainer, shutdown, startWithImage, textOf, waitExit } from '../helpers/containers.js';

/** Entry names of a tar archive (ustar headers only, which is what tspod writes for short names). */
function tarNames(buf: Buffer): string[] {
  const out: string[] = [];
  let off = 0;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString().replace(/\0.*$/s, '');
    const prefix = h.subarray(345, 500).toString().replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString().replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(h[156]!);
    if (type !== 'x' && type !== 'g') out.push(prefix ? `${prefix}/${name}` : name);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** The content of entry `name` in a tar archive. */
function tarFile(buf: Buffer, name: string): string | undefined {
  let off = 0;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const n = h.subarray(0, 100).toString().replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString().replace(/\0.*$/s, '').trim() || '0', 8);
    if (n === name) return buf.subarray(off + 512, off + 512 + size).toString();
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

async function execOut(svc: TestService, id: string, cmd: string[]): Promise<string> {
  const e = (await svc.request('POST', `/v1.40/containers/${id}/exec`, { body: { AttachStdout: true, AttachStderr: true, Cmd: cmd } })).json().Id as string;
  const h = await hijackRequest(svc.socketPath, 'POST', `/v1.40/exec/${e}/start`, {});
  return textOf(demux(await h.body), 1);
}

(canRunContainers() ? describe : describe.skip)('containers: files, top, stats, health (real containers)', function () {
  this.timeout(60_000);
  let svc: TestService;

  before(async function () {
    svc = await startWithImage();
  });
  after(async function () {
    await shutdown(svc);
  });

  it('copies in (PUT) and out (GET, HEAD with the path stat header) of a running container', async () => {
    const id = await runContainer(svc, { Cmd: ['sleep', '300'] });
    const put = await svc.request('PUT', `/v1.40/containers/${id}/archive?path=/tmp`, {
      body: tar([{ name: 'dir/', type: 'dir', mode: 0o750 }, { name: 'dir/hello.txt', content: 'hello from the host\n', mode: 0o640 }]),
      headers: { 'Content-Type': 'application/x-tar' },
    });
    expect(put.status, put.text).to.equal(200);
    expect(await execOut(svc, id, ['cat', '/tmp/dir/hello.txt'])).to.equal('hello from the host\n');
    expect(await execOut(svc, id, ['stat', '-c', '%a %u', '/tmp/dir/hello.txt'])).to.equal('640 0\n');

    const head = await svc.request('HEAD', `/v1.40/containers/${id}/archive?path=/tmp/dir`);
    expect(head.status).to.equal(200);
    const st = JSON.parse(Buffer.from(String(head.headers['x-docker-container-path-stat']), 'base64').toString());
    expect(st.name).to.equal('dir');
    expect(st.mode).to.equal(2 ** 31 + 0o750);
    const get = await svc.request('GET', `/v1.40/containers/${id}/archive?path=/tmp/dir`);
    expect(get.status).to.equal(200);
    expect(get.headers['content-type']).to.equal('application/x-tar');
    expect(tarNames(get.body)).to.deep.equal(['dir/', 'dir/hello.txt']);
    expect(tarFile(get.body, 'dir/hello.txt')).to.equal('hello from the host\n');
    const file = await svc.request('GET', `/v1.40/containers/${id}/archive?path=/etc/passwd`);
    expect(tarNames(file.body)).to.deep.equal(['passwd']);
    expect((await svc.request('HEAD', `/v1.40/containers/${id}/archive?path=/no/such`)).status).to.equal(404);
    expect((await svc.request('GET', `/v1.40/containers/${id}/archive?path=/no/such`)).status).to.equal(404);
    const lp = await svc.request('GET', `/v5.1.0/libpod/containers/${id}/archive?path=/etc/group`);
    expect(tarFile(lp.body, 'group')).to.match(/^root:x:0:/);
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('keeps symlinks and dot-dots inside the container (no escape to the host)', async () => {
    const id = await runContainer(svc, { Cmd: ['sleep', '300'] });
    await execOut(svc, id, ['ln', '-s', '/../../../../../../etc', '/tmp/esc']);
    await execOut(svc, id, ['sh', '-c', 'echo container-secret > /etc/only-in-container']);
    // Reading through the link reads the container's /etc.
    const get = await svc.request('GET', `/v1.40/containers/${id}/archive?path=/tmp/esc/only-in-container`);
    expect(get.status).to.equal(200);
    expect(tarFile(get.body, 'only-in-container')).to.equal('container-secret\n');
    const passwd = await svc.request('GET', `/v1.40/containers/${id}/archive?path=/../../../../etc/passwd`);
    expect(tarFile(passwd.body, 'passwd')).to.equal(readFileSync(join(svc.root, '..', 'root', 'containers', id, 'merged', 'etc', 'passwd'), 'utf8'));
    // Writing through it writes into the container's /etc, never the host's.
    const marker = `tspod-escape-${process.pid}-${Date.now()}`;
    const put = await svc.request('PUT', `/v1.40/containers/${id}/archive?path=/tmp/esc`, { body: tar([{ name: marker, content: 'x' }]), headers: { 'Content-Type': 'application/x-tar' } });
    expect(put.status, put.text).to.equal(200);
    expect(existsSync(`/etc/${marker}`)).to.equal(false);
    expect(await execOut(svc, id, ['cat', `/etc/${marker}`])).to.equal('x');
    // A link made by the archive itself does not redirect later entries out either.
    const put2 = await svc.request('PUT', `/v1.40/containers/${id}/archive?path=/tmp`, {
      body: tar([{ name: 'hop', type: 'symlink', linkname: '/etc' }, { name: `hop/${marker}-2`, content: 'y' }]),
      headers: { 'Content-Type': 'application/x-tar' },
    });
    expect(put2.status, put2.text).to.equal(200);
    expect(existsSync(`/etc/${marker}-2`)).to.equal(false);
    expect(await execOut(svc, id, ['cat', `/etc/${marker}-2`])).to.equal('y');
    // Entries with .. are refused.
    const bad = await svc.request('PUT', `/v1.40/containers/${id}/archive?path=/tmp`, { body: tar([{ name: '../../escape', content: 'z' }]), headers: { 'Content-Type': 'application/x-tar' } });
    expect(bad.status).to.equal(400);
    // A file may not replace a directory with noOverwriteDirNonDir.
    const clash = await svc.request('PUT', `/v1.40/containers/${id}/archive?path=/&noOverwriteDirNonDir=true`, { body: tar([{ name: 'tmp', content: 'not a dir' }]), headers: { 'Content-Type': 'application/x-tar' } });
    expect(clash.status).to.equal(400);
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('never follows a directory the running container swaps for a link to a host path meanwhile', async function () {
    this.timeout(120_000);
    // The host directory the container's link names: the link means nothing inside the
    // container, but the host kernel would follow it if the engine used host paths after the
    // container swapped a checked directory for the link.
    const hostDir = mkdtempSync(join(tmpdir(), 'tspod-race-'));
    writeFileSync(join(hostDir, 'host-secret'), 'host-secret-content\n');
    try {
      const id = await runContainer(svc, { Cmd: ['sh', '-c', `while :; do mkdir -p /x/d; echo in-container > /x/d/f; rm -rf /x; ln -s ${hostDir} /x; rm /x; done`] });
      const entries = Array.from({ length: 8 }, (_, i) => ({ name: `d/put-${i}`, content: 'z' }));
      const statuses = new Set<number>();
      for (let i = 0; i < 60; i++) {
        const put = await svc.request('PUT', `/v1.40/containers/${id}/archive?path=/x`, { body: tar(entries), headers: { 'Content-Type': 'application/x-tar' } });
        const putRoot = await svc.request('PUT', `/v1.40/containers/${id}/archive?path=/`, { body: tar(entries.map((e) => ({ ...e, name: `x/${e.name}` }))), headers: { 'Content-Type': 'application/x-tar' } });
        const get = await svc.request('GET', `/v1.40/containers/${id}/archive?path=/x/`);
        // Whatever the race gave (done, gone, not a directory), an answer in the API's format.
        for (const r of [put, putRoot, get]) {
          statuses.add(r.status);
          if (r.status !== 200) expect(r.json().message, `${r.status} ${r.text}`).to.be.a('string');
        }
        expect(get.body.includes('host-secret-content')).to.equal(false);
      }
      expect(readdirSync(hostDir)).to.deep.equal(['host-secret']);
      expect(statuses.has(200), `statuses ${[...statuses]}`).to.equal(true);
      await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
    } finally {
      rmSync(hostDir, { recursive: true, force: true });
    }
  });

  it('copies into and out of a stopped container, leaving no mount', async () => {
    const id = await createContainer(svc, { Cmd: ['cat', '/data.txt'] });
    const put = await svc.request('PUT', `/v1.40/containers/${id}/archive?path=/`, { body: tar([{ name: 'data.txt', content: 'put while stopped\n' }]), headers: { 'Content-Type': 'application/x-tar' } });
    expect(put.status, put.text).to.equal(200);
    expect(mountsUnder(join(svc.root, 'containers', id))).to.deep.equal([]);
    const get = await svc.request('GET', `/v1.40/containers/${id}/archive?path=/data.txt`);
    expect(tarFile(get.body, 'data.txt')).to.equal('put while stopped\n');
    expect(mountsUnder(join(svc.root, 'containers', id))).to.deep.equal([]);
    await svc.request('POST', `/v1.40/containers/${id}/start`);
    expect(await waitExit(svc, id)).to.equal(0);
    const logs = await svc.request('GET', `/v1.40/containers/${id}/logs?stdout=1`);
    expect(textOf(demux(logs.body), 1)).to.equal('put while stopped\n');
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('exports the root filesystem and lists changes from the upper directory', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'touch /tmp/new; rm /etc/motd; echo extra >> /etc/group; sleep 300'] });
    await new Promise((r) => setTimeout(r, 300));
    const ch = await svc.request('GET', `/v1.40/containers/${id}/changes`);
    expect(ch.status).to.equal(200);
    expect(ch.json()).to.deep.equal([
      { Path: '/etc', Kind: 0 },
      { Path: '/etc/group', Kind: 0 },
      { Path: '/etc/motd', Kind: 2 },
      { Path: '/tmp', Kind: 0 },
      { Path: '/tmp/new', Kind: 1 },
    ]);
    const lp = await svc.request('GET', `/v5.1.0/libpod/containers/${id}/changes`);
    expect(lp.json()).to.deep.equal(ch.json());
    const ex = await svc.request('GET', `/v1.40/containers/${id}/export`);
    expect(ex.status).to.equal(200);
    const names = tarNames(ex.body);
    expect(names).to.include.members(['bin/', 'bin/busybox', 'etc/passwd', 'tmp/new']);
    expect(names).not.to.include('etc/motd');
    expect(tarFile(ex.body, 'etc/group')).to.match(/extra\n$/);
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('lists processes (top) and samples stats of a busy container', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'while :; do :; done'], HostConfig: { Memory: 64 * 1024 * 1024, PidsLimit: 50 } });
    const top = await svc.request('GET', `/v1.40/containers/${id}/top`);
    expect(top.status).to.equal(200);
    assertMatchesSchema('docker', 'ContainerTop', 200, top.json());
    expect(top.json().Titles).to.include.members(['PID', 'CMD']);
    expect(top.json().Processes.some((p: string[]) => p.join(' ').includes('while'))).to.equal(true);
    const aux = await svc.request('GET', `/v1.40/containers/${id}/top?ps_args=aux`);
    expect(aux.json().Titles).to.include('%CPU');
    await new Promise((r) => setTimeout(r, 500));
    const one = await svc.request('GET', `/v1.40/containers/${id}/stats?stream=false`);
    expect(one.status).to.equal(200);
    const s = one.json();
    expect(s.id).to.equal(id);
    expect(s.cpu_stats.cpu_usage.total_usage).to.be.greaterThan(0);
    expect(s.cpu_stats.cpu_usage.total_usage).to.be.greaterThan(s.precpu_stats.cpu_usage.total_usage);
    expect(s.cpu_stats.system_cpu_usage).to.be.greaterThan(s.precpu_stats.system_cpu_usage);
    expect(s.memory_stats.limit).to.equal(64 * 1024 * 1024);
    expect(s.memory_stats.usage).to.be.greaterThan(0);
    expect(s.pids_stats).to.include({ current: 1, limit: 50 });
    // Streaming: one JSON record per interval.
    const ctl = new AbortController();
    const lines: string[] = [];
    const { request } = await import('node:http');
    await new Promise<void>((resolve) => {
      const req = request({ socketPath: svc.socketPath, path: `/v1.40/containers/${id}/stats`, signal: ctl.signal }, (res) => {
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (c: string) => {
          buf += c;
          for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
            lines.push(buf.slice(0, nl));
            buf = buf.slice(nl + 1);
          }
          if (lines.length >= 2) {
            ctl.abort();
            resolve();
          }
        });
        res.on('error', () => resolve());
      });
      req.on('error', () => resolve());
      req.end();
    });
    expect(lines.length).to.be.at.least(2);
    expect(JSON.parse(lines[1]!).precpu_stats.cpu_usage.total_usage).to.equal(JSON.parse(lines[0]!).cpu_stats.cpu_usage.total_usage);
    const all = await svc.request('GET', `/v5.1.0/libpod/containers/stats?stream=false&containers=${id}`);
    expect(all.status).to.equal(200);
    const st = all.json().Stats[0];
    expect(st.ContainerID).to.equal(id);
    expect(st.CPUNano).to.be.greaterThan(0);
    expect(st.MemLimit).to.equal(64 * 1024 * 1024);
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('runs health checks: healthy, unhealthy after retries, on demand, health filter', async () => {
    const ok = await runContainer(svc, { Cmd: ['sleep', '300'], Healthcheck: { Test: ['CMD-SHELL', 'test -e /etc/passwd'], Interval: 500_000_000, Retries: 2 } }, 'hc-ok');
    const bad = await runContainer(svc, { Cmd: ['sleep', '300'], Healthcheck: { Test: ['CMD', 'false'], Interval: 500_000_000, Retries: 2 } }, 'hc-bad');
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const [a, b] = await Promise.all([inspect(svc, ok), inspect(svc, bad)]);
      if (a.State.Health?.Status === 'healthy' && b.State.Health?.Status === 'unhealthy') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const a = await inspect(svc, ok);
    const b = await inspect(svc, bad);
    expect(a.State.Health.Status).to.equal('healthy');
    expect(b.State.Health).to.include({ Status: 'unhealthy' });
    expect(b.State.Health.FailingStreak).to.be.at.least(2);
    assertMatchesSchema('docker', 'ContainerInspect', 200, a);
    const run = await svc.request('GET', '/v5.1.0/libpod/containers/hc-ok/healthcheck');
    expect(run.status).to.equal(200);
    expect(run.json().Status).to.equal('healthy');
    expect(run.json().Log.at(-1).ExitCode).to.equal(0);
    const none = await runContainer(svc, { Cmd: ['sleep', '300'] });
    expect((await svc.request('GET', `/v5.1.0/libpod/containers/${none}/healthcheck`)).status).to.equal(409);
    const list = await svc.request('GET', `/v1.40/containers/json?filters=${encodeURIComponent('{"health":["unhealthy"]}')}`);
    expect(list.json().map((c: any) => c.Id)).to.deep.equal([bad]);
    for (const c of [ok, bad, none]) await svc.request('DELETE', `/v1.40/containers/${c}?force=1`);
  });
});
