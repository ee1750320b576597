// Checkpoint and restore (Libpod) with runc and CRIU. Where `criu check` passes, a container is
// checkpointed and restored and keeps its process state (an in-memory counter goes on). Where it
// fails (CRIU 3.17 cannot read the vDSO of recent kernels), a checkpoint must fail cleanly: a 500
// carrying runc's and CRIU's own message, the container still running and controllable, nothing
// left in its directory. Restore and state errors answer as Podman does.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerStore } from '../../engine/containers/store.js';
import { havePodman, ok, podman } from '../helpers/clients.js';
import { canRunContainers, demux, IMAGE, inspect, removeAll, runContainer, shutdown, startWithImage, textOf } from '../helpers/containers.js';
import type { TestService } from '../helpers/service.js';
import { waitFor } from '../helpers/service.js';
import { tar } from '../helpers/tar-builder.js';

const criuWorks = spawnSync('criu', ['check'], { stdio: 'ignore' }).status === 0;
const COUNTER = 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done';

async function counterValues(svc: TestService, id: string): Promise<number[]> {
  const r = await svc.request('GET', `/v1.40/containers/${id}/logs?stdout=1`);
  return textOf(demux(r.body), 1).trim().split('\n').filter(Boolean).map(Number);
}

function userdataEntries(svc: TestService, id: string): string[] {
  return readdirSync(join(svc.root, 'containers', id, 'userdata')).sort();
}

