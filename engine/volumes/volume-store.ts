// The local volume store: records in VolumeDb, content under <root>/volumes/<name>/_data, mounts
// of volumes with options held by containers (and exports/imports) and counted, copy-up of
// image content on a volume's first container mount, and the events of each change.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EngineContext } from '../context.js';
import { EngineError } from '../errors.js';
import { eventClockNs } from '../events/time.js';
import type { VolumeCreateOptions, VolumeInspectReport, VolumePruneReport, VolumeRemoveOptions } from './api.js';
import { VolumeDb, type Holder, type VolumeRecord } from './db.js';
import { compileVolumeFilters } from './filters.js';
import { contentSize, copyUp, isEmptyDir, isMountPoint, mountsUnder, mountVolume, unmountVolume } from './host.js';
import { checkVolumeName, parseLocalOptions } from './options.js';

/** How the containers domain tells which containers use which volumes. */
export interface VolumeUsage {
  /** Volume name -> IDs of the containers (running or not) that use it. Only used volumes need an entry. */
  containersByVolume(): Map<string, string[]> | Promise<Map<string, string[]>>;
  /** Removes containers, for a forced (Libpod) volume removal; without it, a used volume is never removed. */
  removeContainers?(ids: string[]): Promise<void>;
}

export interface VolumeMountOptions {
  /** The container that holds the mount until release() (or volumeReleaseAll(containerId)). */
  containerId: string;
  /**
   * Host path of the image's content at the mount destination (resolved inside the rootfs).
   * On the volume's first container mount, when the volume is empty, it is copied in.
   */
  imageContentDir?: string;
  /** Never copy image content in (Docker `nocopy`, Podman `nocopy`). */
  nocopy?: boolean;
  /** The container's user: owner of a new, empty volume on its first mount (Podman's chown). */
  chownTo?: { uid: number; gid: number };
  /** For the mount event. */
  destination?: string;
  /** Options of a named volume created by this mount when it does not exist (Docker VolumeOptions). */
  create?: { driver?: string; labels?: Record<string, string>; options?: Record<string, string> };
}

export interface VolumeMount {
  name: string;
  /** Host directory to bind into the container. */
  source: string;
  anonymous: boolean;
  /** This call created the volume. */
  created: boolean;
  /** Drops this mount hold; the last one unmounts a volume with options. Idempotent. */
  release(): Promise<void>;
}

const NS_PER_MS = 1_000_000n;
const containerHolder = (id: string) => `container:${id}`;
const TRASH_PREFIX = '.removing-';

function rfc3339Nano(ns: bigint): string {
  const iso = new Date(Number(ns / NS_PER_MS)).toISOString();
  return `${iso.slice(0, 19)}.${String(ns % 1_000_000_000n).padStart(9, '0')}Z`;
}

const noSuchVolume = (name: string) => new EngineError('not-found', `no volume with name ${JSON.stringify(name)} found: no such volume`, undefined, 'no such volume');

export class VolumeStore {
  readonly dir: string;
  private dbHandle: VolumeDb | undefined;
  private usage: VolumeUsage | undefined;
  private readonly copyLocks = new Map<string, Promise<unknown>>();

  constructor(private readonly ctx: EngineContext) {
    this.dir = path.join(ctx.root, 'volumes');
  }

  /** Opened on first use: the service's start does not pay for it. */
  get db(): VolumeDb {
    if (!this.dbHandle) {
      this.dbHandle = VolumeDb.open(path.join(this.ctx.root, 'volumes.db'));
      void this.removeTrash();
    }
    return this.dbHandle;
  }

  setUsage(usage: VolumeUsage): void {
    this.usage = usage;
  }

  dataDir(name: string): string {
    return path.join(this.dir, name, '_data');
  }

  private emit(action: string, name: string, attributes: Record<string, string> = {}): Promise<unknown> {
    return this.ctx.events.append({ type: 'volume', action, id: name, name, attributes: { driver: 'local', ...attributes } });
  }

  get(name: string): VolumeRecord {
    const rec = this.db.get(name);
    if (!rec) throw noSuchVolume(name);
    return rec;
  }

