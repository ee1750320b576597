// Compat operations on containers and exec sessions. The streaming helpers (logs, attach and
// exec over hijacked connections, wait, tar answers) are shared with the Libpod handlers.
import type { Context } from 'koa';
import { Readable } from 'node:stream';
import type { operations } from '../../generated/docker.js';
import { fromDockerCreate, type OutputChunk, type StdioSession } from '../../engine/containers/api.js';
import { formatTimeNano } from '../../engine/containers/types.js';
import { EngineError } from '../../engine/errors.js';
import { parseEventTime } from '../../engine/events/time.js';
import { versionAtLeast } from '../../server/api-version.js';
import { frameHeader, hijack, wantsUpgrade } from '../../server/hijack.js';
import { sendJson, stringifyJson } from '../../server/respond.js';
import { streamJsonLines } from '../../server/stream.js';
import { acceptWebSocket, CLOSE, readHandshake, type Handshake } from '../../server/websocket.js';
import { toDockerExecInspect, toDockerInspect, toDockerListItem, toDockerStats } from '../convert/containers.js';
import { parseFilters } from '../filters.js';
import type { ApiRequest, HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "ContainerList"
  | "ContainerCreate"
  | "ContainerInspect"
  | "ContainerTop"
  | "ContainerLogs"
  | "ContainerChanges"
  | "ContainerExport"
  | "ContainerStats"
  | "ContainerResize"
  | "ContainerStart"
  | "ContainerStop"
  | "ContainerRestart"
  | "ContainerKill"
  | "ContainerUpdate"
  | "ContainerRename"
  | "ContainerPause"
  | "ContainerUnpause"
  | "ContainerAttach"
  | "ContainerAttachWebsocket"
  | "ContainerWait"
  | "ContainerDelete"
  | "ContainerArchive"
  | "PutContainerArchive"
  | "ContainerArchiveInfo"
  | "ContainerPrune"
  | "ContainerExec"
  | "ExecStart"
  | "ExecResize"
  | "ExecInspect"
>;

// ---------------------------------------------------------------------------------------------
// Shared helpers

export function noContent(ctx: Context, status = 204): void {
  ctx.status = status;
  ctx.body = null;
}

/** A tar answer (export, archive); an error after the first byte cuts the connection. */
/** The stat of a container path, as the header docker cp and podman cp read (base64 JSON). */
export function setPathStat(ctx: Context, stat: unknown): void {
  ctx.set('X-Docker-Container-Path-Stat', Buffer.from(JSON.stringify(stat)).toString('base64'));
}

export function sendTarStream(ctx: Context, tar: AsyncIterable<Buffer>): void {
  ctx.status = 200;
  ctx.set('Content-Type', 'application/x-tar');
  ctx.body = Readable.from(tar, { objectMode: false });
}

/** A log/attach chunk with an optional timestamp prefix. */
function withTimestamp(c: OutputChunk, timestamps: boolean): Buffer {
  if (!timestamps || c.timeNano === undefined) return c.data;
  return Buffer.concat([Buffer.from(`${formatTimeNano(c.timeNano)} `), c.data]);
}

/** Streams container logs: raw bytes with a TTY, else 8-byte multiplexed frames. */
export async function streamLogs(
  req: ApiRequest,
  id: string,
  q: { follow?: boolean; stdout?: boolean; stderr?: boolean; since?: number | string; until?: number | string; timestamps?: boolean; tail?: string },
  libpod: boolean,
): Promise<void> {
  const stdout = q.stdout ?? libpod;
  const stderr = q.stderr ?? libpod;
  if (!stdout && !stderr) throw new EngineError('invalid-argument', 'you must choose at least one stream', undefined, 'invalid argument');
  // Go clients send their zero time (0001-01-01T00:00:00Z) for "not set".
  const time = (v: number | string | undefined) => {
    if (v === undefined || v === '' || v === 0 || v === '0') return undefined;
    const ns = parseEventTime(String(v));
    return ns <= 0n ? undefined : ns;
  };
  const tail = q.tail === undefined || q.tail === 'all' || q.tail === '' ? undefined : Number(q.tail);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < -1)) throw new EngineError('invalid-argument', `invalid tail value "${q.tail}"`, undefined, 'invalid argument');
  const logs = await req.engine.containerLogs(
    id,
    { follow: q.follow, stdout, stderr, since: time(q.since), until: time(q.until), tail: tail === -1 ? undefined : tail, timestamps: !!q.timestamps },
    req.signal,
  );
  const res = req.ctx.res;
  req.ctx.respond = false;
  res.statusCode = 200;
  res.setHeader('Content-Type', logs.tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
  res.flushHeaders();
  // Lines are gathered into writes of up to 256 KiB; what is pending goes out at once when the
  // reader has to wait (follow), so a followed log is not held back.
  let parts: Buffer[] = [];
  let size = 0;
  let timer: NodeJS.Immediate | undefined;
  const flush = async () => {
    if (timer) clearImmediate(timer);
    timer = undefined;
    if (!size || res.writableEnded) return;
    const chunk = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    parts = [];
    size = 0;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  };
  try {
    for await (const c of logs.lines) {
      if (req.signal.aborted) break;
      const data = withTimestamp(c, !!q.timestamps);
      if (!logs.tty) parts.push(frameHeader(c.stream, data.length));
      parts.push(data);
      size += data.length + (logs.tty ? 0 : 8);
      if (size >= 256 * 1024) await flush();
      else timer ??= setImmediate(() => void flush());
    }
    await flush();
  } finally {
    if (timer) clearImmediate(timer);
    if (!res.writableEnded) res.end();
  }
}

