// What happens when a container exits: the exit is claimed in the state database (the first
// process to move the container from running to exited owns its cleanup), the runtime state,
// network, volumes and rootfs are released, the `die` event is emitted, and then the restart
// policy or AutoRemove applies. The service and `tspod container cleanup` both run this.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { delay, pidAlive } from './locks.js';
import { isActive, type ContainerManager } from './manager.js';
import { formatTimeNano, nowRfc3339Nano, type ContainerRecord } from './types.js';

/** Whether the container was OOM-killed (its memory cgroup counted an OOM kill). */
async function wasOomKilled(m: ContainerManager, id: string): Promise<boolean> {
  const facts = await m.hostFacts();
  const file = facts.cgroupV2 ? `/sys/fs/cgroup/libpod_parent/libpod-${id}/memory.events` : `/sys/fs/cgroup/memory/libpod_parent/libpod-${id}/memory.oom_control`;
  try {
    const m = /oom_kill (\d+)/.exec(await fsp.readFile(file, 'utf8'));
    return !!m && Number(m[1]) > 0;
  } catch {
    return false;
  }
}

/**
 * Records the exit of container `id` if conmon reported one (or is gone), then cleans up
 * and applies the restart policy / AutoRemove. The caller holds the container's lock.
 */
export async function reapExit(m: ContainerManager, id: string, opts: { noRestart?: boolean } = {}): Promise<void> {
  const rec = m.fresh(id);
  if (!rec) return;
  if (!isActive(rec.state.status)) {
    // A cleanup that died half-way (its process is gone): finish it.
    if (rec.state.status === 'exited' && rec.state.cleanupPid && rec.state.cleanupPid !== process.pid && !pidAlive(rec.state.cleanupPid)) {
      const mine = m.store.mutate(id, (r) => (r.state.cleanupPid && !pidAlive(r.state.cleanupPid) ? { ...r, state: { ...r.state, cleanupPid: process.pid } } : undefined));
      if (mine?.state.cleanupPid === process.pid) await finishExit(m, mine, opts);
    } else if (rec.state.status === 'removing' && (!rec.state.cleanupPid || !pidAlive(rec.state.cleanupPid))) {
      await m.removeLocked(rec);
    }
    return;
  }
  let code = await m.rt.readExitCode(id);
  let finishedNs: bigint | undefined;
  if (code !== undefined) {
    finishedNs = await fsp.stat(m.rt.exitFilePath(id), { bigint: true }).then((s) => s.mtimeNs, () => undefined);
  } else {
    if (await m.rt.conmonPid(id, m.layout.bundle(id), rec.state.conmonPid)) return; // still running
    // conmon is gone without an exit file (killed, or the machine rebooted): its persisted copy?
    const persisted = path.join(m.layout.userdata(id), 'exit');
    const text = await fsp.readFile(persisted, 'utf8').catch(() => '');
    if (/^-?\d+/.test(text.trim())) {
      code = Number.parseInt(text.trim(), 10);
      finishedNs = await fsp.stat(persisted, { bigint: true }).then((s) => s.mtimeNs, () => undefined);
    } else code = -1;
  }
  const oomKilled = await wasOomKilled(m, id);
  const finishedAt = finishedNs ? formatTimeNano(finishedNs) : nowRfc3339Nano();
  const claimed = m.store.mutate(id, (r) => {
    if (!isActive(r.state.status)) return undefined;
    if (r.state.cleanupPid && r.state.cleanupPid !== process.pid && pidAlive(r.state.cleanupPid)) return undefined;
    // The network facts go with the exit (inspect of an exited container shows none), whenever its teardown happens.
    const { net: _net, ...state } = r.state;
    void _net;
    return { ...r, state: { ...state, status: 'exited', exitCode: code!, finishedAt, pid: 0, oomKilled, cleanupPid: process.pid } };
  });
  if (!claimed || claimed.state.status !== 'exited' || claimed.state.cleanupPid !== process.pid) return;
  m.notify(id);
  await finishExit(m, claimed, opts);
}

function restartWanted(rec: ContainerRecord): boolean {
  const p = rec.spec.restartPolicy;
  if (rec.state.stoppedByUser) return false;
  switch (p.name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return rec.state.exitCode !== 0 && (p.maxRetries === 0 || rec.state.restartCount < p.maxRetries);
    default:
      return false;
  }
}

/** After the exit was claimed: runtime teardown, unmount, events, restart or AutoRemove. */
async function finishExit(m: ContainerManager, rec: ContainerRecord, opts: { noRestart?: boolean }): Promise<void> {
  const id = rec.id;
  // Runtime state, network and volumes, rootfs: independent of each other once the container is dead.
  await Promise.all([
    m.rt.cleanup(id, { bundle: m.layout.bundle(id), conmonPid: rec.state.conmonPid || undefined, conmonGraceMs: 500 }).catch((err: unknown) => {
      m.warn(`cleaning up the runtime of ${id}: ${(err as Error).message}`);
    }),
    m.resources.release(id, { background: true }),
    m.releaseRootfs(id, false),
  ]);
  // Exec sessions end with the container (as Docker and Podman forget them).
  for (const ex of m.store.execsOf(id)) await fsp.rm(m.layout.execBundle(ex.id), { recursive: true, force: true }).catch(() => {});
  m.store.removeExecsOf(id);
  await m.emit('die', rec, { exitCode: String(rec.state.exitCode) });
  m.notify(id);
  if (!opts.noRestart && restartWanted(rec)) {
    // The claim (cleanupPid) is kept until the container runs again: nobody else acts on it meanwhile.
    const next = m.store.mutate(id, (r) => ({ ...r, state: { ...r.state, restartCount: r.state.restartCount + 1 } }))!;
    try {
      await delay(Math.min(100 * 2 ** Math.min(next.state.restartCount - 1, 10), 10_000));
      const cur = m.fresh(id);
      if (!cur || cur.state.status !== 'exited' || cur.state.stoppedByUser) return;
      await m.startLocked(cur);
      await m.emit('restart', cur);
    } catch (err) {
      m.warn(`restarting container ${id}: ${(err as Error).message}`);
    } finally {
      if (m.fresh(id)?.state.cleanupPid === process.pid) m.store.patchState(id, { cleanupPid: 0 });
    }
    return;
  }
  if (rec.spec.autoRemove) {
    await m.removeLocked(m.fresh(id) ?? rec, { volumes: true });
    return;
  }
  m.store.patchState(id, { cleanupPid: 0 });
  await m.emit('cleanup', rec);
  m.notify(id);
}
