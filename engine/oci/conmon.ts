// Runs containers under conmon, the way Podman does (libpod/oci_conmon_*.go), so that each
// container has its own monitor process and outlives the service:
//
//   create: spawn `conmon --api-version 1 -c <id> -u <id> -r <runc> -b <bundle> ...` with two
//           extra fds: _OCI_SYNCPIPE (fd 3) and _OCI_STARTPIPE (fd 4). conmon blocks reading the
//           start pipe (the caller may move it to a cgroup first), then double-forks (the first
//           process writes --conmon-pidfile and exits; the daemon calls setsid and points its
//           stdio at /dev/null) and runs `runc create`. It then writes one JSON line on the sync
//           pipe: {"data": <container pid>} or {"data": -1, "message": "<runc's stderr>"}.
//   start:  `runc start <id>` (conmon is not involved).
//   exit:   conmon writes the exit code to <exit-dir>/<id> (and <persist-dir>/exit), then runs
//           the exit command (--exit-command + --exit-command-arg...).
//
// Files conmon makes in the bundle: `attach` (SOCK_SEQPACKET listening socket, with
// --full-attach), `ctl` and `winsz` (fifos: "<type> <height> <width>\n", type 1 = resize,
// 2 = reopen the log), `oci-log` (runc's JSON log, see below), `pidfile`, `conmon.pid`.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, promises as fsp, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { EngineError } from '../errors.js';
import { criuLogErrors, findExecutable, Runc, runcErrorMessage, withCriuErrors } from './runc.js';
import { serializeRuntimeSpec } from './runtime-spec.js';
import type { OciSpec } from './spec-types.js';

/** Why the OCI runtime failed, classified as Podman does (getOCIRuntimeError). */
export type OciRuntimeErrorReason = 'command-not-found' | 'permission-denied' | 'not-a-directory' | 'other';

/** A container could not be created or started; `message` is runc's own error message. */
export class OciRuntimeError extends EngineError {
  readonly failure: OciRuntimeErrorReason;
  constructor(
    readonly runtimeMessage: string,
    readonly phase: 'create' | 'start',
  ) {
    super('internal', runtimeMessage);
    this.name = 'OciRuntimeError';
    this.failure = classifyRuntimeMessage(runtimeMessage);
  }

  /** Podman's wording: "<runtime>: <message>: <reason text>". */
  podmanMessage(runtimeName = 'runc'): string {
    const suffix = {
      'command-not-found': 'OCI runtime attempted to invoke a command that was not found',
      'permission-denied': 'OCI permission denied',
      'not-a-directory': 'OCI runtime error',
      other: 'OCI runtime error',
    }[this.failure];
    return `${runtimeName}: ${this.runtimeMessage.trim()}: ${suffix}`;
  }
}

export function classifyRuntimeMessage(msg: string): OciRuntimeErrorReason {
  if (/permission denied|operation not permitted/i.test(msg)) return 'permission-denied';
  if (/executable file not found in|no such file or directory/i.test(msg)) return 'command-not-found';
  if (/not a directory/i.test(msg)) return 'not-a-directory';
  return 'other';
}

export interface ConmonRuntimeOptions {
  /** The runc wrapper (its path and --root go to conmon). */
  runc: Runc;
  /** The conmon binary (default: found on PATH or in /usr/libexec/podman). */
  conmonPath?: string;
  /** Where conmon writes <id> files holding exit codes. */
  exitDir: string;
  /** conmon's --socket-dir-path (attach socket symlinks; unused with --full-attach but required). */
  socketDir: string;
  /** conmon's --log-level (default "error"). */
  logLevel?: 'error' | 'warning' | 'info' | 'debug' | 'trace';
  /** Extra environment for conmon, runc and the exit command (merged over process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface ConmonCreateOptions {
  id: string;
  /** Container name (conmon -n); default the ID. */
  name?: string;
  /** The bundle dir holding config.json; conmon and runc write their files there too. */
  bundle: string;
  /** k8s-file log path. */
  logPath: string;
  /** Bytes; conmon truncates the log when it grows beyond this. */
  logSizeMax?: number;
  /** Container PID file (default <bundle>/pidfile). */
  pidFile?: string;
  /** conmon's own PID file (default <bundle>/conmon.pid). */
  conmonPidFile?: string;
  /** conmon also writes the exit code to <persistDir>/exit. */
  persistDir?: string;
  /** Command run by conmon after the container exits: [path, ...args]. */
  exitCommand?: string[];
  /** Seconds conmon waits before running the exit command. */
  exitDelay?: number;
  terminal?: boolean;
  /** Keep a stdin pipe (non-terminal containers). */
  stdin?: boolean;
  leaveStdinOpen?: boolean;
  /** conmon kills the container after this many seconds. */
  timeout?: number;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /** Runs after conmon started and before it is told to go on (e.g. move it into a cgroup). */
  beforeStart?: (conmonFirstPid: number) => Promise<void>;
  /** How long to wait for conmon to report the container PID (default 60 s). */
  timeoutMs?: number;
  /** Restore from a checkpoint (CRIU images in `imagePath`) instead of creating; runtimeOpts go to `runc restore`. */
  restore?: { imagePath: string; runtimeOpts?: string[] };
}

