// Libpod operations on containers and exec sessions.
import type { operations } from '../../generated/libpod.js';
import { fromSpecGenerator } from '../../engine/containers/api.js';
import { EngineError } from '../../engine/errors.js';
import { sendJson } from '../../server/respond.js';
import { streamJsonLines } from '../../server/stream.js';
import { answerWait, noContent, pumpSession, requireStreamOrLogs, sendTarStream, setPathStat, startExec, streamLogs } from '../compat/containers.js';
import { toDockerStats, toHealthcheck, toLibpodExecInspect, toLibpodInspect, toLibpodListItem, toLibpodStats } from '../convert/containers.js';
import { parseFilters } from '../filters.js';
import { requestBody, sendTar } from '../compat/images.js';
import { toLibpodChanges } from '../convert/images.js';
import type { ApiRequest, HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "ContainerDeleteLibpod"
  | "ContainerArchiveLibpod"
  | "ContainerArchiveStatLibpod"
  | "PutContainerArchiveLibpod"
  | "ContainerAttachLibpod"
  | "ContainerChangesLibpod"
  | "ContainerCheckpointLibpod"
  | "ContainerExecLibpod"
  | "ContainerExistsLibpod"
  | "ContainerExportLibpod"
  | "ContainerHealthcheckLibpod"
  | "ContainerInitLibpod"
  | "ContainerInspectLibpod"
  | "ContainerKillLibpod"
  | "ContainerLogsLibpod"
  | "ContainerMountLibpod"
  | "ContainerPauseLibpod"
  | "ContainerRenameLibpod"
  | "ContainerResizeLibpod"
  | "ContainerRestartLibpod"
  | "ContainerRestoreLibpod"
  | "ContainerStartLibpod"
  | "ContainerStatsLibpod"
  | "ContainerStopLibpod"
  | "ContainerTopLibpod"
  | "ContainerUnmountLibpod"
  | "ContainerUnpauseLibpod"
  | "ContainerUpdateLibpod"
  | "ContainerWaitLibpod"
  | "ContainerCreateLibpod"
  | "ContainerListLibpod"
  | "ContainerPruneLibpod"
  | "ContainerShowMountedLibpod"
  | "ContainersStatsAllLibpod"
  | "ExecInspectLibpod"
  | "ExecResizeLibpod"
  | "ExecStartLibpod"
>;

type R<K extends keyof Ops> = ApiRequest<Ops[K]>;
type Obj = Record<string, unknown>;

const num = (o: Obj, k: string) => (typeof o[k] === 'number' && o[k] !== 0 ? (o[k] as number) : undefined);

export const containersHandlers: HandlerTable<Ops> = {
  // Podman's answers: the checkpoint report, or with export the checkpoint tar; the restore report.
  async ContainerCheckpointLibpod({ engine, path, query, ctx }: R<'ContainerCheckpointLibpod'>) {
    const r = await engine.containerCheckpoint(path.name, {
      keep: query.keep,
      leaveRunning: query.leaveRunning,
      tcpEstablished: query.tcpEstablished,
      fileLocks: query.fileLocks,
      export: query.export,
      ignoreRootFS: query.ignoreRootFS,
      preCheckpoint: query.preCheckpoint,
      withPrevious: query.withPrevious,
      printStats: query.printStats,
    });
    if (r.archive) return sendTar(ctx, r.archive);
    return { Id: r.id, runtime_checkpoint_duration: r.runtimeDuration, criu_statistics: null };
  },
  async ContainerRestoreLibpod({ engine, path, query, ctx }: R<'ContainerRestoreLibpod'>) {
    const r = await engine.containerRestore(query.import ? undefined : path.name, {
      keep: query.keep,
      tcpEstablished: query.tcpEstablished,
      fileLocks: query.fileLocks,
      ignoreRootFS: query.ignoreRootFS,
      printStats: query.printStats,
      name: query.name,
      ...(query.import ? { import: requestBody(ctx) } : {}),
    });
    return { Id: r.id, runtime_restore_duration: r.runtimeDuration, criu_statistics: null };
  },
  async ContainerListLibpod({ engine, query }: R<'ContainerListLibpod'>) {
    const list = await engine.containerList({ all: query.all, limit: query.limit, size: query.size, filters: parseFilters(query.filters) });
    return list.map(toLibpodListItem);
  },
  async ContainerCreateLibpod({ engine, body, ctx }: R<'ContainerCreateLibpod'>) {
    const r = await engine.containerCreate(fromSpecGenerator(body));
    sendJson(ctx, { Id: r.id, Warnings: r.warnings }, 201);
  },
  async ContainerInspectLibpod({ engine, path, query, version }: R<'ContainerInspectLibpod'>) {
    return toLibpodInspect(await engine.containerInspect(path.name, { size: query.size }), version);
  },
  async ContainerExistsLibpod({ engine, path, ctx }: R<'ContainerExistsLibpod'>) {
    if (!(await engine.containerExists(path.name))) throw new EngineError('not-found', `no container with name or ID "${path.name}" found: no such container`, undefined, 'no such container');
    noContent(ctx);
  },
  async ContainerDeleteLibpod({ engine, path, query }: R<'ContainerDeleteLibpod'>) {
    const r = await engine.containerRemove(path.name, { force: query.force, volumes: query.v, ignore: query.ignore, timeout: query.timeout });
    return [{ Id: r.id, Err: null }];
  },
  async ContainerPruneLibpod({ engine, query }: R<'ContainerPruneLibpod'>) {
    const r = await engine.containerPrune(parseFilters(query.filters));
    return r.deleted.map((id) => ({ Id: id, Size: 0, Err: null }));
  },
  async ContainerStartLibpod({ engine, path, ctx }: R<'ContainerStartLibpod'>) {
    await engine.containerStart(path.name);
    noContent(ctx);
  },
  async ContainerStopLibpod({ engine, path, query, ctx }: R<'ContainerStopLibpod'>) {
    await engine.containerStop(path.name, { timeout: query.timeout, ignore: query.Ignore });
    noContent(ctx);
  },
  async ContainerRestartLibpod({ engine, path, query, ctx }: R<'ContainerRestartLibpod'>) {
    await engine.containerRestart(path.name, { timeout: query.t });
    noContent(ctx);
  },
  async ContainerKillLibpod({ engine, path, query, ctx }: R<'ContainerKillLibpod'>) {
    await engine.containerKill(path.name, query.signal || 'SIGKILL');
    noContent(ctx);
  },
  async ContainerPauseLibpod({ engine, path, ctx }: R<'ContainerPauseLibpod'>) {
    await engine.containerPause(path.name);
    noContent(ctx);
  },
  async ContainerUnpauseLibpod({ engine, path, ctx }: R<'ContainerUnpauseLibpod'>) {
    await engine.containerUnpause(path.name);
    noContent(ctx);
  },
  async ContainerInitLibpod({ engine, path, ctx }: R<'ContainerInitLibpod'>) {
    await engine.containerInit(path.name);
    noContent(ctx);
  },
  async ContainerRenameLibpod({ engine, path, query, ctx }: R<'ContainerRenameLibpod'>) {
    await engine.containerRename(path.name, query.name);
    noContent(ctx);
  },
  async ContainerResizeLibpod({ engine, path, query }: R<'ContainerResizeLibpod'>) {
    await engine.containerResize(path.name, { height: query.h ?? 0, width: query.w ?? 0 });
    return {};
  },
  ContainerWaitLibpod: (req: R<'ContainerWaitLibpod'>) => {
    const conds = (req.query.condition as string[] | undefined) ?? [];
    const interval = req.query.interval ? Math.max(10, parseIntervalMs(req.query.interval)) : undefined;
    return answerWait(req as ApiRequest, req.path.name, conds.length ? conds : ['stopped', 'exited'], (r) => r.exitCode, interval);
  },
  ContainerLogsLibpod: (req: R<'ContainerLogsLibpod'>) => streamLogs(req as ApiRequest, req.path.name, req.query, true),
  async ContainerAttachLibpod({ engine, path, query, ctx }: R<'ContainerAttachLibpod'>) {
    requireStreamOrLogs(query);
    const session = await engine.containerAttach(path.name, {
      stream: query.stream,
      logs: query.logs,
      stdin: query.stdin,
      stdout: query.stdout,
      stderr: query.stderr,
      ...(query.detachKeys !== undefined ? { detachKeys: query.detachKeys } : {}),
    });
    await pumpSession(ctx, session);
  },
  async ContainerTopLibpod({ engine, path, query }: R<'ContainerTopLibpod'>) {
    const psArgs = Array.isArray(query.ps_args) ? query.ps_args.join(' ') : (query.ps_args as string | undefined);
    const t = await engine.containerTop(path.name, psArgs);
    return { Titles: t.titles, Processes: t.processes };
  },
  // Podman serves both changes endpoints with one handler (compat.Changes): podman --remote
  // image diff calls this one with diffType=image.
  async ContainerChangesLibpod({ engine, path, query, ctx }: R<'ContainerChangesLibpod'>) {
    sendJson(ctx, toLibpodChanges(await engine.changes(path.name, { parent: query.parent || undefined, diffType: query.diffType })));
  },
  async ContainerExportLibpod({ engine, path, ctx, signal }: R<'ContainerExportLibpod'>) {
    sendTarStream(ctx, await engine.containerExport(path.name, signal));
  },
  async ContainerArchiveStatLibpod({ engine, path, query, ctx }: R<'ContainerArchiveStatLibpod'>) {
    setPathStat(ctx, await engine.containerArchiveStat(path.name, query.path));
    ctx.status = 200;
    ctx.body = '';
  },
  async ContainerArchiveLibpod({ engine, path, query, ctx, signal }: R<'ContainerArchiveLibpod'>) {
    const { stat, tar } = await engine.containerArchiveGet(path.name, query.path, signal);
    setPathStat(ctx, stat);
    sendTarStream(ctx, tar);
  },
  async PutContainerArchiveLibpod({ engine, path, query, ctx, signal }: R<'PutContainerArchiveLibpod'>) {
    await engine.containerArchivePut(path.name, query.path, ctx.req as AsyncIterable<Buffer>, { signal });
    ctx.status = 200;
    ctx.body = '';
  },
  async ContainerStatsLibpod(req: R<'ContainerStatsLibpod'>) {
    const stream = req.query.stream ?? true;
    const samples = await req.engine.containerStats([req.path.name], { stream }, req.signal);
    if (!stream) {
      for await (const batch of samples) return batch[0] ? toDockerStats(batch[0]) : {};
      return {};
    }
    await streamJsonLines(req.ctx, (async function* () {
      for await (const batch of samples) for (const s of batch) yield toDockerStats(s);
    })(), req.signal);
  },
  async ContainersStatsAllLibpod(req: R<'ContainersStatsAllLibpod'>) {
    const stream = req.query.stream ?? true;
    const refs = req.query.containers as string[] | undefined;
    const samples = await req.engine.containerStats(refs, { stream, intervalMs: (req.query.interval ?? 5) * 1000 }, req.signal);
    const records = (async function* () {
      for await (const batch of samples) yield { Error: null, Stats: batch.map(toLibpodStats) };
    })();
    if (!stream) {
      for await (const r of records) return r;
      return { Error: null, Stats: [] };
    }
    await streamJsonLines(req.ctx, records, req.signal);
  },
  async ContainerMountLibpod({ engine, path }: R<'ContainerMountLibpod'>) {
    return engine.containerMount(path.name);
  },
  async ContainerUnmountLibpod({ engine, path, ctx }: R<'ContainerUnmountLibpod'>) {
    await engine.containerUnmount(path.name);
    noContent(ctx);
  },
  async ContainerShowMountedLibpod({ engine }: R<'ContainerShowMountedLibpod'>) {
    return engine.containerShowMounted();
  },
  async ContainerHealthcheckLibpod({ engine, path }: R<'ContainerHealthcheckLibpod'>) {
    return toHealthcheck(await engine.containerHealthcheck(path.name));
  },
  async ContainerUpdateLibpod({ engine, path, query, body, ctx }: R<'ContainerUpdateLibpod'>) {
    const b = (body ?? {}) as Obj;
    const res = ((b.Resources ?? b) as Obj) ?? {};
    const mem = (res.memory ?? {}) as Obj;
    const cpu = (res.cpu ?? {}) as Obj;
    const pids = (res.pids ?? {}) as Obj;
    const blk = (res.blockIO ?? {}) as Obj;
    const resources = {
      memory: num(mem, 'limit'),
      memorySwap: num(mem, 'swap'),
      memoryReservation: num(mem, 'reservation'),
      cpuShares: num(cpu, 'shares'),
      cpuQuota: num(cpu, 'quota'),
      cpuPeriod: num(cpu, 'period'),
      cpusetCpus: typeof cpu.cpus === 'string' && cpu.cpus ? cpu.cpus : undefined,
      cpusetMems: typeof cpu.mems === 'string' && cpu.mems ? cpu.mems : undefined,
      pidsLimit: num(pids, 'limit'),
      blkioWeight: num(blk, 'weight'),
    };
    for (const k of Object.keys(resources) as (keyof typeof resources)[]) if (resources[k] === undefined) delete resources[k];
    const rp = query.restartPolicy;
    await engine.containerUpdate(path.name, { resources, ...(rp ? { restartPolicy: { name: rp, maxRetries: query.restartRetries } } : {}) });
    const r = await engine.containerInspect(path.name);
    sendJson(ctx, r.id, 201);
  },
  async ContainerExecLibpod({ engine, path, body, ctx }: R<'ContainerExecLibpod'>) {
    const b = (body ?? {}) as Obj;
    const cs = b.ConsoleSize as number[] | null | undefined;
    const id = await engine.execCreate(path.name, {
      cmd: (b.Cmd as string[] | null) ?? [],
      env: (b.Env as string[] | null) ?? [],
      user: typeof b.User === 'string' ? b.User : '',
      workingDir: typeof b.WorkingDir === 'string' ? b.WorkingDir : '',
      tty: b.Tty === true,
      privileged: b.Privileged === true,
      attachStdin: b.AttachStdin === true,
      attachStdout: b.AttachStdout !== false,
      attachStderr: b.AttachStderr !== false,
      detachKeys: typeof b.DetachKeys === 'string' ? b.DetachKeys : '',
      ...(Array.isArray(cs) && cs.length === 2 && cs[0]! > 0 ? { consoleSize: { height: cs[0]!, width: cs[1]! } } : {}),
    });
    sendJson(ctx, { Id: id }, 201);
  },
  ExecStartLibpod: (req: R<'ExecStartLibpod'>) => startExec(req as ApiRequest, req.path.id, req.body as never),
  async ExecResizeLibpod({ engine, path, query, ctx }: R<'ExecResizeLibpod'>) {
    await engine.execResize(path.id, { height: query.h ?? 0, width: query.w ?? 0 });
    sendJson(ctx, {}, 201);
  },
  async ExecInspectLibpod({ engine, path }: R<'ExecInspectLibpod'>) {
    return toLibpodExecInspect(await engine.execInspect(path.id));
  },
};

/** Libpod's wait interval: a Go duration ("250ms"), default 250 ms. */
function parseIntervalMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new EngineError('invalid-argument', `invalid interval "${v}"`, undefined, 'invalid argument');
  const n = Number(m[1]);
  return m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n;
}
