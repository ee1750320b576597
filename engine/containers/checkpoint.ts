// Checkpoint and restore with CRIU, as libpod does it (container_internal_common.go checkpoint()
// and restore(), oci_conmon_common.go): `runc checkpoint --image-path <userdata>/checkpoint
// --work-path <userdata>` dumps the container (and, without leaveRunning, ends it: its exit is
// then handled as a stop, without restart policy); restore runs conmon with `--restore <dir>`,
// so that conmon calls `runc restore` instead of `runc create` and the container runs at once.
// A failed checkpoint or restore leaves the container as it was (still running, or still
// checkpointed), removes what the attempt wrote, and answers runc's message with CRIU's own
// errors from its log. Podman answers these failures, and state errors, with 500.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../errors.js';
import { criuLogErrors, runCommand, withCriuErrors } from '../oci/runc.js';
import { overlayDiffTar } from '../storage/layer-diff.js';
import type { ContainerCheckpointOptions, ContainerCheckpointReport, ContainerRestoreOptions, ContainerRestoreReport } from './api.js';
import { extractInto, tarHostPath } from './archive.js';
import { reapExit } from './exits.js';
import { isActive, type ContainerManager } from './manager.js';
import { TAR_END } from '../storage/tar-writer.js';
import { checkName, newId } from './names.js';
import { nowRfc3339Nano, type ContainerRecord, type ContainerSpec } from './types.js';
import { unpackLayer } from '../storage/layer-unpack.js';

/** libpod's criu.MinCriuVersion (3.16). */
const MIN_CRIU_VERSION = 31600;

/** Files of an export besides the checkpoint directory (Podman's names; the config is tspod's own). */
export const EXPORT_FILES = { config: 'config.dump', spec: 'spec.dump', network: 'network.status', rootfsDiff: 'rootfs-diff.tar' } as const;
const CRIU_FILES = ['dump.log', 'stats-dump'];

const stateImproper = (message: string) => new EngineError('internal', `${message}: container state improper`, undefined, 'container state improper');

/** CRIU's version as libpod compares it (3.17.1 → 31701); throws when CRIU is missing or too old. */
export async function checkCriu(): Promise<number> {
  let out = '';
  try {
    const r = await runCommand('criu', ['--version']);
    out = r.stdout;
  } catch (e) {
    throw new EngineError('internal', `failed to check for criu version: ${(e as Error).message}`, e, 'checkpoint/restore not supported');
  }
  const m = /Version:\s*(\d+)\.(\d+)(?:\.(\d+))?/.exec(out);
  if (!m) throw new EngineError('internal', `failed to check for criu version: unexpected output ${JSON.stringify(out.trim())}`, undefined, 'checkpoint/restore not supported');
  const v = Number(m[1]) * 10000 + Number(m[2]) * 100 + Number(m[3] ?? 0);
  if (v < MIN_CRIU_VERSION) throw new EngineError('internal', `checkpoint/restore requires at least CRIU ${MIN_CRIU_VERSION}, current version is ${v}`, undefined, 'checkpoint/restore not supported');
  return v;
}

/** How Podman names a state in its messages. */
function stateName(rec: ContainerRecord): string {
  const s = rec.state.status;
  if (s === 'initialized') return 'created';
  if (s === 'exited') return rec.state.runs > 0 ? 'exited' : 'created';
  return s;
}

async function removeQuietly(...paths: string[]): Promise<void> {
  for (const p of paths) await fsp.rm(p, { recursive: true, force: true }).catch(() => {});
}