/** Copies a session's stdio over a hijacked connection until the output ends. */
export async function pumpSession(ctx: Context, session: StdioSession, after?: Promise<unknown>): Promise<void> {
  const conn = await hijack(ctx, { raw: session.tty, upgrade: wantsUpgrade(ctx) });
  if (session.stdin) {
    const stdin = session.stdin;
    conn.input.on('data', (b: Buffer) => {
      if (!stdin.write(b)) {
        conn.input.pause();
        stdin.once('drain', () => conn.input.resume());
      }
    });
    conn.input.on('end', () => stdin.end());
  } else {
    conn.input.resume();
  }
  void conn.closed.then(() => session.close());
  try {
    for await (const c of session.output) {
      if (conn.destroyed) break;
      await conn.write(c.stream, c.data);
    }
    // An exec's exit code must be recorded before the client asks for it (it does at EOF).
    if (after) await after.catch(() => {});
  } catch (err) {
    if (!conn.destroyed) await conn.write('stderr', Buffer.from(`Error: ${(err as Error).message}\n`));
  } finally {
    session.close();
    await conn.end();
  }
}

/**
 * Podman's rule for the hijacked attach (libpod's HTTPAttach): something must be asked for
 * (`stream` defaults to true there). Docker's websocket attach has no such rule.
 */
export function requireStreamOrLogs(q: { stream?: boolean; logs?: boolean }): void {
  if (q.stream === false && !q.logs) throw new EngineError('invalid-argument', 'must specify at least one of stream or logs', undefined, 'invalid argument');
}

/**
 * Docker's websocket attach: the process's output, raw (never multiplexed: stdout and stderr
 * alike, with or without a TTY), one data frame per chunk; the client's data frames are its
 * stdin. The output's end (exit, detach keys) closes with 1000. When the client closes or goes
 * away, the container's stdin gets EOF, as Docker's does (closing it only with StdinOnce).
 */
export async function pumpWebSocket(ctx: Context, hs: Handshake, session: StdioSession, binary: boolean): Promise<void> {
  const ws = acceptWebSocket(ctx, hs, { binary });
  const stdin = session.stdin;
  if (stdin) {
    ws.input.on('data', (b: Buffer) => {
      if (!stdin.write(b)) {
        ws.input.pause();
        stdin.once('drain', () => ws.input.resume());
      }
    });
    ws.input.on('end', () => stdin.end());
  } else {
    ws.input.resume();
  }
  void ws.closed.then(() => session.close());
  let failure: Error | undefined;
  try {
    for await (const c of session.output) {
      if (!ws.open) break;
      await ws.send(c.data);
    }
  } catch (err) {
    failure = err as Error;
  } finally {
    // Docker writes the error into the stream and closes normally.
    if (failure && ws.open) await ws.send(Buffer.from(`Error attaching: ${failure.message}\n`));
    session.close();
    await ws.close(CLOSE.normal);
  }
}

