// The container lifecycle on this host: create, init (conmon + runc create), start, stop, kill,
// pause, remove, and what happens when a container exits (the exit "reap": record the exit code,
// tear the runtime down, unmount, then apply the restart policy or AutoRemove).
//
// Two kinds of process run this code: the service, which watches conmon's exit directory and
// reaps exits itself, and `tspod container cleanup <id>`, the exit command conmon runs, which
// does the same when the service is not running. Which of them handles an exit is decided by a
// claim in the state database (store.mutate): the first to move the container from running to
// exited owns its cleanup; the others wait for it or find nothing to do.
import { EventEmitter } from 'node:events';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { containersConfDefaults, type ContainersConf } from '../config/containers-conf.js';
import { EngineError, notModified } from '../errors.js';
import type { EventLog } from '../events/event-log.js';
import type { ImageResolver } from '../images/types.js';
import type { NetworksDomain } from '../networks/domain.js';
import type { PerNetworkRequest } from '../networks/types.js';
import type { VolumeDomain } from '../volumes/index.js';
import { ConmonRuntime, type ConmonCreateOptions } from '../oci/conmon.js';
import { loadOciHostFacts } from '../oci/host.js';
import { Runc } from '../oci/runc.js';
import { buildRuntimeSpec, type OciHostFacts } from '../oci/runtime-spec.js';
import { isMountPoint } from '../storage/overlay.js';
import type { ContainerCreateOptions } from './create-options.js';
import { Layout } from './layout.js';
import { delay, KeyedMutex, pidAlive } from './locks.js';
import { checkName, generateName, newId } from './names.js';
import { ociConfigFor } from './oci-config.js';
import { signalName, signalNumber } from './parse.js';
import { containerHostname, mountRootfs, prepareContainerDirs, resolveUser, unmountRootfs, writeEtcFiles } from './rootfs.js';
import { reapExit } from './exits.js';
import { RunResources } from './run-resources.js';
import { resolveSecrets, secretEnv, writeSecretFiles, type SecretSource } from './secrets.js';
import { ExitWatcher } from './watch.js';
import { buildContainerSpec } from './spec.js';
import { ContainerStore } from './store.js';
import { initialState, nowRfc3339Nano, type ContainerRecord, type ContainerSpec, type ContainerStatus } from './types.js';

/** States in which conmon monitors the container. */
export const ACTIVE: readonly ContainerStatus[] = ['initialized', 'running', 'paused', 'stopping'];
export const isActive = (s: ContainerStatus) => ACTIVE.includes(s);
const isRunning = (s: ContainerStatus) => s === 'running' || s === 'paused' || s === 'stopping';

export interface ManagerOptions {
  root: string;
  runroot: string;
  events: EventLog;
  conf?: ContainersConf;
  images?: ImageResolver;
  /** Bridge networks, port publishing, DNS (without it: own namespace, loopback only). */
  networks?: NetworksDomain;
  /** Named and anonymous volumes (without it, volume mounts are refused). */
  volumes?: VolumeDomain;
  /** Secrets (without it, containers using secrets are refused). */
  secrets?: SecretSource;
  /** The service (watches exits, answers waits); false in the cleanup command. */
  service: boolean;
  /** Where warnings go (default: stderr). */
  warn?: (msg: string) => void;
}

/** Finds bin/tspod.js from this module's location (dist/engine/containers or dist/bundle). */
function tspodEntry(): string {
  if (process.env.TSPOD_ENTRY) return process.env.TSPOD_ENTRY;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'bin', 'tspod.js');
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return process.argv[1] ?? 'tspod';
}

// The exit command: skip starting a cleanup process when the service (which reaps exits
// itself) is up; otherwise run `tspod container cleanup <id>`.
const EXIT_SCRIPT =
  'p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] && tr "\\000" " " < /proc/"$p"/cmdline 2>/dev/null | grep -q "system service" && exit 0; shift; exec "$@"';