(canRunContainers() && existsSync('/usr/sbin/criu') ? describe : describe.skip)('containers: checkpoint and restore (runc + CRIU)', function () {
  this.timeout(120_000);
  let svc: TestService;

  before(async () => {
    svc = await startWithImage();
  });
  after(async () => {
    await removeAll(svc);
    await shutdown(svc);
  });

  it(criuWorks ? 'checkpoints and restores a running container, which keeps its process state' : 'a failed checkpoint (criu check fails here) leaves the container running, controllable, and nothing behind', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', COUNTER], HostConfig: { NetworkMode: 'none' } });
    await waitFor(async () => (await counterValues(svc, id)).length >= 3, 10_000, 'the counter');
    const before = userdataEntries(svc, id);
    const since = Math.floor(Date.now() / 1000) - 1;
    const r = await svc.request('POST', `/libpod/containers/${id}/checkpoint`);
    if (!criuWorks) {
      expect(r.status, r.text).to.equal(500);
      const body = r.json();
      expect(body).to.include({ response: 500, cause: 'checkpoint failed' });
      expect(body.message).to.match(/runc checkpoint: .*criu failed/);
      expect(body.message).to.include('criu: '); // CRIU's own reasons, from its log
      const st = (await inspect(svc, id)).State;
      expect(st).to.include({ Status: 'running', Running: true });
      const n = (await counterValues(svc, id)).length;
      await waitFor(async () => (await counterValues(svc, id)).length > n, 5_000, 'the counter to go on');
      expect(userdataEntries(svc, id)).to.deep.equal(before);
      const lib = (await svc.request('GET', `/libpod/containers/${id}/json`)).json();
      expect(lib.State.Checkpointed).to.equal(false);
      // The same with leaveRunning and export: still a clean failure.
      const ex = await svc.request('POST', `/libpod/containers/${id}/checkpoint?leaveRunning=true&export=true&keep=true`);
      expect(ex.status).to.equal(500);
      expect(ex.json().message).to.match(/criu failed/);
      expect(userdataEntries(svc, id)).to.deep.equal(before);
      expect(readdirSync(join(svc.root, 'containers', id)).filter((f) => f.startsWith('export-'))).to.deep.equal([]);
      expect((await svc.request('POST', `/v1.40/containers/${id}/pause`)).status).to.equal(204);
      expect((await svc.request('POST', `/v1.40/containers/${id}/unpause`)).status).to.equal(204);
      expect((await svc.request('POST', `/v1.40/containers/${id}/stop?t=1`)).status).to.equal(204);
      expect((await inspect(svc, id)).State.Status).to.equal('exited');
      const ev = await svc.request('GET', `/libpod/events?stream=false&since=${since}&filters=${encodeURIComponent(JSON.stringify({ event: ['checkpoint'] }))}`);
      expect(ev.text.trim()).to.equal('');
      return;
    }
    expect(r.status, r.text).to.equal(200);
    expect(r.json()).to.include({ Id: id });
    const lib = (await svc.request('GET', `/libpod/containers/${id}/json`)).json();
    expect(lib.State).to.include({ Status: 'exited', Checkpointed: true });
    const counted = await counterValues(svc, id);
    const rr = await svc.request('POST', `/libpod/containers/${id}/restore`);
    expect(rr.status, rr.text).to.equal(200);
    expect((await inspect(svc, id)).State.Status).to.equal('running');
    await waitFor(async () => (await counterValues(svc, id)).length > counted.length + 3, 10_000, 'the restored counter');
    const all = await counterValues(svc, id);
    // One counter that went on: no restart from 1.
    all.forEach((v, i) => expect(v).to.equal(i + 1));
    const restored = (await svc.request('GET', `/libpod/containers/${id}/json`)).json().State;
    expect(restored).to.include({ Checkpointed: false, Restored: true });
    expect(existsSync(join(svc.root, 'containers', id, 'userdata', 'checkpoint'))).to.equal(false);
    expect((await svc.request('POST', `/v1.40/containers/${id}/stop?t=1`)).status).to.equal(204);
  });

  it('podman --remote container checkpoint / restore report the engine\'s errors', function () {
    if (!havePodman) this.skip();
    ok(podman(svc, 'run', '-d', '--name', 'ckpt-pod', '--network', 'none', IMAGE, 'sleep', '300'));
    const c = podman(svc, 'container', 'checkpoint', 'ckpt-pod');
    if (criuWorks) {
      expect(c.status, c.stderr).to.equal(0);
      ok(podman(svc, 'container', 'restore', 'ckpt-pod'));
    } else {
      expect(c.status).to.equal(125);
      expect(c.stderr).to.match(/runc checkpoint: .*criu failed/);
    }
    expect(ok(podman(svc, 'container', 'inspect', '--format', '{{.State.Status}} {{.State.Checkpointed}}', 'ckpt-pod')).trim()).to.equal('running false');
    const r = podman(svc, 'container', 'restore', 'ckpt-pod');
    expect(r.status).to.equal(125);
    expect(r.stderr).to.include('is running or paused, cannot restore: container state improper');
    ok(podman(svc, 'rm', '-f', '-t', '0', 'ckpt-pod'));
  });

  it('answers state errors and a missing checkpoint as Podman (500), an unknown container with 404', async () => {
    const running = await runContainer(svc, { Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'none' } });
    const r1 = await svc.request('POST', `/libpod/containers/${running}/restore`);
    expect(r1.status).to.equal(500);
    expect(r1.json().message).to.equal(`container ${running} is running or paused, cannot restore: container state improper`);
    expect((await svc.request('POST', `/v1.40/containers/${running}/stop?t=0`)).status).to.equal(204);
    const r2 = await svc.request('POST', `/libpod/containers/${running}/restore`);
    expect(r2.status).to.equal(500);
    expect(r2.json().message).to.match(/^a complete checkpoint for this container cannot be found, cannot restore: stat .*inventory\.img: no such file or directory$/);
    expect((await inspect(svc, running)).State.Status).to.equal('exited');
    const r3 = await svc.request('POST', `/libpod/containers/${running}/checkpoint`);
    expect(r3.status).to.equal(500);
    expect(r3.json().message).to.equal('"exited" is not running, cannot checkpoint: container state improper');
    expect((await svc.request('POST', '/libpod/containers/no-such-ctr/checkpoint')).status).to.equal(404);
    expect((await svc.request('POST', '/libpod/containers/no-such-ctr/restore')).status).to.equal(404);
    await svc.request('DELETE', `/v1.40/containers/${running}`);
  });

  it('refuses an import that is no checkpoint export, and leaves nothing behind', async () => {
    const count = async () => (await svc.request('GET', '/v1.40/containers/json?all=1')).json().length;
    const before = await count();
    const garbage = await svc.request('POST', '/libpod/containers/x/restore?import=true', { body: Buffer.from('not a tar'.repeat(100)), headers: { 'Content-Type': 'application/x-tar' } });
    expect(garbage.status).to.equal(400);
    const noConfig = await svc.request('POST', '/libpod/containers/x/restore?import=true', { body: tar([{ name: 'hello.txt', content: 'hi' }]), headers: { 'Content-Type': 'application/x-tar' } });
    expect(noConfig.status).to.equal(400);
    expect(noConfig.json().message).to.match(/not a checkpoint export/);
    expect(await count()).to.equal(before);
    expect(readdirSync(join(svc.root, 'containers')).filter((f) => f.startsWith('import-'))).to.deep.equal([]);
  });

  it('an import whose restore fails removes the container it made', async () => {
    // An export as checkpoint?export=true writes it, with a checkpoint CRIU cannot restore.
    const src = await runContainer(svc, { Cmd: ['true'], HostConfig: { NetworkMode: 'none' } }, 'ckpt-src');
    const store = new ContainerStore(join(svc.root, 'containers', 'state.db'));
    const rec = store.get(src)!;
    store.close();
    const archive = tar([
      { name: 'config.dump', content: JSON.stringify({ tspodCheckpoint: 1, id: rec.id, name: rec.name, created: rec.created, spec: rec.spec }) },
      { name: 'checkpoint/', type: 'dir' },
      { name: 'checkpoint/inventory.img', content: 'not really CRIU' },
      { name: 'rootfs-diff.tar', content: tar([{ name: 'restored-file', content: 'x' }]) },
    ]);
    const count = async () => (await svc.request('GET', '/v1.40/containers/json?all=1')).json().length;
    const before = await count();
    // The same name and ID as a container that exists: conflict, nothing made.
    const same = await svc.request('POST', '/libpod/containers/x/restore?import=true', { body: archive, headers: { 'Content-Type': 'application/x-tar' } });
    expect(same.status, same.text).to.equal(409);
    const r = await svc.request('POST', '/libpod/containers/x/restore?import=true&name=ckpt-imported', { body: archive, headers: { 'Content-Type': 'application/x-tar' } });
    expect(r.status, r.text).to.equal(500);
    expect(r.json().message).to.match(/runc restore/);
    expect(await count()).to.equal(before);
    expect((await svc.request('GET', '/v1.40/containers/ckpt-imported/json')).status).to.equal(404);
    expect(readdirSync(join(svc.root, 'containers')).filter((f) => f.startsWith('import-'))).to.deep.equal([]);
    await svc.request('DELETE', `/v1.40/containers/${src}?force=1`);
  });
});