export async function checkpointContainer(m: ContainerManager, ref: string, o: ContainerCheckpointOptions): Promise<ContainerCheckpointReport> {
  const { id } = m.lookup(ref);
  await checkCriu();
  const result = await m.locked(id, async () => {
    const rec = m.mustGet(id);
    if (rec.state.status !== 'running') throw stateImproper(`"${stateName(rec)}" is not running, cannot checkpoint`);
    if (rec.spec.autoRemove && !o.export) throw new EngineError('internal', "cannot checkpoint containers that have been started with '--rm' unless '--export' is used");
    const userdata = m.layout.userdata(id);
    const preDir = path.join(userdata, 'pre-checkpoint');
    if (o.withPrevious && !(await fsp.stat(preDir).then(() => true, () => false))) {
      throw new EngineError('internal', `${preDir}: no pre-checkpoint to build on: no such file or directory`, undefined, 'no such file or directory');
    }
    const imagePath = o.preCheckpoint ? preDir : m.layout.checkpointDir(id);
    const dumpLog = path.join(userdata, 'dump.log');
    // A new checkpoint replaces the last one (its images would mix with the new ones).
    await removeQuietly(imagePath, dumpLog, path.join(userdata, 'stats-dump'));
    await fsp.mkdir(imagePath, { recursive: true, mode: 0o700 });
    const ending = !o.leaveRunning && !o.preCheckpoint;
    // The container ends because it is checkpointed: no restart policy for that exit.
    if (ending) m.store.patchState(id, { stoppedByUser: true });
    // Read before the exit handling takes the bundle and the network away.
    const specDump = o.export ? await fsp.readFile(m.layout.configPath(id)).catch(() => undefined) : undefined;
    const netStatus = rec.state.net?.status ?? {};
    const started = process.hrtime.bigint();
    try {
      await m.runc.checkpoint(id, {
        imagePath,
        workPath: userdata,
        leaveRunning: o.leaveRunning,
        tcpEstablished: o.tcpEstablished,
        fileLocks: o.fileLocks,
        preDump: o.preCheckpoint,
        ...(o.withPrevious && !o.preCheckpoint ? { parentPath: '../pre-checkpoint' } : {}),
      });
    } catch (e) {
      const message = withCriuErrors((e as Error).message, await criuLogErrors(dumpLog));
      await removeQuietly(imagePath, dumpLog, path.join(userdata, 'stats-dump'));
      if (ending) m.store.patchState(id, { stoppedByUser: rec.state.stoppedByUser });
      throw new EngineError('internal', `checkpointing container ${id}: runc checkpoint: ${message}`, e, 'checkpoint failed');
    }
    const runtimeDuration = o.printStats ? Number((process.hrtime.bigint() - started) / 1000n) : 0;
    if (o.withPrevious && !o.preCheckpoint) {
      // CRIU writes an absolute parent link; a relative one survives moving the directory (as libpod).
      await fsp.rm(path.join(imagePath, 'parent'), { force: true });
      await fsp.symlink('../pre-checkpoint', path.join(imagePath, 'parent')).catch(() => {});
    }
    if (ending) {
      // CRIU killed the container: handle its exit now (runtime, network, rootfs released).
      await m.waitForExit(rec, 10_000);
      await reapExit(m, id, { noRestart: true });
      m.store.patchState(id, {
        checkpointed: true,
        checkpointedAt: nowRfc3339Nano(),
        checkpointPath: imagePath,
        checkpointLog: o.keep ? dumpLog : '',
        restored: false,
        restoredAt: '',
      });
      m.notify(id);
    }
    await m.emit('checkpoint', m.fresh(id) ?? rec);
    return { rec: m.fresh(id) ?? rec, runtimeDuration, specDump, netStatus, imagePath };
  });
  const report: ContainerCheckpointReport = { id, runtimeDuration: result.runtimeDuration };
  if (o.export) report.archive = exportArchive(m, result.rec, result.imagePath, { spec: result.specDump, network: result.netStatus }, o);
  else if (!o.keep) await removeQuietly(...CRIU_FILES.map((f) => path.join(m.layout.userdata(id), f)));
  return report;
}

/**
 * The export tar: checkpoint/ (CRIU's images), config.dump (the container as tspod records it),
 * spec.dump (its OCI config), network.status, rootfs-diff.tar (its filesystem changes as a layer
 * tar, unless ignoreRootFS), and CRIU's dump.log and stats-dump when they are kept.
 */