export class ContainerManager {
  readonly layout: Layout;
  readonly store: ContainerStore;
  readonly runc: Runc;
  readonly rt: ConmonRuntime;
  readonly events: EventLog;
  readonly images?: ImageResolver;
  readonly networks?: NetworksDomain;
  readonly volumes?: VolumeDomain;
  readonly secrets?: SecretSource;
  readonly conf?: ContainersConf;
  readonly service: boolean;
  readonly mutex = new KeyedMutex();
  private readonly changes = new EventEmitter();
  private facts?: Promise<OciHostFacts>;
  /** Exit codes of containers removed by this process, for wait(removed). */
  private readonly removedExit = new Map<string, number>();
  /** Temporary rootfs users (archive, export) by container. */
  private readonly tempMounts = new Map<string, number>();
  readonly resources: RunResources;
  private watcher?: ExitWatcher;
  private closed = false;
  readonly warn: (msg: string) => void;

  private constructor(opts: ManagerOptions) {
    this.layout = new Layout(opts.root, opts.runroot);
    this.events = opts.events;
    this.images = opts.images;
    this.networks = opts.networks;
    this.volumes = opts.volumes;
    this.secrets = opts.secrets;
    this.conf = opts.conf;
    this.service = opts.service;
    this.warn = opts.warn ?? ((m) => process.stderr.write(`tspod: ${m}\n`));
    this.runc = new Runc({ root: this.layout.runcRoot });
    const conmonPath = opts.conf?.engine.conmonPath?.find((p) => existsSync(p));
    this.rt = new ConmonRuntime({ runc: this.runc, exitDir: this.layout.exitDir, socketDir: this.layout.socketDir, ...(conmonPath ? { conmonPath } : {}) });
    this.store = new ContainerStore(this.layout.dbFile);
    this.resources = new RunResources(this.store, opts.networks, opts.volumes, opts.service, (r) => this.lookup(r), (id) => this.fresh(id), this.warn);
    this.changes.setMaxListeners(0);
  }

  static async open(opts: ManagerOptions): Promise<ContainerManager> {
    const l = new Layout(opts.root, opts.runroot);
    await fsp.mkdir(l.containersDir, { recursive: true, mode: 0o700 });
    await fsp.mkdir(path.dirname(l.servicePidFile), { recursive: true, mode: 0o700 });
    await fsp.mkdir(l.execRoot, { recursive: true, mode: 0o700 });
    const m = new ContainerManager(opts);
    await m.rt.init();
    return m;
  }

  hostFacts(): Promise<OciHostFacts> {
    return (this.facts ??= loadOciHostFacts());
  }

  // ---------------------------------------------------------------------------------------
  // Lookup and notifications

  /** The container named `ref` as the database has it now. */
  lookup(ref: string): ContainerRecord {
    this.store.refresh();
    return this.store.lookup(ref);
  }

  /** The current record of `id` (undefined once removed). */
  fresh(id: string): ContainerRecord | undefined {
    this.store.refresh();
    return this.store.get(id);
  }

  notify(id: string): void {
    this.changes.emit('change', id);
  }

  /** Resolves on the next change of `id` (or any, for '*'), after `pollMs`, or on abort. */
  changed(id: string, pollMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.changes.off('change', on);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const on = (changed: string) => {
        if (id === '*' || changed === id) done();
      };
      const timer = setTimeout(done, pollMs);
      this.changes.on('change', on);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  async emit(action: string, rec: ContainerRecord, attributes: Record<string, string> = {}): Promise<void> {
    try {
      await this.events.append({
        type: 'container',
        action,
        id: rec.id,
        name: rec.name,
        image: rec.spec.image,
        attributes: { ...rec.spec.labels, ...attributes },
      });
    } catch (err) {
      this.warn(`cannot record the ${action} event of ${rec.id}: ${(err as Error).message}`);
    }
  }

  /** Runs `fn` holding the container's lock, after any other process's cleanup of it is done. */
  async locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(id, async () => {
      await this.awaitForeignCleanup(id);
      return fn();
    });
  }