/** Wait: headers go out as soon as the wait is registered (the docker CLI starts the container then). */
export async function answerWait(req: ApiRequest, id: string, conditions: string[], shape: (r: { exitCode: number; error?: string }) => unknown, intervalMs?: number): Promise<void> {
  const ctx = req.ctx;
  const res = ctx.res;
  let sent = false;
  const result = await req.engine.containerWait(id, conditions, req.signal, {
    intervalMs,
    ready: () => {
      ctx.respond = false;
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/json');
      res.flushHeaders();
      sent = true;
    },
  }).catch((err: unknown) => {
    if (!sent) throw err;
    return { exitCode: -1, error: (err as Error).message };
  });
  if (!sent) {
    sendJson(ctx, shape(result));
    return;
  }
  if (!res.writableEnded) res.end(stringifyJson(shape(result)) + '\n');
}

/** Exec start shared by both APIs. */
export async function startExec(req: ApiRequest, id: string, body: { Detach?: boolean; Tty?: boolean; h?: number; w?: number; ConsoleSize?: number[] | null } | undefined): Promise<void> {
  const b = body ?? {};
  const size = b.h && b.w ? { height: b.h, width: b.w } : Array.isArray(b.ConsoleSize) && b.ConsoleSize.length === 2 && b.ConsoleSize[0]! > 0 ? { height: b.ConsoleSize[0]!, width: b.ConsoleSize[1]! } : undefined;
  const started = await req.engine.execStart(id, { detach: b.Detach, ...(b.Tty !== undefined ? { tty: b.Tty } : {}), ...(size ? { consoleSize: size } : {}) });
  if (!started.session) {
    req.ctx.status = 200;
    req.ctx.body = '';
    return;
  }
  await pumpSession(req.ctx, started.session, started.exited);
}

const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));

// ---------------------------------------------------------------------------------------------

type R<K extends keyof Ops> = ApiRequest<Ops[K]>;