  /** Containers that use each volume: the containers domain's view plus current container mounts. */
  async users(): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    const add = (volume: string, id: string) => {
      let s = out.get(volume);
      if (!s) out.set(volume, (s = new Set()));
      s.add(id);
    };
    for (const [volume, ids] of (await this.usage?.containersByVolume()) ?? new Map<string, string[]>()) for (const id of ids) add(volume, id);
    for (const [volume, holders] of this.db.holders()) {
      for (const h of holders) if (h.holder.startsWith('container:')) add(volume, h.holder.slice('container:'.length));
    }
    return out;
  }

  report(rec: VolumeRecord, holders: Holder[] = []): VolumeInspectReport {
    return {
      name: rec.name,
      driver: rec.driver,
      mountpoint: this.dataDir(rec.name),
      createdAt: rec.created,
      scope: 'local',
      labels: rec.labels,
      options: rec.options,
      uid: rec.uid,
      gid: rec.gid,
      anonymous: rec.anonymous,
      mountCount: holders.reduce((n, h) => n + h.count, 0),
      needsCopyUp: rec.needsCopyUp,
      needsChown: rec.needsChown,
      lockNumber: rec.lockNumber,
    };
  }

  inspect(name: string): VolumeInspectReport {
    return this.report(this.get(name), this.db.holders().get(name));
  }

  /** Creates a volume; checks everything first, so a refused volume leaves nothing behind. */
  async create(opts: VolumeCreateOptions, anonymousFor?: string): Promise<{ record: VolumeRecord; created: boolean }> {
    const driver = opts.driver || 'local';
    if (driver !== 'local') throw new EngineError('invalid-argument', `volume driver ${JSON.stringify(driver)} is not available: tspod has only the "local" driver`);
    const name = opts.name || randomBytes(32).toString('hex');
    checkVolumeName(name);
    const options = { ...opts.options };
    const labels = { ...opts.labels };
    for (const k of Object.keys(labels)) if (k === '') throw new EngineError('invalid-argument', 'invalid volume label: empty key');
    const parsed = parseLocalOptions(options);
    const volDir = path.join(this.dir, name);
    let made = false;
    try {
      const result = await this.db.write(async (tx) => {
        const existing = tx.get(name);
        if (existing) {
          if (opts.ifExists !== 'return') {
            throw new EngineError('conflict', `volume with name ${name} already exists: volume already exists`, undefined, 'volume already exists');
          }
          if (existing.driver !== driver) {
            throw new EngineError('conflict', `driver '${existing.driver}' already has volume '${name}': volume name must be unique`);
          }
          return { record: existing, created: false };
        }
        await this.clearLeftover(volDir);
        fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        fs.mkdirSync(volDir, { mode: 0o700 });
        made = true;
        fs.mkdirSync(path.join(volDir, '_data'), { mode: 0o755 });
        if (parsed.uid !== 0 || parsed.gid !== 0) fs.chownSync(path.join(volDir, '_data'), parsed.uid, parsed.gid);
        const ns = eventClockNs();
        const record: VolumeRecord = {
          name,
          driver,
          labels,
          options,
          created: rfc3339Nano(ns),
          createdNs: String(ns),
          anonymous: anonymousFor !== undefined,
          ...(anonymousFor !== undefined ? { owner: anonymousFor } : {}),
          uid: parsed.uid,
          gid: parsed.gid,
          needsCopyUp: !parsed.nocopy,
          needsChown: !parsed.ownerFixed && parsed.mount === undefined,
          lockNumber: tx.nextLockNumber(),
        };
        tx.put(record);
        return { record, created: true };
      });
      if (result.created) await this.emit('create', name);
      return result;
    } catch (e) {
      if (made) fs.rmSync(volDir, { recursive: true, force: true });
      throw e;
    }
  }

  /** A volume directory without a record (a crash between steps): thrown away unless something is mounted in it. */
  private async clearLeftover(volDir: string): Promise<void> {
    if (!fs.existsSync(volDir)) return;
    const mounts = await mountsUnder(volDir);
    if (mounts.length > 0) throw new EngineError('internal', `${volDir} has no volume record but ${mounts[0]} is mounted in it; unmount it first`);
    fs.rmSync(volDir, { recursive: true, force: true });
  }

  /** Removes a volume no container uses (`exceptUser`: a container on its way out, not counted). */
  async remove(name: string, opts: VolumeRemoveOptions, exceptUser?: string): Promise<void> {
    if (!this.db.get(name)) {
      if (opts.ignoreMissing) return;
      throw noSuchVolume(name);
    }
    const usersOf = async () => [...((await this.users()).get(name) ?? [])].filter((id) => id !== exceptUser);
    let users = await usersOf();
    if (users.length > 0 && opts.force && this.usage?.removeContainers) {
      await this.usage.removeContainers(users);
      users = await usersOf();
    }
    if (users.length > 0) {
      throw new EngineError('conflict', `volume ${name} is being used by the following container(s): ${users.join(', ')}: volume is being used`, undefined, 'volume is being used');
    }
    const trash = await this.db.write(async (tx) => {
      if (!tx.get(name)) {
        if (opts.ignoreMissing) return undefined;
        throw noSuchVolume(name);
      }
      const holders = tx.holders(name).filter((h) => h.holder !== (exceptUser && containerHolder(exceptUser)));
      if (holders.length > 0 && !opts.force) {
        throw new EngineError('conflict', `volume ${name} is being used (${holders.map((h) => h.holder).join(', ')}): volume is being used`, undefined, 'volume is being used');
      }
      const volDir = path.join(this.dir, name);
      const data = this.dataDir(name);
      if (await isMountPoint(data)) await unmountVolume(data);
      const left = await mountsUnder(volDir);
      if (left.length > 0) throw new EngineError('internal', `volume ${name} is still mounted at ${left[0]}: not removing it`);
      let moved: string | undefined;
      if (fs.existsSync(volDir)) {
        moved = path.join(this.dir, `${TRASH_PREFIX}${name}-${randomBytes(4).toString('hex')}`);
        fs.renameSync(volDir, moved);
      }
      tx.delete(name);
      return moved ?? '';
    });
    if (trash === undefined) return;
    if (trash) await fs.promises.rm(trash, { recursive: true, force: true });
    await this.emit('remove', name);
  }

  /** Directories of removals that did not finish (a crash between rename and delete). */
  private async removeTrash(): Promise<void> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (!n.startsWith(TRASH_PREFIX)) continue;
      const p = path.join(this.dir, n);
      if ((await mountsUnder(p)).length === 0) await fs.promises.rm(p, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  async prune(filters: Record<string, string[]>): Promise<VolumePruneReport[]> {
    const records = this.db.all();
    const users = await this.users();
    const match = compileVolumeFilters(filters, 'prune', { records, inUse: (n) => (users.get(n)?.size ?? 0) > 0 });
    const holders = this.db.holders();
    const reports: VolumePruneReport[] = [];
    for (const rec of records) {
      if (!match(rec) || (users.get(rec.name)?.size ?? 0) > 0 || holders.has(rec.name)) continue;
      const data = this.dataDir(rec.name);
      // A volume with options that is not mounted has nothing of its own on disk.
      const size = parseOptionsLenient(rec)?.mount && !(await isMountPoint(data)) ? 0 : await contentSize(data);
      try {
        await this.remove(rec.name, {});
        reports.push({ name: rec.name, size });
      } catch (e) {
        if (e instanceof EngineError && e.kind === 'not-found') continue;
        reports.push({ name: rec.name, size: 0, error: (e as Error).message });
      }
    }
    const reclaimed = reports.reduce((n, r) => n + (r.error ? 0 : r.size), 0);
    await this.ctx.events.append({ type: 'volume', action: 'prune', id: '', attributes: { reclaimed: String(reclaimed) } });
    return reports;
  }

  /** Adds a hold on the volume, mounting it first when it has options and is not mounted. */
  async acquire(name: string, holder: string): Promise<VolumeRecord> {
    return this.db.write(async (tx) => {
      const rec = tx.get(name);
      if (!rec) throw noSuchVolume(name);
      const plan = parseLocalOptions(rec.options).mount;
      const data = this.dataDir(name);
      if (plan && !(await isMountPoint(data))) await mountVolume(name, plan, data);
      tx.addHolder(name, holder);
      return rec;
    });
  }

  /** Drops one hold (every hold with `all`); the last one unmounts. False when `holder` held none. */
  async release(name: string, holder: string, all = false): Promise<boolean> {
    return this.db.write(async (tx) => {
      const left = tx.removeHolder(name, holder, all);
      if (left === undefined) return false;
      if (left === 0) {
        const data = this.dataDir(name);
        try {
          if (await isMountPoint(data)) await unmountVolume(data);
        } catch {
          // The hold is gone either way; a later release, removal or reboot unmounts it.
        }
      }
      return true;
    });
  }

  async releaseContainer(name: string, containerId: string): Promise<void> {
    if (await this.release(name, containerHolder(containerId))) await this.emit('unmount', name, { container: containerId });
  }

  async releaseAll(containerId: string): Promise<string[]> {
    const holder = containerHolder(containerId);
    const held = await this.db.write((tx) => tx.heldBy(holder));
    const released: string[] = [];
    for (const h of held) {
      if (await this.release(h.holder, holder, true)) {
        released.push(h.holder);
        await this.emit('unmount', h.holder, { container: containerId });
      }
    }
    return released;
  }

  async mountForContainer(nameOrAnon: string | undefined, opts: VolumeMountOptions): Promise<VolumeMount> {
    let name = nameOrAnon ?? '';
    let created = false;
    if (!name) {
      ({ record: { name }, created } = await this.create({}, opts.containerId));
    } else if (!this.db.get(name)) {
      ({ created } = await this.create({ ...opts.create, name, ifExists: 'return' }));
    }
    const holder = containerHolder(opts.containerId);
    const rec = await this.acquire(name, holder);
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await this.releaseContainer(name, opts.containerId);
    };
    try {
      if (rec.needsCopyUp || rec.needsChown) await this.firstUse(name, opts);
    } catch (e) {
      await release();
      throw e;
    }
    await this.emit('mount', name, { container: opts.containerId, ...(opts.destination ? { destination: opts.destination } : {}) });
    return { name, source: this.dataDir(name), anonymous: rec.anonymous, created, release };
  }

  /** Copy-up and chown of a volume's first container mount, once, under a per-volume lock. */
  private async firstUse(name: string, opts: VolumeMountOptions): Promise<void> {
    const prev = this.copyLocks.get(name) ?? Promise.resolve();
    const run = async () => {
      const rec = this.db.get(name);
      if (!rec) return;
      const data = this.dataDir(name);
      const update: Partial<VolumeRecord> = {};
      let copied = false;
      if (rec.needsCopyUp && !opts.nocopy) {
        update.needsCopyUp = false;
        const src = opts.imageContentDir;
        const st = src ? fs.lstatSync(src, { throwIfNoEntry: false }) : undefined;
        if (src && st?.isDirectory() && isEmptyDir(data)) {
          await copyUp(data, src);
          copied = true;
          if (parseOptionsLenient(rec)?.ownerFixed) {
            fs.chownSync(data, rec.uid, rec.gid); // o=uid=,gid= wins over the image directory's owner
          } else {
            update.uid = st.uid;
            update.gid = st.gid;
          }
        }
      }
      if (rec.needsChown) {
        update.needsChown = false;
        if (!copied && opts.chownTo && isEmptyDir(data)) {
          fs.chownSync(data, opts.chownTo.uid, opts.chownTo.gid);
          update.uid = opts.chownTo.uid;
          update.gid = opts.chownTo.gid;
        }
      }
      if (Object.keys(update).length === 0) return;
      await this.db.write((tx) => {
        const cur = tx.get(name);
        if (cur) tx.put({ ...cur, ...update });
      });
    };
    const p = prev.then(run, run);
    const tail = p.catch(() => undefined);
    this.copyLocks.set(name, tail);
    try {
      await p;
    } finally {
      if (this.copyLocks.get(name) === tail) this.copyLocks.delete(name);
    }
  }

  async removeAnonymousOf(containerId: string): Promise<VolumePruneReport[]> {
    await this.releaseAll(containerId);
    const users = await this.users();
    const reports: VolumePruneReport[] = [];
    for (const rec of this.db.all()) {
      if (!rec.anonymous || rec.owner !== containerId) continue;
      const others = [...(users.get(rec.name) ?? [])].filter((id) => id !== containerId);
      if (others.length > 0) continue; // still used (--volumes-from): kept, as Docker and Podman do
      try {
        const size = await contentSize(this.dataDir(rec.name));
        await this.remove(rec.name, {}, containerId);
        reports.push({ name: rec.name, size });
      } catch (e) {
        reports.push({ name: rec.name, size: 0, error: (e as Error).message });
      }
    }
    return reports;
  }

  close(): void {
    this.dbHandle?.close();
    this.dbHandle = undefined;
  }
}

/** The mount plan of a stored volume, or undefined when its options no longer check out. */
export function parseOptionsLenient(rec: VolumeRecord): ReturnType<typeof parseLocalOptions> | undefined {
  try {
    return parseLocalOptions(rec.options);
  } catch {
    return undefined;
  }
}
