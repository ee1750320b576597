// Runs a process in a running container under conmon's exec mode, as Podman does for exec
// sessions (libpod/oci_conmon_exec_linux.go): `conmon ... -e --exec-process-spec <process.json>`
// with the container's ID (-c) and the session's (-u), the session dir as bundle.
//
// Pipes (extra fds): _OCI_SYNCPIPE (3) carries JSON lines {"data": <pid>} once runc exec started
// the process (or {"data": -1, "message": "..."} when it failed), then {"data": <exit code>}
// when it exits; _OCI_STARTPIPE (4) gets one byte to go on (after cgroup moves), and with
// --exec-attach a second byte once the client is connected to the attach socket;
// _OCI_ATTACHPIPE (5) gets {"data": 0} when that socket (<session dir>/attach) is listening.
// conmon also writes the exit code to <exit dir>/<container id>, so each session gets its own
// exit dir. The session dir also holds conmon's ctl/winsz fifos (resize).
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { EngineError } from '../errors.js';
import { attachContainer, type AttachSession } from './attach.js';
import type { ConmonRuntime } from './conmon.js';
import { runcErrorMessage } from './runc.js';
import type { OciSpecProcess } from './spec-types.js';

export interface ConmonExecOptions {
  containerId: string;
  sessionId: string;
  /** The session's own directory (created if needed). */
  dir: string;
  process: OciSpecProcess;
  /** Keep a stdin pipe (non-terminal sessions). */
  stdin: boolean;
  /** Connect to the attach socket before the process starts (no output is lost). */
  attach: boolean;
  /** How long to wait for conmon's answers (default 30 s). */
  timeoutMs?: number;
}

export interface ConmonExecHandle {
  pid: number;
  conmonPid: number;
  /** The attach connection (with `attach`). */
  session?: AttachSession;
  /** Settles with the exit code once the process exited. */
  exited: Promise<number>;
}

/** A failed exec start: runc's message and the exit code Docker reports for it (126/127). */
export class ExecStartError extends EngineError {
  constructor(
    readonly runtimeMessage: string,
    readonly exitCode: number,
  ) {
    super('internal', runtimeMessage);
    this.name = 'ExecStartError';
  }
}

/** Newline-separated JSON messages from a pipe. */
class JsonLines {
  private buf = '';
  private queue: { data: number; message?: string }[] = [];
  private waiters: ((m: { data: number; message?: string } | undefined) => void)[] = [];
  private ended = false;

  constructor(stream: Readable) {
    stream.setEncoding('utf8');
    stream.on('data', (s: string) => {
      this.buf += s;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        try {
          this.push(JSON.parse(line) as { data: number; message?: string });
        } catch {
          // not for us
        }
      }
    });
    const end = () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  private push(m: { data: number; message?: string }): void {
    const w = this.waiters.shift();
    if (w) w(m);
    else this.queue.push(m);
  }

  next(timeoutMs?: number): Promise<{ data: number; message?: string } | undefined> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const w = (v: { data: number; message?: string } | undefined) => {
        if (timer) clearTimeout(timer);
        resolve(v);
      };
      this.waiters.push(w);
      if (timeoutMs) {
        timer = setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve(undefined);
        }, timeoutMs);
      }
    });
  }
}

/** Reads the exit code conmon wrote for an exec session (undefined while it runs). */
export async function readExecExitCode(exitDir: string, containerId: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await fsp.readFile(path.join(exitDir, containerId), 'utf8')).trim(), 10);
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