async function* exportArchive(m: ContainerManager, rec: ContainerRecord, imagePath: string, dumps: { spec?: Buffer; network: object }, o: ContainerCheckpointOptions): AsyncGenerator<Buffer> {
  const userdata = m.layout.userdata(rec.id);
  const staging = await fsp.mkdtemp(path.join(m.layout.dir(rec.id), 'export-'));
  try {
    const config = { tspodCheckpoint: 1, id: rec.id, name: rec.name, created: rec.created, spec: rec.spec };
    await fsp.writeFile(path.join(staging, EXPORT_FILES.config), JSON.stringify(config), { mode: 0o600 });
    if (dumps.spec) await fsp.writeFile(path.join(staging, EXPORT_FILES.spec), dumps.spec, { mode: 0o600 });
    await fsp.writeFile(path.join(staging, EXPORT_FILES.network), JSON.stringify(dumps.network), { mode: 0o600 });
    if (!o.ignoreRootFS) {
      const fh = await fsp.open(path.join(staging, EXPORT_FILES.rootfsDiff), 'wx', 0o600);
      try {
        for await (const chunk of overlayDiffTar(m.layout.upper(rec.id))) await fh.write(chunk);
      } finally {
        await fh.close();
      }
    }
    yield* tarHostPath(staging, '', undefined, { skipRoot: true, noEnd: true });
    yield* tarHostPath(imagePath, path.basename(imagePath), undefined, { noEnd: true });
    if (o.keep) {
      for (const f of CRIU_FILES) {
        const p = path.join(userdata, f);
        if (await fsp.stat(p).then(() => true, () => false)) yield* tarHostPath(p, f, undefined, { noEnd: true });
      }
    }
    yield TAR_END;
  } finally {
    await removeQuietly(staging);
    if (!o.keep) await removeQuietly(...CRIU_FILES.map((f) => path.join(userdata, f)));
  }
}

export async function restoreContainer(m: ContainerManager, id: string, o: ContainerRestoreOptions): Promise<ContainerRestoreReport> {
  await checkCriu();
  return m.locked(id, async () => {
    const rec = m.mustGet(id);
    if (isActive(rec.state.status) || rec.state.status === 'initialized' || rec.state.status === 'removing') {
      throw stateImproper(`container ${id} is running or paused, cannot restore`);
    }
    const imagePath = m.layout.checkpointDir(id);
    const inventory = path.join(imagePath, 'inventory.img');
    if (!(await fsp.stat(inventory).then(() => true, () => false))) {
      throw new EngineError('internal', `a complete checkpoint for this container cannot be found, cannot restore: stat ${inventory}: no such file or directory`, undefined, 'no such file or directory');
    }
    const runtimeOpts: string[] = [];
    if (o.tcpEstablished) runtimeOpts.push('--tcp-established');
    if (o.tcpClose) runtimeOpts.push('--tcp-close');
    if (o.fileLocks) runtimeOpts.push('--file-locks');
    const started = process.hrtime.bigint();
    try {
      await m.startLocked(rec, { imagePath, runtimeOpts });
    } catch (e) {
      // The runtime, network and rootfs were released again; the container stays checkpointed.
      m.store.patchState(id, { status: rec.state.status, exitCode: rec.state.exitCode, error: rec.state.error, pid: 0, conmonPid: 0 });
      m.notify(id);
      throw new EngineError('internal', `restoring container ${id}: runc restore: ${(e as Error).message}`, e, 'restore failed');
    }
    const runtimeDuration = o.printStats ? Number((process.hrtime.bigint() - started) / 1000n) : 0;
    const userdata = m.layout.userdata(id);
    m.store.patchState(id, { checkpointed: false, checkpointedAt: '', restored: true, restoredAt: nowRfc3339Nano(), restoreLog: o.keep ? path.join(m.layout.bundle(id), 'restore.log') : '', ...(o.keep ? {} : { checkpointPath: '', checkpointLog: '' }) });
    m.notify(id);
    if (!o.keep) {
      await removeQuietly(imagePath, path.join(userdata, 'pre-checkpoint'), ...CRIU_FILES.map((f) => path.join(userdata, f)), path.join(m.layout.bundle(id), 'restore.log'), path.join(m.layout.bundle(id), 'stats-restore'));
    }
    return { id, runtimeDuration };
  });
}