export interface ConmonCreateResult {
  /** The container's init PID (host PID namespace). */
  pid: number;
  /** The PID of the conmon daemon monitoring it. */
  conmonPid: number;
}

export interface ConmonCleanupOptions {
  /** Bundle to remove (recursively). */
  bundle?: string;
  /** Remove the bundle directory (default true when bundle is given). */
  removeBundle?: boolean;
  /** Remove <exitDir>/<id> (default true). */
  removeExitFile?: boolean;
  /** conmon's PID if known (else read from <bundle>/conmon.pid). */
  conmonPid?: number;
  /** How long to wait for conmon to go away by itself before SIGKILL (default 2 s). */
  conmonGraceMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether `pid` is a conmon process monitoring container `id` (guards against PID reuse). */
export async function isConmonFor(pid: number, id: string): Promise<boolean> {
  try {
    const argv = (await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    if (!path.basename(argv[0] ?? '').includes('conmon')) return false;
    for (let i = 0; i < argv.length - 1; i++) {
      if ((argv[i] === '-c' || argv[i] === '--cid') && argv[i + 1] === id) return true;
      if (argv[i] === `--cid=${id}`) return true;
    }
    return false;
  } catch {
    return false;
  }
}

async function readPidFile(p: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await fsp.readFile(p, 'utf8')).trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Reads one newline-terminated JSON object from conmon's sync pipe. */
function readSyncMessage(stream: Readable, timeoutMs: number): Promise<{ data: number; message?: string }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (fn: () => void) => {
      clearTimeout(timer);
      stream.removeAllListeners('data');
      stream.removeAllListeners('end');
      stream.removeAllListeners('error');
      stream.removeAllListeners('close');
      stream.on('error', () => {});
      stream.destroy();
      fn();
    };
    const timer = setTimeout(
      () => done(() => reject(new EngineError('internal', `conmon did not report the container PID within ${timeoutMs} ms`))),
      timeoutMs,
    );
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      try {
        const msg = JSON.parse(line) as { data: number; message?: string };
        done(() => resolve(msg));
      } catch {
        done(() => reject(new EngineError('internal', `conmon sent an unreadable message: ${JSON.stringify(line)}`)));
      }
    });
    const eof = () => {
      if (buf.trim()) {
        try {
          const msg = JSON.parse(buf.trim()) as { data: number; message?: string };
          done(() => resolve(msg));
          return;
        } catch {
          // fall through
        }
      }
      done(() => reject(new EngineError('internal', 'conmon exited without reporting the container PID')));
    };
    stream.on('end', eof);
    stream.on('error', eof);
    stream.on('close', eof);
  });
}

function waitChildExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

export class ConmonRuntime {
  readonly runc: Runc;
  readonly conmonPath: string;
  readonly exitDir: string;
  readonly socketDir: string;
  readonly logLevel: string;
  /** The environment conmon, runc and exit commands run with. */
  readonly env: NodeJS.ProcessEnv;

  constructor(opts: ConmonRuntimeOptions) {
    const conmon = opts.conmonPath ?? findExecutable('conmon');
    if (!conmon) throw new EngineError('unavailable', 'conmon not found in $PATH');
    this.runc = opts.runc;
    this.conmonPath = conmon;
    this.exitDir = opts.exitDir;
    this.socketDir = opts.socketDir;
    this.logLevel = opts.logLevel ?? 'error';
    const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
    delete env.NOTIFY_SOCKET;
    delete env.LISTEN_FDS;
    delete env.LISTEN_PID;
    delete env.LISTEN_FDNAMES;
    if (!env.PATH) env.PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    this.env = env;
  }