export async function execUnderConmon(rt: ConmonRuntime, o: ConmonExecOptions): Promise<ConmonExecHandle> {
  const exitDir = path.join(o.dir, 'exit');
  await fsp.mkdir(exitDir, { recursive: true, mode: 0o700 });
  const spec = path.join(o.dir, 'process.json');
  await fsp.writeFile(spec, JSON.stringify(o.process), { mode: 0o600 });
  const args = [
    '--api-version', '1',
    '-c', o.containerId,
    '-u', o.sessionId,
    '-r', rt.runc.path,
    '-b', o.dir,
    '-p', path.join(o.dir, 'pid'),
    '-n', o.containerId,
    '--exit-dir', exitDir,
    '--full-attach',
    '--socket-dir-path', rt.socketDir,
    '-l', 'none',
    '--log-level', rt.logLevel,
    '--conmon-pidfile', path.join(o.dir, 'conmon.pid'),
  ];
  for (const a of rt.runc.globalArgs()) args.push(`--runtime-arg=${a}`);
  args.push('--runtime-arg=--log-format=json', `--runtime-arg=--log=${path.join(o.dir, 'oci-log')}`);
  if (o.process.terminal) args.push('-t');
  else if (o.stdin) args.push('-i');
  args.push('-e');
  if (o.attach) args.push('--exec-attach');
  args.push('--exec-process-spec', spec);

  const child = spawn(rt.conmonPath, args, {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', o.attach ? 'pipe' : 'ignore'],
    detached: true,
    cwd: o.dir,
    env: { ...rt.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', ...(o.attach ? { _OCI_ATTACHPIPE: '5' } : {}) },
  });
  const stderr: Buffer[] = [];
  child.stderr!.on('data', (b: Buffer) => stderr.push(b));
  child.stderr!.on('error', () => {});
  child.on('error', () => {});
  const sync = new JsonLines(child.stdio[3] as Readable);
  const start = child.stdio[4] as Writable;
  start.on('error', () => {});
  const attachStream = o.attach ? ((child.stdio as unknown as Readable[])[5] as Readable) : undefined;
  const attachPipe = attachStream ? new JsonLines(attachStream) : undefined;
  const timeout = o.timeoutMs ?? 30_000;
  const fail = async (msg: string, code = 125): Promise<never> => {
    child.stderr!.destroy();
    (child.stdio[3] as Readable).destroy();
    start.destroy();
    attachStream?.destroy();
    throw new ExecStartError(msg, code);
  };
  start.write(Buffer.from([0]));
  let session: AttachSession | undefined;
  if (attachPipe) {
    const ready = await attachPipe.next(timeout);
    if (!ready || ready.data < 0) {
      const text = Buffer.concat(stderr).toString('utf8').trim();
      return fail(`conmon did not set up the exec attach socket${ready?.message ? `: ${ready.message}` : text ? `: ${text}` : ''}`);
    }
    session = await attachContainer(o.dir);
    attachStream?.destroy();
  }
  start.end(Buffer.from([0]));
  const first = await sync.next(timeout);
  child.stderr!.destroy();
  if (!first || first.data <= 0) {
    session?.close();
    const msg = runcErrorMessage(first?.message ?? '') || (await fsp.readFile(path.join(o.dir, 'oci-log'), 'utf8').then(runcErrorMessage, () => '')) || 'exec failed';
    const code = /executable file not found|no such file or directory/i.test(msg) ? 127 : /permission denied/i.test(msg) ? 126 : 125;
    (child.stdio[3] as Readable).destroy();
    throw new ExecStartError(msg, code);
  }
  const pid = first.data;
  const exited = (async () => {
    const m = await sync.next();
    (child.stdio[3] as Readable).destroy();
    if (m && m.data >= 0) return m.data;
    const code = await readExecExitCode(exitDir, o.containerId);
    return code ?? -1;
  })();
  child.unref();
  const conmonPid = Number.parseInt((await fsp.readFile(path.join(o.dir, 'conmon.pid'), 'utf8').catch(() => '0')).trim(), 10) || 0;
  return { pid, conmonPid, exited, ...(session ? { session } : {}) };
}

/** Resizes an exec session's terminal through its conmon's ctl fifo. */
export async function resizeExec(rt: ConmonRuntime, dir: string, size: { height: number; width: number }): Promise<void> {
  await rt.resize(dir, size);
}

export interface DirectExecHandle {
  pid: number;
  /** stdout and stderr in arrival order (collected from the start: nothing is lost). */
  output: AsyncIterable<{ stream: 'stdout' | 'stderr'; data: Buffer }>;
  /** Present when stdin was asked for. */
  stdin?: Writable;
  /** Settles with the exit code; rejects with ExecStartError when runc could not start the process. */
  exited: Promise<number>;
  kill(): void;
}

/**
 * Runs a non-terminal process in a running container with `runc exec` as a child of this
 * process, stdio on pipes: the cheapest way for an attached session (no conmon, no attach
 * relay), at the price of the session ending if this process dies. Resolves once runc has
 * started the process (its PID file exists) or failed.
 */
export async function execDirect(runc: import('./runc.js').Runc, o: { containerId: string; dir: string; process: OciSpecProcess; stdin: boolean; timeoutMs?: number }): Promise<DirectExecHandle> {
  await fsp.mkdir(o.dir, { recursive: true, mode: 0o700 });
  const spec = path.join(o.dir, 'process.json');
  const pidFile = path.join(o.dir, 'pid');
  const log = path.join(o.dir, 'oci-log');
  await fsp.writeFile(spec, JSON.stringify({ ...o.process, terminal: false }), { mode: 0o600 });
  const child = spawn(runc.path, [...runc.globalArgs(), '--log', log, '--log-format', 'json', 'exec', '--process', spec, '--pid-file', pidFile, o.containerId], {
    stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  child.stdin?.on('error', () => {});
  // Listen at once: Node drains (and drops) unread child stdio when the child exits.
  const output = mergeOutput(child.stdout!, child.stderr!);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', () => resolve({ code: 255, signal: null }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const started = new Promise<number>((resolve) => {
    const poll = async () => {
      const text = await fsp.readFile(pidFile, 'utf8').catch(() => '');
      const pid = Number.parseInt(text, 10);
      if (pid > 0) return resolve(pid);
      if (child.exitCode !== null || child.signalCode !== null) return resolve(0);
      setTimeout(poll, 5);
    };
    void poll();
  });
  const failure = async (): Promise<ExecStartError | undefined> => {
    const msg = await fsp.readFile(log, 'utf8').then(runcErrorMessage, () => '');
    if (!msg) return undefined;
    const code = /executable file not found|no such file or directory/i.test(msg) ? 127 : /permission denied/i.test(msg) ? 126 : 125;
    return new ExecStartError(msg, code);
  };
  const pid = await Promise.race([started, exit.then(() => 0)]);
  if (!pid) {
    const { code } = await exit;
    const err = await failure();
    if (err || code === 255) throw err ?? new ExecStartError('exec failed', 125);
  }
  const exited = exit.then(async ({ code, signal }) => {
    if (code === 255 && !pid) {
      const err = await failure();
      if (err) throw err;
    }
    if (signal) return 128 + (os.constants.signals[signal] ?? 0);
    return code ?? -1;
  });
  exited.catch(() => {});
  return {
    pid,
    output,
    ...(child.stdin ? { stdin: child.stdin } : {}),
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Merges two readables into one async iterable of tagged chunks, pausing them while the consumer lags. */
function mergeOutput(stdout: Readable, stderr: Readable): AsyncIterable<{ stream: 'stdout' | 'stderr'; data: Buffer }> {
  const queue: { stream: 'stdout' | 'stderr'; data: Buffer }[] = [];
  const paused = new Set<Readable>();
  let open = 2;
  let wake: (() => void) | undefined;
  const feed = (stream: 'stdout' | 'stderr', r: Readable) => {
    r.on('data', (b: Buffer) => {
      queue.push({ stream, data: b });
      if (queue.length > 64) {
        r.pause();
        paused.add(r);
      }
      wake?.();
    });
    const done = () => {
      open--;
      wake?.();
    };
    r.once('end', done);
    r.on('error', () => {});
  };
  feed('stdout', stdout);
  feed('stderr', stderr);
  return {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        for (const r of paused) r.resume();
        paused.clear();
        if (open <= 0) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    },
  };
}