/**
 * Restore from an export (`import`): a new container of the exported configuration, on the
 * same image (which must be here), with the exported filesystem changes and checkpoint, then
 * restored. As libpod's CRImportCheckpointTar: the exported name and ID, or with `name` a new
 * name and a new ID. Anything made for it is removed again when a step fails.
 */
export async function importAndRestore(m: ContainerManager, input: AsyncIterable<Buffer>, o: ContainerRestoreOptions): Promise<ContainerRestoreReport> {
  if (!m.images) throw new EngineError('unavailable', 'no image store is configured');
  await checkCriu();
  await fsp.mkdir(m.layout.containersDir, { recursive: true });
  const staging = await fsp.mkdtemp(path.join(m.layout.containersDir, 'import-'));
  let created: string | undefined;
  try {
    await extractInto(staging, '/', input);
    let dumped: { tspodCheckpoint?: number; id?: string; name?: string; spec?: ContainerSpec };
    try {
      dumped = JSON.parse(await fsp.readFile(path.join(staging, EXPORT_FILES.config), 'utf8')) as typeof dumped;
    } catch {
      throw new EngineError('invalid-argument', `the archive is not a checkpoint export of tspod: no readable ${EXPORT_FILES.config}`);
    }
    if (dumped.tspodCheckpoint !== 1 || !dumped.spec || typeof dumped.id !== 'string' || !/^[0-9a-f]{64}$/.test(dumped.id) || typeof dumped.name !== 'string') {
      throw new EngineError('invalid-argument', `the archive is not a checkpoint export of tspod: ${EXPORT_FILES.config} is not one`);
    }
    if (!(await fsp.stat(path.join(staging, 'checkpoint', 'inventory.img')).then(() => true, () => false))) {
      throw new EngineError('invalid-argument', 'the archive holds no complete checkpoint (checkpoint/inventory.img)');
    }
    const image = await m.images.resolveImage(dumped.spec.imageId);
    const spec: ContainerSpec = { ...dumped.spec, lowerDirs: m.images.lowerDirs(image) };
    // Anonymous volumes are the new container's own.
    spec.mounts = spec.mounts.map((mt) => (mt.type === 'volume' && mt.anonymous ? { ...mt, source: '' } : mt));
    const name = o.name ? checkName(o.name) : dumped.name;
    const id = o.name ? newId() : dumped.id;
    m.store.refresh();
    if (m.store.get(id)) throw new EngineError('conflict', `a container with ID ${id} already exists: restore with a new name`, undefined, 'that ID is already in use');
    if (m.store.idOfName(name)) throw new EngineError('conflict', `the container name "${name}" is already in use by ${m.store.idOfName(name)}. You have to remove that container to be able to reuse that name: that name is already in use`, undefined, 'that name is already in use');
    await m.insertNew(spec, name, id);
    created = id;
    const diff = path.join(staging, EXPORT_FILES.rootfsDiff);
    if (!o.ignoreRootFS && (await fsp.stat(diff).then(() => true, () => false))) {
      const fh = await fsp.open(diff, 'r');
      try {
        await unpackLayer(fh.createReadStream() as AsyncIterable<Buffer>, m.layout.upper(id));
      } finally {
        await fh.close().catch(() => {});
      }
    }
    await fsp.rename(path.join(staging, 'checkpoint'), m.layout.checkpointDir(id));
    const report = await restoreContainer(m, id, o);
    created = undefined;
    return report;
  } finally {
    await removeQuietly(staging);
    if (created) await m.remove(created, { force: true }).catch((e: unknown) => m.warn(`removing the imported container ${created}: ${(e as Error).message}`));
  }
}