  /** Creates the runtime's directories (exit dir, socket dir, runc root). */
  async init(): Promise<void> {
    await fsp.mkdir(this.exitDir, { recursive: true, mode: 0o750 });
    await fsp.mkdir(this.socketDir, { recursive: true, mode: 0o750 });
    await fsp.mkdir(this.runc.root, { recursive: true, mode: 0o700 });
  }

  exitFilePath(id: string): string {
    return path.join(this.exitDir, id);
  }

  /** conmon's attach socket (SOCK_SEQPACKET; see attach.ts). */
  attachSocketPath(bundle: string): string {
    return path.join(bundle, 'attach');
  }

  ctlFifoPath(bundle: string): string {
    return path.join(bundle, 'ctl');
  }

  /** Creates the bundle dir and writes config.json. */
  async writeBundle(bundle: string, spec: OciSpec): Promise<void> {
    await fsp.mkdir(bundle, { recursive: true, mode: 0o700 });
    await fsp.writeFile(path.join(bundle, 'config.json'), serializeRuntimeSpec(spec), { mode: 0o600 });
  }

  /** conmon's argument list for `create` (exported for tests and debugging). */
  conmonArgs(o: ConmonCreateOptions): string[] {
    const pidFile = o.pidFile ?? path.join(o.bundle, 'pidfile');
    const args = [
      '--api-version',
      '1',
      '-c',
      o.id,
      '-u',
      o.id,
      '-r',
      this.runc.path,
      '-b',
      o.bundle,
      '-p',
      pidFile,
      '-n',
      o.name ?? o.id,
      '--exit-dir',
      this.exitDir,
      '--full-attach',
      '--socket-dir-path',
      this.socketDir,
      '-l',
      `k8s-file:${o.logPath}`,
      '--log-level',
      this.logLevel,
      '--conmon-pidfile',
      o.conmonPidFile ?? path.join(o.bundle, 'conmon.pid'),
    ];
    for (const a of this.runc.globalArgs()) args.push(`--runtime-arg=${a}`);
    // runc's own log goes to a file in the bundle rather than into the container's stderr.
    args.push('--runtime-arg=--log-format=json', `--runtime-arg=--log=${path.join(o.bundle, 'oci-log')}`);
    if (o.logSizeMax && o.logSizeMax > 0) args.push('--log-size-max', String(o.logSizeMax));
    if (o.persistDir) args.push('--persist-dir', o.persistDir);
    if (o.terminal) args.push('-t');
    else if (o.stdin) args.push('-i');
    if (o.leaveStdinOpen) args.push('--leave-stdin-open');
    if (o.timeout && o.timeout > 0) args.push(`--timeout=${o.timeout}`);
    if (o.noPivot) args.push('--no-pivot');
    if (o.noNewKeyring) args.push('--no-new-keyring');
    if (o.restore) {
      // conmon runs `runc restore --detach --image-path <dir> --work-path <bundle>` instead of create.
      args.push('--restore', o.restore.imagePath);
      for (const opt of o.restore.runtimeOpts ?? []) args.push('--runtime-opt', opt);
    }
    if (o.exitCommand?.length) {
      args.push('--exit-command', o.exitCommand[0]!);
      for (const a of o.exitCommand.slice(1)) args.push(`--exit-command-arg=${a}`);
      if (o.exitDelay && o.exitDelay > 0) args.push('--exit-delay', String(o.exitDelay));
    }
    return args;
  }

