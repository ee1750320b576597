// The service's side of exits: at start, containers whose state went stale while no service
// ran are settled (exits recorded, starts and removes cut short undone, networks of containers
// that do not run torn down, leftovers without a record removed); then conmon's exit directory
// is watched and each exit reaped at once.
import { existsSync, promises as fsp, watch, type FSWatcher } from 'node:fs';
import { isMountPoint } from '../storage/overlay.js';
import { pidAlive } from './locks.js';
import { isActive, type ContainerManager } from './manager.js';
import { unmountRootfs } from './rootfs.js';

export class ExitWatcher {
  private watcher?: FSWatcher;
  private pollTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly m: ContainerManager) {}

  /**
   * Called once in the service: settles containers whose state is stale (exited, or left
   * half-done, while no service ran), then watches conmon's exit files.
   */
  async serve(): Promise<void> {
    await this.reconcile();
    try {
      this.watcher = watch(this.m.layout.exitDir, { persistent: false }, (_ev, name) => {
        if (name) this.onExitFile(String(name));
      });
      this.watcher.on('error', () => {});
    } catch (err) {
      this.m.warn(`cannot watch ${this.m.layout.exitDir}: ${(err as Error).message}`);
    }
    // A safety net for missed watch events.
    const poll = setInterval(() => void this.scanExits(), 2000);
    poll.unref();
    this.pollTimer = poll;
    await fsp.writeFile(this.m.layout.servicePidFile, `${process.pid}\n`);
    // Exits that happened between reconcile and the watch.
    await this.scanExits();
  }

  private onExitFile(name: string): void {
    if (this.closed || !/^[0-9a-f]{64}$/.test(name)) return;
    const rec = this.m.fresh(name);
    if (!rec || !isActive(rec.state.status)) return;
    void this.m.locked(name, () => this.m.reapLocked(name)).catch((err: unknown) => this.m.warn(`handling the exit of ${name}: ${(err as Error).message}`));
  }

  private async scanExits(): Promise<void> {
    if (this.closed) return;
    let names: string[];
    try {
      names = await fsp.readdir(this.m.layout.exitDir);
    } catch {
      return;
    }
    for (const n of names) this.onExitFile(n);
  }

  private async reconcile(): Promise<void> {
    this.m.store.refresh(true);
    const known = new Set<string>();
    const inRunc = new Set((await this.m.runc.list().catch(() => [])).map((st) => st.id));
    for (const rec of this.m.store.list()) {
      known.add(rec.id);
      await this.m.locked(rec.id, async () => {
        const cur = this.m.fresh(rec.id);
        if (!cur) return;
        if (isActive(cur.state.status) || cur.state.status === 'removing' || (cur.state.cleanupPid && !pidAlive(cur.state.cleanupPid))) {
          await this.m.reapLocked(cur.id);
        } else if (inRunc.has(cur.id) || existsSync(this.m.layout.bundle(cur.id))) {
          // A start cut short (the service died between runc create and recording it): undo it.
          await this.m.rt.cleanup(cur.id, { bundle: this.m.layout.bundle(cur.id), conmonGraceMs: 0 }).catch(() => {});
          await this.m.resources.release(cur.id);
        }
        const after = this.m.fresh(rec.id);
        if (after && !isActive(after.state.status) && after.state.userMounts === 0 && (await isMountPoint(this.m.layout.merged(after.id)))) {
          await this.m.releaseRootfs(after.id, false);
        }
      }).catch((err: unknown) => this.m.warn(`settling container ${rec.id}: ${(err as Error).message}`));
    }
    // Networks of containers that do not run: left by a service that died while tearing them
    // down, letting them linger, or setting them up for a start it did not finish.
    for (const id of (await this.m.networks?.containersWithNetwork().catch(() => [])) ?? []) {
      await this.m.locked(id, async () => {
        const cur = this.m.fresh(id);
        if (cur && isActive(cur.state.status)) return;
        await this.m.networks!.teardownContainerNetwork(id);
      }).catch((err: unknown) => this.m.warn(`tearing down the network of ${id}: ${(err as Error).message}`));
    }
    // Leftovers of creates and removes that were cut short: directories and runc state without a row.
    try {
      for (const name of await fsp.readdir(this.m.layout.containersDir)) {
        if (!/^[0-9a-f]{64}$/.test(name) || known.has(name)) continue;
        await unmountRootfs(this.m.layout, name).catch(() => {});
        await fsp.rm(this.m.layout.dir(name), { recursive: true, force: true });
      }
      for (const id of inRunc) {
        if (known.has(id)) continue;
        await this.m.rt.cleanup(id, { bundle: this.m.layout.bundle(id), conmonGraceMs: 0 }).catch(() => {});
      }
    } catch (err) {
      this.m.warn(`removing leftovers: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    if (this.pollTimer) clearInterval(this.pollTimer);
    await fsp.rm(this.m.layout.servicePidFile, { force: true }).catch(() => {});
  }
}
