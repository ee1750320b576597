// The volumes domain: Docker's `local` volume driver as Podman implements it.
//
// Storage: <root>/volumes/<name>/_data is a volume's content (its Mountpoint); the records and
// mount holds are in <root>/volumes.db (SQLite, WAL), safe to share with tspod's cleanup
// processes. Volumes with options (type/device/o: tmpfs, o=bind of a host directory, any
// mount(8) type) are mounted on _data by the first holder and unmounted when the last goes.
//
// ─── API for the containers domain ──────────────────────────────────────────────────────────
// `const volumes = openVolumeDomain(ctx)` (local-engine.ts does it once; pass `volumes` on):
//
// At container create (so inspect can name the volumes before the container starts):
//   volumes.volumeEnsure(name | undefined, { containerId, create? }) -> VolumeInspectReport
//     A name that does not exist is created (with create.{driver,labels,options}: Docker's
//     Mounts[].VolumeOptions); no name makes an anonymous volume (64-hex name) owned by
//     containerId. Invalid names/options throw invalid-argument before anything is made.
//
// At container start, for each volume mount (Binds "name:/dst", "/dst" anonymous, Mounts type
// volume, the image's Config.Volumes):
//   const m = await volumes.volumeMountForContainer(name | undefined, {
//     containerId,
//     imageContentDir: <destination resolved inside the rootfs>, // undefined if missing
//     nocopy,            // Docker VolumeOptions.NoCopy / "nocopy" bind option
//     chownTo,           // optional {uid, gid} of the container user (Podman's chown of a new volume)
//     destination,       // for the mount event
//   });
//   -> { name, source, anonymous, created, release() }: bind `source` into the container at
//   destination. The volume is mounted (if it has options) and, on its first container mount,
//   the image content is copied in when the volume is empty (ownership, modes, symlinks,
//   hardlinks, xattrs kept), then never again. Call it with the rootfs mounted.
//   m.release() when the container stops (idempotent; the last release unmounts).
//
// In a cleanup process (another tspod process, after conmon reports the exit), where no
// release() closure exists:
//   volumes.volumeRelease(name, containerId) or volumes.volumeReleaseAll(containerId)
//   Holds are persisted per container, so a release from any process is exact and idempotent,
//   and holds of a previous boot are dropped automatically.
//
// At container removal with v=1 / --rm (Docker and Podman remove only anonymous volumes):
//   volumes.volumeRemoveAnonymousOf(containerId) -> [{name, size, error?}]
//     Releases the container's holds, then removes its anonymous volumes that no other container
//     uses (those stay, as Docker and Podman keep them).
//
// In-use checks (remove answers 409, prune and `dangling` skip used volumes): register once
//   volumes.setUsage({ containersByVolume: () => Map<volumeName, containerIds[]>,
//                      removeContainers?: (ids) => Promise<void> })   // Libpod force removal
//   (or volumes.setVolumeUsageSource(() => Map) without removeContainers). Every container that
//   references a volume counts, running or not; containers holding a mount count anyway.
//
// Helper: copyUp(volumeDir, fromDir) is the copy used above. Events emitted: volume create, remove,
// prune, mount, unmount (attributes driver, container, destination).
// ─────────────────────────────────────────────────────────────────────────────────────────────
import type { DomainCounts, EngineContext } from '../context.js';
import type { VolumeInspectReport, VolumePruneReport, VolumesEngine } from './api.js';
import { tarDirectory, untarInto } from './archive.js';
import { compileVolumeFilters } from './filters.js';
import { contentSize, isMountPoint } from './host.js';
import { parseOptionsLenient, VolumeStore, type VolumeMount, type VolumeMountOptions, type VolumeUsage } from './volume-store.js';
import { randomBytes } from 'node:crypto';

export type { VolumesEngine } from './api.js';
export type { VolumeMount, VolumeMountOptions, VolumeUsage } from './volume-store.js';
export { copyUp } from './host.js';

export interface VolumeEnsureOptions {
  /** Owner of an anonymous volume (required when `name` is empty). */
  containerId?: string;
  create?: VolumeMountOptions['create'];
}

