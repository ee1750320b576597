// The containers domain: the ContainersEngine methods on a ContainerManager, the image usage
// the images domain asks about, /info counts, and the service's background work (exit
// watching, health checks).
import { promises as fsp } from 'node:fs';
import type { DomainCounts, EngineContext } from '../context.js';
import { EngineError } from '../errors.js';
import { attachContainer } from '../oci/attach.js';
import type { ImageCommitter, ImageResolver } from '../images/types.js';
import { createNetworksDomain, type NetworksDomain } from '../networks/index.js';
import { openVolumeDomain, type VolumeDomain } from '../volumes/index.js';
import { openSecretsDomain } from '../secrets/index.js';
import type { SecretSource } from './secrets.js';
import type { OciSpec } from '../oci/spec-types.js';
import type {
  ContainerCommitOptions,
  ContainerReport,
  ContainersEngine,
  ContainerUpdateOptions,
  OutputChunk,
  StdioSession,
} from './api.js';
import { archivePath, extractInto, statPath, tarRootfs } from './archive.js';
import { upperChanges } from './changes.js';
import { checkpointContainer, importAndRestore, restoreContainer } from './checkpoint.js';
import { commitContainer } from './commit.js';
import { execCreate, execInspect, execResize, execStart } from './exec.js';
import { runHealthcheck, startHealthTimer } from './health.js';
import { containerLogs } from './logs.js';
import { ContainerManager, isActive } from './manager.js';
import { checkName } from './names.js';
import { networkHooks } from './network-hooks.js';
import { parseRestartPolicy } from './parse.js';
import { compileListFilters, duBytes, selectContainers, toReport } from './report.js';
import { containerStats } from './stats.js';
import { parseDetachKeys, stdioSession } from './stdio.js';
import { containerTop } from './top.js';
import type { ContainerRecord } from './types.js';
import { parseEventTime } from '../events/time.js';
import { parseTimeNano } from './types.js';

export interface ContainersDomainDeps {
  images?: ImageResolver;
  commit?: ImageCommitter;
  networks?: NetworksDomain;
  volumes?: VolumeDomain;
  secrets?: SecretSource;
}

export interface ContainersDomain {
  engine: ContainersEngine;
  manager: ContainerManager;
  /** For the images domain: image ID -> IDs of the containers using it; forced removal. */
  usage: { containersByImage(): Map<string, string[]>; removeContainers(ids: string[]): Promise<void> };
  counts(): Promise<DomainCounts>;
  close(): Promise<void>;
}