  /**
   * Creates the container under a new conmon (runc create). Resolves with the container and
   * conmon PIDs; rejects with OciRuntimeError carrying runc's message (after removing what runc
   * left behind) or an EngineError for conmon failures.
   */
  async create(o: ConmonCreateOptions): Promise<ConmonCreateResult> {
    await fsp.access(path.join(o.bundle, 'config.json'), fsConstants.R_OK).catch(() => {
      throw new EngineError('invalid-argument', `no config.json in bundle ${o.bundle}`);
    });
    await fsp.rm(this.exitFilePath(o.id), { force: true });
    await fsp.rm(path.join(o.bundle, 'oci-log'), { force: true });
    const conmonPidFile = o.conmonPidFile ?? path.join(o.bundle, 'conmon.pid');
    await fsp.rm(conmonPidFile, { force: true });

    const child = spawn(this.conmonPath, this.conmonArgs(o), {
      // 0: /dev/null, 1: /dev/null, 2: conmon's early errors, 3: sync pipe, 4: start pipe
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      detached: true, // own session and process group: signals to ours never reach it
      cwd: o.bundle,
      env: { ...this.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' },
    });
    const stderr: Buffer[] = [];
    child.stderr!.on('data', (b: Buffer) => stderr.push(b));
    child.stderr!.on('error', () => {});
    const syncPipe = child.stdio[3] as Readable;
    const startPipe = child.stdio[4] as Writable;
    startPipe.on('error', () => {}); // EPIPE if conmon died early
    const exited = waitChildExit(child);
    const sync = readSyncMessage(syncPipe, o.timeoutMs ?? 60_000);
    sync.catch(() => {}); // handled below

    if (o.beforeStart && child.pid) {
      try {
        await o.beforeStart(child.pid);
      } catch (err) {
        // conmon is still blocked on the start pipe: nothing was created yet.
        child.kill('SIGKILL');
        startPipe.destroy();
        syncPipe.destroy();
        child.stderr!.destroy();
        await exited.catch(() => {});
        throw err;
      }
    }
    startPipe.end(Buffer.from([0]));

    const { code, signal } = await exited;
    if (code !== 0) {
      child.stderr!.destroy();
      (child.stdio[3] as Readable).destroy();
      const text = Buffer.concat(stderr).toString('utf8').trim();
      throw new EngineError('internal', `conmon failed (${code ?? signal}): ${text || 'no output'}`);
    }
    child.unref();

    let msg: { data: number; message?: string };
    try {
      msg = await sync;
    } catch (err) {
      await this.killConmon(o.id, await readPidFile(conmonPidFile), 0);
      await this.runc.delete(o.id, { force: true }).catch(() => {});
      throw err;
    } finally {
      child.stderr!.destroy();
    }
    if (msg.data < 0) {
      let runtimeMessage = (await this.readOciLogError(o.bundle)) || runcErrorMessage(msg.message ?? '') || 'container create failed';
      // runc restore works in the bundle: CRIU's own reasons are in its restore.log.
      if (o.restore) runtimeMessage = withCriuErrors(runtimeMessage, await criuLogErrors(path.join(o.bundle, 'restore.log')));
      await this.runc.delete(o.id, { force: true }).catch(() => {});
      throw new OciRuntimeError(runtimeMessage, 'create');
    }
    const conmonPid = (await readPidFile(conmonPidFile)) ?? 0;
    return { pid: msg.data, conmonPid };
  }

  /** The error runc logged to <bundle>/oci-log, if any. */
  async readOciLogError(bundle: string): Promise<string> {
    try {
      return runcErrorMessage(await fsp.readFile(path.join(bundle, 'oci-log'), 'utf8'));
    } catch {
      return '';
    }
  }

  /** Starts a created container (`runc start`); rejects with OciRuntimeError on failure. */
  async start(id: string): Promise<void> {
    try {
      await this.runc.start(id);
    } catch (err) {
      if (err instanceof EngineError && err.kind === 'not-found') throw err;
      throw new OciRuntimeError((err as Error).message, 'start');
    }
  }

  /** The exit code conmon recorded, or undefined while the container has not exited. */
  async readExitCode(id: string): Promise<number | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(this.exitFilePath(id), 'utf8');
    } catch {
      return undefined;
    }
    const n = Number.parseInt(text.trim(), 10);
    return Number.isInteger(n) ? n : undefined;
  }

  /**
   * Waits for conmon's exit file and returns the exit code. Watches the exit dir (inotify) with
   * a slow poll as a safety net. Rejects on `signal` abort or after `timeoutMs`.
   */
  async waitExit(id: string, opts: { signal?: AbortSignal; timeoutMs?: number; pollMs?: number } = {}): Promise<number> {
    let watcher: FSWatcher | undefined;
    let poll: NodeJS.Timeout | undefined;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      return await new Promise<number>((resolve, reject) => {
        let checking = false;
        let again = false;
        const check = async () => {
          if (checking) {
            again = true;
            return;
          }
          checking = true;
          try {
            do {
              again = false;
              const code = await this.readExitCode(id);
              if (code !== undefined) {
                resolve(code);
                return;
              }
            } while (again);
          } finally {
            checking = false;
          }
        };
        try {
          watcher = watch(this.exitDir, { persistent: true }, (_ev, name) => {
            if (!name || name === id) void check();
          });
          watcher.on('error', () => {});
        } catch {
          // no inotify: the poll below does the job
        }
        poll = setInterval(() => void check(), opts.pollMs ?? (watcher ? 1000 : 100));
        if (opts.timeoutMs !== undefined) {
          timer = setTimeout(() => reject(new EngineError('internal', `timed out waiting for container ${id} to exit`)), opts.timeoutMs);
        }
        if (opts.signal) {
          if (opts.signal.aborted) reject(opts.signal.reason ?? new Error('aborted'));
          onAbort = () => reject(opts.signal!.reason ?? new Error('aborted'));
          opts.signal.addEventListener('abort', onAbort, { once: true });
        }
        void check();
      });
    } finally {
      watcher?.close();
      if (poll) clearInterval(poll);
      if (timer) clearTimeout(timer);
      if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Resizes the container's terminal through conmon's ctl fifo. */
  async resize(bundle: string, size: { height: number; width: number }): Promise<void> {
    await this.writeCtl(bundle, `1 ${Math.trunc(size.height)} ${Math.trunc(size.width)}\n`);
  }

  /** Makes conmon reopen the log file (after the engine rotated it). */
  async reopenLog(bundle: string): Promise<void> {
    await this.writeCtl(bundle, '2 0 0\n');
  }

  private async writeCtl(bundle: string, line: string): Promise<void> {
    let fh: import('node:fs/promises').FileHandle;
    try {
      fh = await fsp.open(this.ctlFifoPath(bundle), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENXIO') throw new EngineError('conflict', 'the container is not running (no conmon control fifo)');
      throw err;
    }
    try {
      await fh.write(line);
    } finally {
      await fh.close();
    }
  }

  /** The conmon daemon PID of container `id` if it is still running. */
  async conmonPid(id: string, bundle: string, known?: number): Promise<number | undefined> {
    const pid = known ?? (await readPidFile(path.join(bundle, 'conmon.pid')));
    if (pid && isAlive(pid) && (await isConmonFor(pid, id))) return pid;
    return undefined;
  }

  /**
   * Removes everything of a container at the runtime level: runc's state and cgroup (`runc
   * delete --force`, which kills a running container), its conmon (given a grace period to
   * finish), the exit file, the attach symlink and, by default, the bundle.
   */
  async cleanup(id: string, opts: ConmonCleanupOptions = {}): Promise<void> {
    try {
      await this.runc.delete(id, { force: true });
    } catch (err) {
      if (!(err instanceof EngineError && err.kind === 'not-found')) {
        // A container still being created can make delete fail once; retry after a moment.
        await sleep(50);
        await this.runc.delete(id, { force: true }).catch((e2: unknown) => {
          if (!(e2 instanceof EngineError && e2.kind === 'not-found')) throw e2;
        });
      }
    }
    const conmonPid = opts.conmonPid ?? (opts.bundle ? await readPidFile(path.join(opts.bundle, 'conmon.pid')) : undefined);
    await this.killConmon(id, conmonPid, opts.conmonGraceMs ?? 2000);
    if (opts.removeExitFile ?? true) await fsp.rm(this.exitFilePath(id), { force: true });
    await fsp.rm(path.join(this.socketDir, id), { force: true, recursive: false }).catch(() => {});
    if (opts.bundle && (opts.removeBundle ?? true)) await fsp.rm(opts.bundle, { recursive: true, force: true });
  }

  private async killConmon(id: string, pid: number | undefined, graceMs: number): Promise<void> {
    if (!pid || !(await isConmonFor(pid, id))) return;
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && isAlive(pid) && (await isConmonFor(pid, id))) await sleep(20);
    if (!isAlive(pid) || !(await isConmonFor(pid, id))) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    for (let i = 0; i < 100 && isAlive(pid) && (await isConmonFor(pid, id)); i++) await sleep(10);
  }
}