export interface VolumeDomain {
  engine: VolumesEngine;
  counts(): Promise<DomainCounts>;
  close(): Promise<void>;
  setUsage(usage: VolumeUsage): void;
  setVolumeUsageSource(containersByVolume: VolumeUsage['containersByVolume']): void;
  volumeEnsure(name: string | undefined, options: VolumeEnsureOptions): Promise<VolumeInspectReport>;
  volumeMountForContainer(name: string | undefined, options: VolumeMountOptions): Promise<VolumeMount>;
  volumeRelease(name: string, containerId: string): Promise<void>;
  /** Releases every hold of the container; returns the volumes released. */
  volumeReleaseAll(containerId: string): Promise<string[]>;
  volumeRemoveAnonymousOf(containerId: string): Promise<VolumePruneReport[]>;
  /** The volume's report, or undefined when it does not exist. */
  volumeLookup(name: string): VolumeInspectReport | undefined;
}

export function openVolumeDomain(ctx: EngineContext): VolumeDomain {
  const store = new VolumeStore(ctx);

  /** A temporary hold (export, import) released when `fn` settles. */
  async function withHold<T>(name: string, kind: string, fn: (dir: string) => Promise<T>): Promise<T> {
    const holder = `${kind}:${randomBytes(8).toString('hex')}`;
    await store.acquire(name, holder);
    try {
      return await fn(store.dataDir(name));
    } finally {
      await store.release(name, holder);
    }
  }

  const engine: VolumesEngine = {
    async volumeCreate(options) {
      const { record, created } = await store.create(options);
      return { volume: store.inspect(record.name), created };
    },

    async volumeList(options) {
      const records = store.db.all();
      const holders = store.db.holders();
      const users = await store.users();
      const match = compileVolumeFilters(options.filters ?? {}, 'list', { records, inUse: (n) => (users.get(n)?.size ?? 0) > 0 });
      const out: VolumeInspectReport[] = [];
      for (const rec of records) {
        if (!match(rec)) continue;
        const report = store.report(rec, holders.get(rec.name));
        if (options.usage) {
          const data = store.dataDir(rec.name);
          const unmounted = parseOptionsLenient(rec)?.mount !== undefined && !(await isMountPoint(data));
          report.usage = { size: unmounted ? -1 : await contentSize(data), refCount: users.get(rec.name)?.size ?? 0 };
        }
        out.push(report);
      }
      return out;
    },

    async volumeInspect(name) {
      return store.inspect(name);
    },

    async volumeExists(name) {
      return store.db.get(name) !== undefined;
    },

    volumeRemove: (name, options) => store.remove(name, options),

    volumePrune: (options) => store.prune(options.filters ?? {}),

    async volumeExport(name, signal) {
      store.get(name);
      const holder = `export:${randomBytes(8).toString('hex')}`;
      await store.acquire(name, holder);
      let done = false;
      const release = async () => {
        if (done) return;
        done = true;
        await store.release(name, holder);
      };
      const inner = tarDirectory(store.dataDir(name), signal);
      // Released when the stream ends, fails or is dropped, even before its first byte.
      signal?.addEventListener('abort', () => void inner.return(undefined).finally(release), { once: true });
      return {
        [Symbol.asyncIterator]: () => ({
          async next() {
            try {
              const r = await inner.next();
              if (r.done) await release();
              return r;
            } catch (e) {
              await release();
              throw e;
            }
          },
          async return() {
            await inner.return(undefined).catch(() => undefined);
            await release();
            return { done: true as const, value: undefined };
          },
        }),
      };
    },

    async volumeImport(name, tar, signal) {
      store.get(name);
      await withHold(name, 'import', (dir) => untarInto(dir, tar, signal));
    },
  };

  return {
    engine,
    async counts() {
      return { volumes: store.db.count() };
    },
    async close() {
      store.close();
    },
    setUsage: (usage) => store.setUsage(usage),
    setVolumeUsageSource: (containersByVolume) => store.setUsage({ containersByVolume }),
    async volumeEnsure(name, options) {
      if (!name && !options.containerId) throw new Error('volumeEnsure: an anonymous volume needs its containerId');
      if (name && store.db.get(name)) return store.inspect(name);
      const { record } = name
        ? await store.create({ ...options.create, name, ifExists: 'return' })
        : await store.create({ ...options.create }, options.containerId);
      return store.inspect(record.name);
    },
    volumeMountForContainer: (name, options) => store.mountForContainer(name, options),
    volumeRelease: (name, containerId) => store.releaseContainer(name, containerId),
    volumeReleaseAll: (containerId) => store.releaseAll(containerId),
    volumeRemoveAnonymousOf: (containerId) => store.removeAnonymousOf(containerId),
    volumeLookup(name) {
      return store.db.get(name) ? store.inspect(name) : undefined;
    },
  };
}