export const containersHandlers: HandlerTable<Ops> = {
  async ContainerList({ engine, query }: R<'ContainerList'>) {
    const list = await engine.containerList({ all: query.all, limit: query.limit, size: query.size, filters: parseFilters(query.filters) });
    const now = Date.now();
    return list.map((r) => toDockerListItem(r, now));
  },
  async ContainerCreate({ engine, ctx, query, body }: R<'ContainerCreate'>) {
    const r = await engine.containerCreate(fromDockerCreate(body, query.name));
    sendJson(ctx, { Id: r.id, Warnings: r.warnings }, 201);
  },
  async ContainerInspect({ engine, path, query }: R<'ContainerInspect'>) {
    return toDockerInspect(await engine.containerInspect(path.id, { size: query.size }));
  },
  async ContainerTop({ engine, path, query }: R<'ContainerTop'>) {
    const t = await engine.containerTop(path.id, query.ps_args);
    return { Titles: t.titles, Processes: t.processes };
  },
  ContainerLogs: (req: R<'ContainerLogs'>) => streamLogs(req as ApiRequest, req.path.id, req.query, false),
  async ContainerChanges({ engine, path }: R<'ContainerChanges'>) {
    const changes = await engine.containerChanges(path.id);
    return changes.map((c) => ({ Path: c.path, Kind: c.kind }));
  },
  async ContainerExport({ engine, path, ctx, signal }: R<'ContainerExport'>) {
    sendTarStream(ctx, await engine.containerExport(path.id, signal));
  },
  async ContainerStats(req: R<'ContainerStats'>) {
    const stream = req.query.stream ?? true;
    const samples = await req.engine.containerStats([req.path.id], { stream }, req.signal);
    if (!stream) {
      for await (const batch of samples) return batch[0] ? toDockerStats(batch[0]) : {};
      return {};
    }
    await streamJsonLines(req.ctx, (async function* () {
      for await (const batch of samples) for (const s of batch) yield toDockerStats(s);
    })(), req.signal);
  },
  async ContainerResize({ engine, path, query, ctx }: R<'ContainerResize'>) {
    await engine.containerResize(path.id, { height: query.h ?? 0, width: query.w ?? 0 });
    ctx.status = 200;
    ctx.body = '';
  },
  async ContainerStart({ engine, path, ctx }: R<'ContainerStart'>) {
    await engine.containerStart(path.id);
    noContent(ctx);
  },
  async ContainerStop({ engine, path, query, ctx }: R<'ContainerStop'>) {
    await engine.containerStop(path.id, { timeout: query.t });
    noContent(ctx);
  },
  async ContainerRestart({ engine, path, query, ctx }: R<'ContainerRestart'>) {
    await engine.containerRestart(path.id, { timeout: query.t });
    noContent(ctx);
  },
  async ContainerKill({ engine, path, query, ctx }: R<'ContainerKill'>) {
    await engine.containerKill(path.id, query.signal || 'SIGKILL');
    noContent(ctx);
  },
  async ContainerUpdate({ engine, path, body }: R<'ContainerUpdate'>) {
    const b = (body ?? {}) as Record<string, unknown>;
    const num = (k: string) => (typeof b[k] === 'number' && b[k] !== 0 ? (b[k] as number) : undefined);
    const resources = {
      memory: num('Memory'),
      memorySwap: num('MemorySwap'),
      memoryReservation: num('MemoryReservation'),
      cpuShares: num('CpuShares'),
      cpuQuota: num('CpuQuota'),
      cpuPeriod: num('CpuPeriod'),
      nanoCpus: num('NanoCpus'),
      cpusetCpus: str(b.CpusetCpus) || undefined,
      cpusetMems: str(b.CpusetMems) || undefined,
      pidsLimit: num('PidsLimit'),
      blkioWeight: num('BlkioWeight'),
    };
    for (const k of Object.keys(resources) as (keyof typeof resources)[]) if (resources[k] === undefined) delete resources[k];
    const rp = b.RestartPolicy as { Name?: string; MaximumRetryCount?: number } | undefined;
    await engine.containerUpdate(path.id, { resources, ...(rp && rp.Name !== undefined ? { restartPolicy: { name: rp.Name, maxRetries: rp.MaximumRetryCount } } : {}) });
    return { Warnings: [] };
  },
  async ContainerRename({ engine, path, query, ctx }: R<'ContainerRename'>) {
    await engine.containerRename(path.id, query.name);
    noContent(ctx);
  },
  async ContainerPause({ engine, path, ctx }: R<'ContainerPause'>) {
    await engine.containerPause(path.id);
    noContent(ctx);
  },
  async ContainerUnpause({ engine, path, ctx }: R<'ContainerUnpause'>) {
    await engine.containerUnpause(path.id);
    noContent(ctx);
  },
  async ContainerAttach({ engine, path, query, ctx }: R<'ContainerAttach'>) {
    requireStreamOrLogs(query);
    const session = await engine.containerAttach(path.id, {
      stream: query.stream,
      logs: query.logs,
      stdin: query.stdin,
      stdout: query.stdout,
      stderr: query.stderr,
      ...(query.detachKeys !== undefined ? { detachKeys: query.detachKeys } : {}),
    });
    await pumpSession(ctx, session);
  },
  // As moby's wsContainersAttach for a v1.40 client: stream and logs default to false; stdin,
  // stdout and stderr are always attached (only API >= 1.42 reads them, and the v1.40 spec does
  // not list them); binary frames from API 1.28 on. Docker looks the container up before it
  // reads the handshake, so an unknown container answers 404 even to a bad handshake.
  async ContainerAttachWebsocket({ engine, path, query, ctx, version }: R<'ContainerAttachWebsocket'>) {
    const hs = readHandshake(ctx);
    if (hs instanceof EngineError) {
      await engine.containerInspect(path.id);
      throw hs;
    }
    const session = await engine.containerAttach(path.id, {
      stream: query.stream ?? false,
      logs: query.logs ?? false,
      stdin: true,
      stdout: true,
      stderr: true,
      ...(query.detachKeys !== undefined ? { detachKeys: query.detachKeys } : {}),
    });
    await pumpWebSocket(ctx, hs, session, version === undefined || versionAtLeast(version, '1.28'));
  },
  ContainerWait: (req: R<'ContainerWait'>) => answerWait(req as ApiRequest, req.path.id, [req.query.condition ?? 'not-running'], (r) => ({ StatusCode: r.exitCode, ...(r.error ? { Error: { Message: r.error } } : {}) })),
  async ContainerDelete({ engine, path, query, ctx }: R<'ContainerDelete'>) {
    await engine.containerRemove(path.id, { force: query.force, volumes: query.v });
    noContent(ctx);
  },
  async ContainerArchiveInfo({ engine, path, query, ctx }: R<'ContainerArchiveInfo'>) {
    setPathStat(ctx, await engine.containerArchiveStat(path.id, query.path));
    ctx.status = 200;
    ctx.body = '';
  },
  async ContainerArchive({ engine, path, query, ctx, signal }: R<'ContainerArchive'>) {
    const { stat, tar } = await engine.containerArchiveGet(path.id, query.path, signal);
    setPathStat(ctx, stat);
    sendTarStream(ctx, tar);
  },
  async PutContainerArchive({ engine, path, query, ctx, signal }: R<'PutContainerArchive'>) {
    const q = query as { path: string; noOverwriteDirNonDir?: string; copyUIDGID?: string };
    const flag = (v: string | undefined) => v === '1' || v === 'true' || v === 'True';
    await engine.containerArchivePut(path.id, q.path, ctx.req as AsyncIterable<Buffer>, { noOverwriteDirNonDir: flag(q.noOverwriteDirNonDir), copyUIDGID: flag(q.copyUIDGID), signal });
    ctx.status = 200;
    ctx.body = '';
  },
  async ContainerPrune({ engine, query }: R<'ContainerPrune'>) {
    const r = await engine.containerPrune(parseFilters(query.filters));
    return { ContainersDeleted: r.deleted, SpaceReclaimed: r.spaceReclaimed };
  },
  async ContainerExec({ engine, path, body, ctx }: R<'ContainerExec'>) {
    const b = (body ?? {}) as Record<string, unknown>;
    const cs = b.ConsoleSize as number[] | null | undefined;
    const id = await engine.execCreate(path.id, {
      cmd: (b.Cmd as string[] | null) ?? [],
      env: (b.Env as string[] | null) ?? [],
      user: str(b.User) ?? '',
      workingDir: str(b.WorkingDir) ?? '',
      tty: b.Tty === true,
      privileged: b.Privileged === true,
      attachStdin: b.AttachStdin === true,
      attachStdout: b.AttachStdout !== false,
      attachStderr: b.AttachStderr !== false,
      detachKeys: str(b.DetachKeys) ?? '',
      ...(Array.isArray(cs) && cs.length === 2 && cs[0]! > 0 ? { consoleSize: { height: cs[0]!, width: cs[1]! } } : {}),
    });
    sendJson(ctx, { Id: id }, 201);
  },
  ExecStart: (req: R<'ExecStart'>) => startExec(req as ApiRequest, req.path.id, req.body as never),
  async ExecResize({ engine, path, query, ctx }: R<'ExecResize'>) {
    await engine.execResize(path.id, { height: query.h ?? 0, width: query.w ?? 0 });
    ctx.status = 200;
    ctx.body = '';
  },
  async ExecInspect({ engine, path }: R<'ExecInspect'>) {
    return toDockerExecInspect(await engine.execInspect(path.id));
  },
};