  private async awaitForeignCleanup(id: string): Promise<void> {
    for (let i = 0; ; i++) {
      const rec = this.fresh(id);
      const pid = rec?.state.cleanupPid ?? 0;
      if (!pid || pid === process.pid || !pidAlive(pid)) return;
      if (i > 3000) throw new EngineError('conflict', `container ${id} is being cleaned up by process ${pid}`);
      await delay(20);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Create

  async create(o: ContainerCreateOptions): Promise<{ id: string; warnings: string[] }> {
    if (!this.images) throw new EngineError('unavailable', 'no image store is configured');
    const image = await this.images.resolveImage(o.image);
    this.store.refresh();
    const name = o.name ? checkName(o.name) : generateName((n) => this.store.idOfName(n) !== undefined);
    if (o.name && this.store.idOfName(name)) {
      throw new EngineError('conflict', `creating container storage: the container name "${name}" is already in use by ${this.store.idOfName(name)}. You have to remove that container to be able to reuse that name: that name is already in use`, undefined, 'that name is already in use');
    }
    for (const ns of [o.netns, o.pidns, o.ipcns, o.utsns]) {
      if (ns.mode === 'container') this.lookup(ns.id);
    }
    const spec = { ...buildContainerSpec(o, image, this.images.lowerDirs(image)), ...resolveSecrets(o, this.secrets) };
    this.applyConfDefaults(spec);
    if (!spec.entrypoint.length && !spec.cmd.length) throw new EngineError('invalid-argument', 'no command or entrypoint provided, and no CMD or ENTRYPOINT from image');
    // The image's VOLUMEs not covered by a mount become anonymous volumes (as Docker and Podman).
    for (const dest of Object.keys(spec.volumes)) {
      const d = path.posix.normalize(dest);
      if (!spec.mounts.some((m) => m.destination === d)) spec.mounts.push({ type: 'volume', source: '', destination: d, readonly: false, options: [], origin: 'binds', anonymous: true });
    }
    if (spec.mounts.some((m) => m.type === 'volume') && !this.volumes) throw new EngineError('not-implemented', 'volume mounts need the volumes domain');
    // Networks are named as the networks domain knows them ("bridge" is the default network).
    if (this.networks && spec.netns.mode === 'private' && spec.networkRequests) {
      const reqs = Object.keys(spec.networkRequests).length ? spec.networkRequests : { bridge: {} };
      const resolved: Record<string, PerNetworkRequest> = {};
      for (const [n, r] of Object.entries(reqs)) resolved[(await this.networks.resolveNetwork(n)).name] = r;
      spec.networkRequests = resolved;
      spec.networks = Object.keys(resolved);
    }
    return this.insertNew(spec, name, newId());
  }

  /**
   * Stores a new container of `spec` (create, and restore from an imported checkpoint): checks
   * that the runtime spec can be built, makes its directories and volumes, inserts the record.
   */
  async insertNew(spec: ContainerSpec, name: string, id: string): Promise<{ id: string; warnings: string[] }> {
    const rec: ContainerRecord = { id, name, created: nowRfc3339Nano(), spec, state: initialState() };
    // Everything the runtime spec builder would refuse fails now, before anything exists.
    const facts = await this.hostFacts();
    const placeholders = new Map(spec.mounts.filter((m) => m.type === 'volume').map((m) => [m.destination, '/']));
    const dry = await ociConfigFor(this.layout, rec, { rootfs: this.layout.merged(id), user: { uid: 0, gid: 0, additionalGids: [], home: '/' }, hostname: 'dry-run', pidOf: () => 1, volumeSources: placeholders });
    buildRuntimeSpec(dry, facts);
    await prepareContainerDirs(this.layout, id, spec.lowerDirs.length === 0);
    try {
      await writeSecretFiles(this.layout, id, spec, this.secrets);
      for (const m of spec.mounts) {
        if (m.type !== 'volume') continue;
        const v = await this.volumes!.volumeEnsure(m.source || undefined, { containerId: id, ...(m.volumeCreate ? { create: m.volumeCreate } : {}) });
        m.source = v.name;
        m.anonymous = v.anonymous;
        m.volumeMountpoint = v.mountpoint;
      }
      this.store.insert(rec);
    } catch (err) {
      if (this.volumes && spec.mounts.some((m) => m.type === 'volume')) await this.volumes.volumeRemoveAnonymousOf(id).catch(() => {});
      await fsp.rm(this.layout.dir(id), { recursive: true, force: true });
      throw err;
    }
    await this.emit('create', rec);
    this.notify(id);
    return { id, warnings: [] };
  }

  /** containers.conf defaults the client did not override: default sysctls, pids limit. */
  private applyConfDefaults(spec: ContainerSpec): void {
    const c = this.conf?.containers ?? {};
    const sysctls = c.defaultSysctls ?? containersConfDefaults.containers.defaultSysctls;
    for (const kv of sysctls) {
      const eq = kv.indexOf('=');
      if (eq <= 0) continue;
      const key = kv.slice(0, eq);
      if (key in spec.sysctls) continue;
      // Namespaced sysctls only apply in the container's own namespace.
      if (key.startsWith('net.') && spec.netns.mode === 'host') continue;
      if ((key.startsWith('kernel.sem') || key.startsWith('kernel.shm') || key.startsWith('kernel.msg') || key.startsWith('fs.mqueue.')) && spec.ipcns.mode === 'host') continue;
      spec.sysctls[key] = kv.slice(eq + 1);
    }
    const pids = c.pidsLimit ?? containersConfDefaults.containers.pidsLimit;
    if (spec.resources.pidsLimit === undefined && pids > 0 && !spec.privileged) spec.resources.pidsLimit = pids;
  }

  // ---------------------------------------------------------------------------------------
  // Init and start

  private pidOf = (ref: string): number => {
    const other = this.lookup(ref);
    if (!isRunning(other.state.status) || !other.state.pid) throw new EngineError('conflict', `cannot join the namespaces of container ${other.name}: it is not running`);
    return other.state.pid;
  };

  private exitCommand(id: string): string[] {
    return [
      '/bin/sh', '-c', EXIT_SCRIPT, 'tspod-exit', this.layout.servicePidFile,
      process.execPath, tspodEntry(), '--root', this.layout.root, '--runroot', this.layout.runroot, 'container', 'cleanup', id,
    ];
  }

  /** Mounts the rootfs, writes the bundle and creates the container under conmon (not started). */
  async initLocked(rec: ContainerRecord, restore?: ConmonCreateOptions['restore']): Promise<ContainerRecord> {
    const id = rec.id;
    const bundle = this.layout.bundle(id);
    // The network comes in two stages: its namespace, which runc needs to create the container,
    // and netavark's setup, which the container needs only once it starts. So the rootfs and
    // volumes are mounted, and runc creates the container, while netavark works (or waits for
    // an earlier teardown on the same network).
    let namespaceReady!: (netnsPath: string) => void;
    const namespace = new Promise<string>((resolve) => (namespaceReady = resolve));
    const netP = this.resources.setupNetwork(rec, { namespaceReady });
    netP.catch(() => {});
    let created: Promise<{ pid: number; conmonPid: number }> | undefined;
    try {
      const rootfs = await mountRootfs(this.layout, rec);
      this.store.patchState(id, { mounted: true });
      const hostname = containerHostname(rec);
      const user = await resolveUser(rootfs, rec.spec.user, rec.spec.groupAdd);
      const volumeSources = await this.resources.mountVolumes(rec, rootfs, user);
      // The namespace (or the setup's failure, or undefined without a networks domain).
      const netnsPath = await Promise.race([namespace, netP.then((r) => r?.netnsPath)]);
      // /etc/hosts and resolv.conf must exist for runc to bind-mount them; the network's own
      // entries are written into the same files (same inodes) before the container starts.
      await writeEtcFiles(this.layout, rec, hostname);
      const env = await secretEnv(rec.spec, this.secrets);
      const cfg = await ociConfigFor(this.layout, rec, { rootfs, user, hostname, pidOf: this.pidOf, volumeSources, secretEnv: env, ...(netnsPath !== undefined ? { netnsPath } : {}) });
      const spec = buildRuntimeSpec(cfg, await this.hostFacts());
      await this.rt.writeBundle(bundle, spec);
      await fsp.rm(path.join(this.layout.userdata(id), 'exit'), { force: true });
      const s = rec.spec;
      created = this.rt.create({
        id,
        name: rec.name,
        bundle,
        logPath: this.layout.logPath(id),
        logSizeMax: s.logSizeMax || this.conf?.containers.logSizeMax || undefined,
        persistDir: this.layout.userdata(id),
        exitCommand: this.exitCommand(id),
        terminal: s.tty,
        stdin: s.openStdin,
        leaveStdinOpen: s.openStdin && !s.stdinOnce,
        timeout: s.timeout || undefined,
        ...(restore ? { restore } : {}),
      });
      const [c, n] = await Promise.allSettled([created, netP]);
      // A network failure first: it may be why runc failed (its namespace went away).
      if (n.status === 'rejected') throw n.reason;
      if (c.status === 'rejected') throw c.reason;
      const net = n.value;
      if (net) {
        this.store.patchState(id, { net: { status: net.status, ports: net.ports } });
        await writeEtcFiles(this.layout, rec, hostname, net);
      }
      const { pid, conmonPid } = c.value;
      const next = this.store.patchState(id, { status: 'initialized', pid, conmonPid, error: '', mounted: true })!;
      this.notify(id);
      return next;
    } catch (err) {
      // Nothing may still be under way when its leftovers are removed.
      await Promise.allSettled([netP, created]);
      await this.rt.cleanup(id, { bundle }).catch(() => {});
      await this.resources.release(id);
      await this.releaseRootfs(id, true);
      const message = err instanceof Error ? err.message : String(err);
      this.store.patchState(id, { error: message, exitCode: /not found|no such file/i.test(message) ? 127 : /permission denied/i.test(message) ? 126 : 128 });
      throw err;
    }
  }

  /**
   * Starts a created or initialized container (the caller holds its lock); with `restore`, the
   * runtime restores it from a checkpoint instead (running at once: no `runc start`).
   */
  async startLocked(rec: ContainerRecord, restore?: ConmonCreateOptions['restore']): Promise<ContainerRecord> {
    if (isRunning(rec.state.status)) throw notModified(`container ${rec.id} is already running`);
    if (rec.state.status === 'removing') throw new EngineError('conflict', `container ${rec.id} is being removed`);
    if (restore) rec = await this.initLocked(rec, restore);
    else if (rec.state.status !== 'initialized') rec = await this.initLocked(rec);
    try {
      if (!restore) await this.rt.start(rec.id);
    } catch (err) {
      await this.rt.cleanup(rec.id, { bundle: this.layout.bundle(rec.id) }).catch(() => {});
      await this.resources.release(rec.id);
      await this.releaseRootfs(rec.id, true);
      this.store.patchState(rec.id, { status: rec.state.runs ? 'exited' : 'created', pid: 0, conmonPid: 0, error: (err as Error).message, exitCode: 128 });
      this.notify(rec.id);
      throw err;
    }
    const next = this.store.mutate(rec.id, (r) => ({
      ...r,
      state: { ...r.state, status: 'running', startedAt: nowRfc3339Nano(), stoppedByUser: false, runs: r.state.runs + 1, exitCode: 0, error: '', oomKilled: false, ...(r.spec.healthcheck ? { health: { status: 'starting', failingStreak: 0, log: r.state.health?.log ?? [] } } : {}) },
    }))!;
    this.notify(rec.id);
    await this.emit(restore ? 'restore' : 'start', next);
    return next;
  }

  async start(ref: string): Promise<void> {
    const { id } = this.lookup(ref);
    await this.locked(id, async () => {
      const rec = this.mustGet(id);
      await this.startLocked(rec);
    });
  }

  /** Libpod init: runc create under conmon, not started. */
  async init(ref: string): Promise<void> {
    const { id } = this.lookup(ref);
    await this.locked(id, async () => {
      const rec = this.mustGet(id);
      if (rec.state.status !== 'created' && rec.state.status !== 'exited') throw notModified(`container ${id} has already been created in runtime`);
      await this.initLocked(rec);
      await this.emit('init', rec);
    });
  }

  mustGet(id: string): ContainerRecord {
    const rec = this.fresh(id);
    if (!rec) throw new EngineError('not-found', `no container with ID ${id} found: no such container`, undefined, 'no such container');
    return rec;
  }

  // ---------------------------------------------------------------------------------------
  // Signals: stop, kill, pause

  /** Waits until conmon recorded the exit (or is gone); false on timeout. */
  async waitForExit(rec: ContainerRecord, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      try {
        await this.rt.waitExit(rec.id, { timeoutMs: Math.min(left, 500), pollMs: 50 });
        return true;
      } catch {
        if (!(await this.rt.conmonPid(rec.id, this.layout.bundle(rec.id), rec.state.conmonPid))) return true;
      }
    }
  }

  async stopLocked(rec: ContainerRecord, timeoutSec?: number): Promise<void> {
    const id = rec.id;
    const wasPaused = rec.state.status === 'paused';
    rec = this.store.patchState(id, { stoppedByUser: true, status: 'stopping' })!;
    this.notify(id);
    const t = timeoutSec ?? rec.spec.stopTimeout;
    const sig = rec.spec.stopSignal;
    let exited = false;
    if (t > 0) {
      await this.runc.kill(id, sig).catch(() => {});
      if (wasPaused) await this.runc.resume(id).catch(() => {});
      await this.emit('kill', rec, { signal: String(sig) });
      exited = await this.waitForExit(rec, t * 1000);
    }
    if (!exited) {
      await this.runc.kill(id, 'KILL', { all: true }).catch(() => this.runc.kill(id, 'KILL').catch(() => {}));
      if (wasPaused) await this.runc.resume(id).catch(() => {});
      if (!(await this.waitForExit(rec, 15_000))) throw new EngineError('internal', `container ${id} did not exit after SIGKILL`);
    }
    await this.reapLocked(id, { noRestart: true });
  }

  async stop(ref: string, timeoutSec?: number): Promise<void> {
    const { id } = this.lookup(ref);
    await this.locked(id, async () => {
      const rec = this.mustGet(id);
      if (!isRunning(rec.state.status)) throw notModified(`container ${id} is already stopped`);
      await this.stopLocked(rec, timeoutSec);
      await this.emit('stop', this.fresh(id) ?? rec);
    });
  }

  async kill(ref: string, signal: string | number = 'SIGKILL'): Promise<void> {
    const sig = signalNumber('signal', signal);
    const { id } = this.lookup(ref);
    await this.locked(id, async () => {
      const rec = this.mustGet(id);
      if (!isRunning(rec.state.status)) {
        throw new EngineError('conflict', `can only kill running containers. ${id} is in state ${rec.state.status}: container state improper`, undefined, 'container state improper');
      }
      this.store.patchState(id, { stoppedByUser: true });
      try {
        await this.runc.kill(id, sig);
      } catch (err) {
        throw new EngineError('internal', `sending signal ${signalName(sig)} to container ${id}: ${(err as Error).message}`);
      }
      await this.emit('kill', rec, { signal: String(sig) });
    });
  }

  async restart(ref: string, timeoutSec?: number): Promise<void> {
    const { id } = this.lookup(ref);
    await this.locked(id, async () => {
      let rec = this.mustGet(id);
      if (isRunning(rec.state.status)) {
        await this.stopLocked(rec, timeoutSec);
        rec = this.mustGet(id);
      }
      await this.startLocked(rec);
      await this.emit('restart', rec);
    });
  }

  async pause(ref: string): Promise<void> {
    const { id } = this.lookup(ref);
    await this.locked(id, async () => {
      const rec = this.mustGet(id);
      if (rec.state.status === 'paused') throw new EngineError('conflict', `container ${id} is already paused: container state improper`, undefined, 'container state improper');
      if (rec.state.status !== 'running') throw new EngineError('conflict', `container ${id} is not running, can't pause: container state improper`, undefined, 'container state improper');
      await this.runc.pause(id);
      this.store.patchState(id, { status: 'paused' });
      this.notify(id);
      await this.emit('pause', rec);
    });
  }

  async unpause(ref: string): Promise<void> {
    const { id } = this.lookup(ref);
    await this.locked(id, async () => {
      const rec = this.mustGet(id);
      if (rec.state.status !== 'paused') throw new EngineError('conflict', `container ${id} is not paused, can't unpause: container state improper`, undefined, 'container state improper');
      await this.runc.resume(id);
      this.store.patchState(id, { status: 'running' });
      this.notify(id);
      await this.emit('unpause', rec);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Rootfs users

  /** Unmounts the rootfs unless someone still uses it (always with `force`). */
  async releaseRootfs(id: string, force: boolean): Promise<void> {
    const rec = this.fresh(id);
    if (!force && rec && (rec.state.userMounts > 0 || (this.tempMounts.get(id) ?? 0) > 0)) return;
    try {
      await unmountRootfs(this.layout, id);
    } catch (err) {
      this.warn(`unmounting the rootfs of ${id}: ${(err as Error).message}`);
      return;
    }
    if (rec?.state.mounted) this.store.patchState(id, { mounted: false });
  }

  /** Runs `fn` with the rootfs mounted (mounting it for the duration when the container is stopped). */
  async withRootfs<T>(ref: string, fn: (rootfs: string, rec: ContainerRecord) => Promise<T>): Promise<T> {
    const { id } = this.lookup(ref);
    const rec = await this.locked(id, async () => {
      const r = this.mustGet(id);
      if (r.state.status === 'removing') throw new EngineError('conflict', `container ${id} is being removed`);
      this.tempMounts.set(id, (this.tempMounts.get(id) ?? 0) + 1);
      try {
        await mountRootfs(this.layout, r);
      } catch (err) {
        this.tempMounts.set(id, (this.tempMounts.get(id) ?? 1) - 1);
        throw err;
      }
      return r;
    });
    try {
      return await fn(this.layout.merged(id), rec);
    } finally {
      await this.locked(id, async () => {
        const n = (this.tempMounts.get(id) ?? 1) - 1;
        if (n > 0) this.tempMounts.set(id, n);
        else this.tempMounts.delete(id);
        const cur = this.fresh(id);
        if (n <= 0 && cur && !isActive(cur.state.status) && cur.state.userMounts === 0 && cur.state.status !== 'removing') await this.releaseRootfs(id, false);
      }).catch(() => {});
    }
  }

  async mount(ref: string): Promise<string> {
    const { id } = this.lookup(ref);
    return this.locked(id, async () => {
      const rec = this.mustGet(id);
      const target = await mountRootfs(this.layout, rec);
      this.store.mutate(id, (r) => ({ ...r, state: { ...r.state, mounted: true, userMounts: r.state.userMounts + 1 } }));
      await this.emit('mount', rec);
      return target;
    });
  }

  async unmount(ref: string): Promise<void> {
    const { id } = this.lookup(ref);
    await this.locked(id, async () => {
      const rec = this.mustGet(id);
      const n = Math.max(0, rec.state.userMounts - 1);
      this.store.patchState(id, { userMounts: n });
      if (n === 0 && !isActive(rec.state.status) && !(this.tempMounts.get(id) ?? 0)) await this.releaseRootfs(id, false);
      await this.emit('unmount', rec);
    });
  }

  /** Mounted containers: ID -> mount point. */
  async showMounted(): Promise<Record<string, string>> {
    this.store.refresh();
    const out: Record<string, string> = {};
    for (const rec of this.store.list()) {
      if (rec.state.mounted && (await isMountPoint(this.layout.merged(rec.id)))) out[rec.id] = this.layout.merged(rec.id);
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------
  // Remove

  async removeLocked(rec: ContainerRecord, opts: { volumes?: boolean } = {}): Promise<void> {
    const id = rec.id;
    this.store.patchState(id, { status: 'removing', cleanupPid: process.pid });
    this.notify(id);
    for (const ex of this.store.execsOf(id)) {
      await fsp.rm(this.layout.execBundle(ex.id), { recursive: true, force: true });
    }
    // The runtime state is gone already when the exit was handled (no bundle left).
    if (isActive(rec.state.status) || existsSync(this.layout.bundle(id))) {
      await this.rt.cleanup(id, { bundle: this.layout.bundle(id), conmonGraceMs: 500 }).catch((err: unknown) => this.warn(`removing the runtime state of ${id}: ${(err as Error).message}`));
    }
    await this.resources.release(id);
    if (this.volumes && rec.spec.mounts.some((m) => m.type === 'volume')) {
      if (opts.volumes) await this.volumes.volumeRemoveAnonymousOf(id).catch((err: unknown) => this.warn(`removing the anonymous volumes of ${id}: ${(err as Error).message}`));
    }
    await unmountRootfs(this.layout, id).catch((err: unknown) => {
      throw new EngineError('internal', `removing container ${id}: ${(err as Error).message}`);
    });
    await fsp.rm(this.layout.dir(id), { recursive: true, force: true });
    this.store.remove(id);
    this.tempMounts.delete(id);
    this.removedExit.set(id, rec.state.exitCode);
    if (this.removedExit.size > 1000) this.removedExit.delete(this.removedExit.keys().next().value!);
    await this.emit('remove', rec);
    this.notify(id);
  }

  async remove(ref: string, opts: { force?: boolean; timeout?: number; volumes?: boolean } = {}): Promise<string> {
    const { id } = this.lookup(ref);
    await this.locked(id, async () => {
      const rec = this.fresh(id);
      if (!rec) return;
      if (isRunning(rec.state.status)) {
        if (!opts.force) {
          throw new EngineError('conflict', `cannot remove container ${id} as it is ${rec.state.status} - running or paused containers cannot be removed without force: container state improper`, undefined, 'container state improper');
        }
        await this.stopLocked(rec, opts.timeout ?? 0);
      } else if (rec.state.status === 'initialized') {
        await this.rt.cleanup(id, { bundle: this.layout.bundle(id), conmonGraceMs: 200 }).catch(() => {});
      }
      await this.removeLocked(this.fresh(id) ?? rec, { volumes: opts.volumes });
    });
    return id;
  }

  /** Exit code a removed container had (for wait(removed)), when this process removed it. */
  removedExitCode(id: string): number | undefined {
    return this.removedExit.get(id);
  }

  // ---------------------------------------------------------------------------------------
  // Exits and the service's watch

  /** Records the exit of `id` if it exited, then cleans up (see exits.ts). Hold its lock. */
  reapLocked(id: string, opts: { noRestart?: boolean } = {}): Promise<void> {
    return reapExit(this, id, opts);
  }

  /** Called once in the service: settles stale state, then watches exits (watch.ts). */
  async serve(): Promise<void> {
    this.watcher = new ExitWatcher(this);
    await this.watcher.serve();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.watcher?.close();
    await this.resources.close();
    this.store.close();
  }
}