export async function openContainersDomain(ctx: EngineContext, deps: ContainersDomainDeps = {}): Promise<ContainersDomain> {
  const m = await ContainerManager.open({ root: ctx.root, runroot: ctx.runroot, events: ctx.events, conf: ctx.conf, images: deps.images, networks: deps.networks, volumes: deps.volumes, secrets: deps.secrets, service: true });
  deps.networks?.setContainerHooks(networkHooks(m));
  deps.volumes?.setUsage({
    containersByVolume() {
      m.store.refresh();
      const map = new Map<string, string[]>();
      for (const rec of m.store.list()) {
        for (const mt of rec.spec.mounts) {
          if (mt.type !== 'volume' || !mt.source) continue;
          const list = map.get(mt.source);
          if (list) list.push(rec.id);
          else map.set(mt.source, [rec.id]);
        }
      }
      return map;
    },
    async removeContainers(ids) {
      for (const id of ids) await m.remove(id, { force: true });
    },
  });
  await m.serve();
  const stopHealth = startHealthTimer(m);

  const report = (rec: ContainerRecord): ContainerReport => toReport(m.layout, rec);

  async function inspect(ref: string, size = false): Promise<ContainerReport> {
    const rec = m.lookup(ref);
    const r = toReport(m.layout, rec, m.store.execsOf(rec.id).map((e) => e.id));
    if (isActive(rec.state.status)) {
      try {
        const spec = JSON.parse(await fsp.readFile(m.layout.configPath(rec.id), 'utf8')) as OciSpec;
        r.effectiveCaps = spec.process.capabilities.effective;
        r.boundingCaps = spec.process.capabilities.bounding;
        r.ociVersion = spec.ociVersion;
        r.cgroupPath = spec.linux.cgroupsPath;
      } catch {
        // between runs
      }
    }
    if (size) {
      r.sizeRw = await duBytes(m.layout.upper(rec.id));
      let lower = 0;
      for (const d of rec.spec.lowerDirs) lower += await duBytes(d);
      r.sizeRootFs = r.sizeRw + lower;
    }
    return r;
  }

  async function attach(ref: string, o: Parameters<ContainersEngine['containerAttach']>[1]): Promise<StdioSession> {
    const detachKeys = parseDetachKeys(o.detachKeys ?? m.conf?.engine.detachKeys ?? 'ctrl-p,ctrl-q');
    const rec0 = m.lookup(ref);
    const stream = o.stream ?? true;
    const want = { stdout: o.stdout ?? true, stderr: o.stderr ?? true };
    let before: AsyncIterable<OutputChunk> | undefined;
    if (o.logs) before = (await containerLogs(m, rec0.id, { ...want, follow: false }, new AbortController().signal)).lines;
    if (!stream) {
      // Logs only, or nothing at all (Docker's websocket attach allows that): Docker and Podman
      // record the attach all the same.
      await m.emit('attach', rec0);
      return stdioSession(undefined, { tty: rec0.spec.tty, stdin: false, ...want, detachKeys, before });
    }
    // Docker compatibility (as Podman): a created or exited container is initialized (conmon
    // and runc create, not started) so that the attach sees all output from its start.
    const prepare = () =>
      m.locked(rec0.id, async () => {
        const r = m.mustGet(rec0.id);
        if (r.state.status === 'removing') throw new EngineError('conflict', `container ${r.id} is being removed: container state improper`, undefined, 'container state improper');
        // As Docker (409) and Podman (state improper): nothing would flow until it is unpaused.
        if (r.state.status === 'paused') throw new EngineError('conflict', 'You cannot attach to a paused container, unpause it first', undefined, 'container state improper');
        if (r.state.status === 'created' || r.state.status === 'exited') return m.initLocked(r);
        return r;
      });
    let rec = await prepare();
    let relay;
    try {
      relay = await attachContainer(m.layout.bundle(rec.id));
    } catch (err) {
      // The process may have just exited, its exit not handled yet: conmon is gone with its
      // attach socket while the record still says running. Handle the exit, then attach to
      // the container initialized again, as Docker attaches to a just-exited container.
      if (!/ENOENT|ECONNREFUSED|No such file|Connection refused/i.test(String((err as Error).message))) throw err;
      await m.locked(rec.id, () => m.reapLocked(rec.id));
      rec = await prepare();
      relay = await attachContainer(m.layout.bundle(rec.id));
    }
    await m.emit('attach', rec);
    return stdioSession(relay, { tty: rec.spec.tty, stdin: !!o.stdin, ...want, detachKeys, before });
  }

  async function wait(ref: string, conditions: string[], signal: AbortSignal, opts: { intervalMs?: number; ready?: () => void } = {}) {
    const rec0 = m.lookup(ref);
    const id = rec0.id;
    const conds = conditions.length ? conditions : ['not-running'];
    const startFinished = rec0.state.finishedAt;
    const satisfied = (r: ContainerRecord | undefined): boolean => {
      for (const c of conds) {
        if (c === 'removed') {
          if (!r) return true;
          continue;
        }
        if (!r) return true;
        const s = r.state.status;
        switch (c) {
          case 'not-running':
            if (!isActive(s) || s === 'initialized') return true;
            break;
          case 'next-exit':
            if (!isActive(s) && r.state.finishedAt !== startFinished) return true;
            break;
          case 'stopped':
          case 'exited':
            if (s === 'exited') return true;
            break;
          case 'configured':
          case 'created':
            if (s === 'created' || s === 'initialized') return true;
            break;
          case 'running':
          case 'paused':
          case 'stopping':
          case 'removing':
            if (s === c) return true;
            break;
          case 'initialized':
            if (s === 'initialized') return true;
            break;
          case 'unknown':
            break;
          default:
            throw new EngineError('invalid-argument', `invalid condition "${c}"`, undefined, 'invalid argument');
        }
      }
      return false;
    };
    satisfied(rec0); // unknown conditions fail before anything is sent
    opts.ready?.();
    for (;;) {
      const cur = m.fresh(id);
      if (satisfied(cur)) {
        const exitCode = cur ? cur.state.exitCode : (m.removedExitCode(id) ?? rec0.state.exitCode);
        return { exitCode, ...(cur?.state.error ? { error: cur.state.error } : {}) };
      }
      if (signal.aborted) throw new EngineError('internal', 'wait aborted: the client went away');
      await m.changed(id, opts.intervalMs ?? 250, signal);
    }
  }

  async function update(ref: string, o: ContainerUpdateOptions): Promise<void> {
    const { id } = m.lookup(ref);
    await m.locked(id, async () => {
      const rec = m.mustGet(id);
      const resources = { ...rec.spec.resources, ...(o.resources ?? {}) };
      for (const k of Object.keys(resources) as (keyof typeof resources)[]) if (resources[k] === undefined) delete resources[k];
      const restartPolicy = o.restartPolicy ? parseRestartPolicy('RestartPolicy', o.restartPolicy.name, o.restartPolicy.maxRetries) : rec.spec.restartPolicy;
      if (restartPolicy.name !== 'no' && rec.spec.autoRemove) throw new EngineError('invalid-argument', 'invalid RestartPolicy: a restart policy cannot be set on a container with AutoRemove', undefined, 'invalid argument');
      if (rec.state.status === 'running' || rec.state.status === 'paused') {
        const r = resources;
        const oci: Record<string, unknown> = {};
        if (r.memory || r.memorySwap || r.memoryReservation) oci.memory = { ...(r.memory ? { limit: r.memory } : {}), ...(r.memoryReservation ? { reservation: r.memoryReservation } : {}), ...(r.memorySwap ? { swap: r.memorySwap } : {}) };
        const cpuQuota = r.nanoCpus ? Math.round((r.nanoCpus * 100_000) / 1e9) : r.cpuQuota;
        const cpuPeriod = r.nanoCpus ? 100_000 : r.cpuPeriod;
        const cpu = { ...(r.cpuShares ? { shares: r.cpuShares } : {}), ...(cpuQuota ? { quota: cpuQuota } : {}), ...(cpuPeriod ? { period: cpuPeriod } : {}), ...(r.cpusetCpus ? { cpus: r.cpusetCpus } : {}), ...(r.cpusetMems ? { mems: r.cpusetMems } : {}) };
        if (Object.keys(cpu).length) oci.cpu = cpu;
        if (r.pidsLimit) oci.pids = { limit: r.pidsLimit };
        if (r.blkioWeight) oci.blockIO = { weight: r.blkioWeight };
        if (Object.keys(oci).length) {
          try {
            await m.runc.update(id, oci);
          } catch (err) {
            throw new EngineError('internal', `updating container ${id}: ${(err as Error).message}`);
          }
        }
      }
      m.store.mutate(id, (r) => ({ ...r, spec: { ...r.spec, resources, restartPolicy } }));
      await m.emit('update', rec);
    });
  }

  async function exportRootfs(ref: string, signal: AbortSignal): Promise<AsyncIterable<Buffer>> {
    const rec = m.lookup(ref);
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    let ready!: (rootfs: string) => void;
    let failed!: (e: unknown) => void;
    const mounted = new Promise<string>((res, rej) => {
      ready = res;
      failed = rej;
    });
    const held = m.withRootfs(rec.id, async (rootfs) => {
      ready(rootfs);
      await done;
    }).catch((e: unknown) => failed(e));
    const rootfs = await mounted;
    await m.emit('export', rec);
    return (async function* () {
      try {
        yield* tarRootfs(rootfs, signal);
      } finally {
        // The answer ends once the rootfs is unmounted again (when it was mounted for this).
        release();
        await held;
      }
    })();
  }

  async function commit(ref: string, o: ContainerCommitOptions): Promise<{ id: string }> {
    if (!deps.commit) throw new EngineError('not-implemented', 'commit needs the image store');
    return commitContainer(m, deps.commit, ref, o);
  }

  const engine: ContainersEngine = {
    containerCreate: (o) => m.create(o),
    containerStart: (ref) => m.start(ref),
    async containerStop(ref, o = {}) {
      try {
        await m.stop(ref, o.timeout);
      } catch (err) {
        if (o.ignore && err instanceof EngineError && err.kind === 'not-found') return;
        throw err;
      }
    },
    containerKill: (ref, sig) => m.kill(ref, sig ?? 'SIGKILL'),
    containerRestart: (ref, o = {}) => m.restart(ref, o.timeout),
    containerPause: (ref) => m.pause(ref),
    containerUnpause: (ref) => m.unpause(ref),
    containerInit: (ref) => m.init(ref),
    containerWait: wait,
    async containerRemove(ref, o = {}) {
      try {
        const id = await m.remove(ref, { force: o.force, timeout: o.timeout, volumes: o.volumes });
        return { id };
      } catch (err) {
        if (o.ignore && err instanceof EngineError && err.kind === 'not-found') return { id: ref };
        throw err;
      }
    },
    async containerPrune(filters) {
      m.store.refresh();
      const until = filters.until?.map((u) => parseEventTime(u));
      const labels = Object.fromEntries(Object.entries(filters).filter(([k]) => k === 'label' || k === 'label!'));
      for (const k of Object.keys(filters)) if (!['until', 'label', 'label!'].includes(k)) throw new EngineError('invalid-argument', `invalid filter "${k}" for prune`, undefined, 'invalid argument');
      const pred = compileListFilters(labels, { resolve: (r) => m.lookup(r) });
      const deleted: string[] = [];
      let space = 0;
      for (const rec of m.store.list()) {
        if (isActive(rec.state.status) || rec.state.status === 'removing') continue;
        if (until && !until.every((t) => parseTimeNano(rec.created) <= t)) continue;
        if (!pred(rec)) continue;
        const size = await duBytes(m.layout.upper(rec.id));
        try {
          await m.remove(rec.id, {});
          deleted.push(rec.id);
          space += size;
        } catch {
          // started meanwhile
        }
      }
      return { deleted, spaceReclaimed: space };
    },
    async containerRename(ref, newName) {
      const name = checkName(newName);
      const { id } = m.lookup(ref);
      await m.locked(id, async () => {
        const rec = m.mustGet(id);
        if (rec.name === name) return;
        const taken = m.store.idOfName(name);
        if (taken && taken !== id) throw new EngineError('conflict', `the container name "${name}" is already in use by ${taken}: that name is already in use`, undefined, 'that name is already in use');
        const next = m.store.mutate(id, (r) => ({ ...r, name }))!;
        await m.emit('rename', next, { oldName: rec.name });
      });
    },
    containerUpdate: update,
    async containerResize(ref, size) {
      const rec = m.lookup(ref);
      if (!isActive(rec.state.status)) throw new EngineError('conflict', `container ${rec.id} is not running: container state improper`, undefined, 'container state improper');
      if (!rec.spec.tty) return;
      await m.rt.resize(m.layout.bundle(rec.id), size);
    },
    async containerList(o) {
      m.store.refresh();
      const pred = compileListFilters(o.filters ?? {}, { resolve: (r) => m.lookup(r) });
      const recs = selectContainers(m.store.list(), o, pred);
      const out = recs.map(report);
      if (o.size) {
        for (const r of out) {
          r.sizeRw = await duBytes(r.paths.upperDir);
          let lower = 0;
          for (const d of r.spec.lowerDirs) lower += await duBytes(d);
          r.sizeRootFs = r.sizeRw + lower;
        }
      }
      return out;
    },
    containerInspect: (ref, o = {}) => inspect(ref, o.size),
    async containerExists(ref) {
      try {
        m.lookup(ref);
        return true;
      } catch (err) {
        if (err instanceof EngineError && err.kind === 'not-found') return false;
        throw err;
      }
    },
    containerLogs: (ref, o, signal) => containerLogs(m, ref, o, signal),
    containerAttach: attach,
    containerTop: (ref, psArgs) => containerTop(m, ref, psArgs),
    containerStats: (refs, o, signal) => containerStats(m, refs, o, signal),
    async containerChanges(ref) {
      const rec = m.lookup(ref);
      return upperChanges(m.layout.upper(rec.id), rec.spec.lowerDirs);
    },
    containerExport: exportRootfs,
    containerArchiveStat: (ref, p) => m.withRootfs(ref, (rootfs) => statPath(rootfs, p)),
    async containerArchiveGet(ref, p, signal) {
      let release!: () => void;
      const done = new Promise<void>((r) => (release = r));
      let held: Promise<unknown> = Promise.resolve();
      const got = new Promise<Awaited<ReturnType<typeof archivePath>>>((resolve, reject) => {
        held = m.withRootfs(ref, async (rootfs) => {
          try {
            resolve(await archivePath(rootfs, p, signal));
          } catch (err) {
            reject(err);
            return;
          }
          await done;
        }).catch(reject);
      });
      let r;
      try {
        r = await got;
      } catch (err) {
        release();
        await held;
        throw err;
      }
      const { stat, tar } = r;
      return {
        stat,
        tar: (async function* () {
          try {
            yield* tar;
          } finally {
            release();
            await held;
          }
        })(),
      };
    },
    containerArchivePut: (ref, p, input, o) => m.withRootfs(ref, (rootfs) => extractInto(rootfs, p, input, o)),
    containerMount: (ref) => m.mount(ref),
    containerUnmount: (ref) => m.unmount(ref),
    containerShowMounted: () => m.showMounted(),
    containerHealthcheck: (ref) => runHealthcheck(m, ref),
    containerCommit: commit,
    containerCheckpoint: (ref, o) => checkpointContainer(m, ref, o),
    containerRestore: (ref, o) => (o.import ? importAndRestore(m, o.import, o) : restoreContainer(m, m.lookup(ref ?? '').id, o)),
    execCreate: (ref, o) => execCreate(m, ref, o),
    execStart: (id, o) => execStart(m, id, o),
    execInspect: (id) => execInspect(m, id),
    execResize: (id, size) => execResize(m, id, size),
  };

  return {
    engine,
    manager: m,
    usage: {
      containersByImage() {
        m.store.refresh();
        const map = new Map<string, string[]>();
        for (const rec of m.store.list()) {
          const list = map.get(rec.spec.imageId);
          if (list) list.push(rec.id);
          else map.set(rec.spec.imageId, [rec.id]);
        }
        return map;
      },
      async removeContainers(ids) {
        for (const id of ids) await m.remove(id, { force: true });
      },
    },
    async counts() {
      m.store.refresh();
      const c = { total: 0, running: 0, paused: 0, stopped: 0 };
      for (const rec of m.store.list()) {
        c.total++;
        if (rec.state.status === 'running' || rec.state.status === 'stopping') c.running++;
        else if (rec.state.status === 'paused') c.paused++;
        else c.stopped++;
      }
      return { containers: c };
    },
    async close() {
      stopHealth();
      await m.close();
    },
  };
}

/** `tspod container cleanup <id>`: what conmon's exit command runs when a container exits. */
export async function cleanupContainer(ctx: EngineContext, id: string): Promise<void> {
  const volumes = openVolumeDomain(ctx);
  // A restart policy may start the container again here: its env secrets are read then.
  const secrets = openSecretsDomain(ctx);
  const m = await ContainerManager.open({ root: ctx.root, runroot: ctx.runroot, events: ctx.events, conf: ctx.conf, networks: createNetworksDomain(ctx), volumes, secrets, service: false });
  try {
    m.store.refresh(true);
    if (!m.store.get(id)) return;
    await m.locked(id, () => m.reapLocked(id));
  } finally {
    await m.close();
    await volumes.close();
    await secrets.close();
  }
}

