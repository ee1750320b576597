// Thin async wrappers over the runc binary. Every call runs `runc --root <root> --log-format json
// <command> ...`; on failure the EngineError carries runc's own message (the `msg` of its JSON
// error lines, or its plain stderr), with kind 'not-found' when the container does not exist.
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EngineError } from '../errors.js';

/** The state `runc state` reports (runtime-spec state.md plus runc's extras). */
export interface RuncState {
  ociVersion: string;
  id: string;
  /** 0 once the container has stopped. */
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
  rootfs: string;
  created: string;
  owner?: string;
  annotations?: Record<string, string>;
}

export class RuncError extends EngineError {
  constructor(
    kind: 'not-found' | 'internal',
    message: string,
    /** runc's arguments after the global flags (command first). */
    readonly args: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(kind, message);
    this.name = 'RuncError';
  }
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, collecting its output (no shell). */
export function runCommand(
  file: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      timeout: opts.timeoutMs,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {}); // EPIPE when the command does not read its input
      child.stdin!.end(opts.input);
    }
  });
}

/** Finds an executable on PATH (or checks an absolute path). */
export function findExecutable(name: string, extraDirs: string[] = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin', '/usr/local/sbin', '/usr/libexec/podman']): string | undefined {
  const candidates = path.isAbsolute(name)
    ? [name]
    : [...(process.env.PATH ?? '').split(':').filter(Boolean), ...extraDirs].map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, fsConstants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * The error message in runc's stderr: the `msg` of each JSON log line at level error/fatal
 * (runc runs with --log-format json), or the non-JSON lines as they are.
 */
export function runcErrorMessage(stderr: string): string {
  const msgs: string[] = [];
  const plain: string[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('{')) {
      try {
        const j = JSON.parse(line) as { level?: string; msg?: string };
        if ((j.level === 'error' || j.level === 'fatal') && j.msg) msgs.push(j.msg);
        continue;
      } catch {
        // not JSON after all
      }
    }
    const m = /^time="[^"]*" level=(?:error|fatal) msg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (m) {
      try {
        msgs.push(JSON.parse(`"${m[1]}"`) as string);
      } catch {
        msgs.push(m[1]!);
      }
      continue;
    }
    if (/^time="[^"]*" level=/.test(line)) continue; // warnings, info
    plain.push(line);
  }
  const all = msgs.length ? msgs : plain;
  return [...new Set(all)].join('\n');
}

const NOT_FOUND_RE = /\bcontainer(?: "[^"]*")? does not exist\b/i;

/** Signal number of a name ("TERM", "SIGTERM", "sigkill", "RTMIN+3") or number. Throws invalid-argument. */
export function parseSignal(sig: string | number): number {
  if (typeof sig === 'number') {
    if (!Number.isInteger(sig) || sig < 1 || sig > 64) throw new EngineError('invalid-argument', `invalid signal ${sig}`);
    return sig;
  }
  const s = sig.trim().toUpperCase();
  if (/^\d+$/.test(s)) return parseSignal(Number(s));
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  const rt = /^SIGRTM(IN|AX)([+-]\d+)?$/.exec(name);
  if (rt) {
    const base = rt[1] === 'IN' ? 34 : 64;
    return parseSignal(base + Number(rt[2] ?? 0));
  }
  const n = (os.constants.signals as Record<string, number>)[name];
  if (n === undefined) throw new EngineError('invalid-argument', `invalid signal: ${sig}`);
  return n;
}

/** The "Error (file:line): message" lines of a CRIU log (dump.log, restore.log), or [] when none or unreadable. */
export async function criuLogErrors(logFile: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(logFile, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\([\d.]+\)\s+(?:\d+:\s+)?Error \(([^)]*)\):\s*(.*)$/.exec(line.trim());
    if (m) out.push(`${m[2]} (${m[1]})`);
  }
  return [...new Set(out)].slice(0, 10);
}

/** runc's message followed by CRIU's reasons (as "criu: ..."), for one error message. */
export function withCriuErrors(runcMessage: string, criuErrors: string[]): string {
  // runc points at CRIU's log ("log file: ..."); its errors are quoted instead, as the log may go.
  const lines = runcMessage.split('\n').map((l) => l.trim()).filter((l) => l && !(criuErrors.length && /^log file: /.test(l)));
  const head = lines.join(': ');
  return criuErrors.length ? `${head}: criu: ${criuErrors.join('; ')}` : head;
}

export interface RuncOptions {
  /** The runc binary (default: found on PATH). */
  path?: string;
  /** runc's state directory (--root), e.g. <runroot>/runc. */
  root: string;
  env?: NodeJS.ProcessEnv;
}

export class Runc {
  readonly path: string;
  readonly root: string;
  private readonly env: NodeJS.ProcessEnv | undefined;

  constructor(opts: RuncOptions) {
    const p = opts.path ?? findExecutable('runc');
    if (!p) throw new EngineError('unavailable', 'runc not found in $PATH');
    this.path = p;
    this.root = opts.root;
    this.env = opts.env;
  }

  /** The global flags every call gets (also used for conmon's --runtime-arg). */
  globalArgs(): string[] {
    return ['--root', this.root];
  }

  /** Runs `runc <global flags> <args>`; throws RuncError on a non-zero exit. */
  async run(args: string[], opts: { input?: string } = {}): Promise<string> {
    const res = await runCommand(this.path, [...this.globalArgs(), '--log-format', 'json', ...args], {
      input: opts.input,
      env: this.env,
    });
    if (res.code === 0) return res.stdout;
    const msg = runcErrorMessage(res.stderr) || `runc ${args[0]} failed with ${res.code ?? res.signal}`;
    const kind = NOT_FOUND_RE.test(msg) ? 'not-found' : 'internal';
    throw new RuncError(kind, msg, args, res.code, res.stderr);
  }

  async state(id: string): Promise<RuncState> {
    return JSON.parse(await this.run(['state', id])) as RuncState;
  }

  /** The state, or undefined when runc does not know the container. */
  async stateOrUndefined(id: string): Promise<RuncState | undefined> {
    try {
      return await this.state(id);
    } catch (err) {
      if (err instanceof EngineError && err.kind === 'not-found') return undefined;
      throw err;
    }
  }

  async list(): Promise<RuncState[]> {
    const out = await this.run(['list', '--format', 'json']);
    const parsed = JSON.parse(out || 'null') as RuncState[] | null;
    return parsed ?? [];
  }

  async start(id: string): Promise<void> {
    await this.run(['start', id]);
  }

  /** Sends a signal (name or number) to the container's init, or to all its processes with `all`. */
  async kill(id: string, signal: string | number = 'SIGTERM', opts: { all?: boolean } = {}): Promise<void> {
    const n = parseSignal(signal);
    await this.run(['kill', ...(opts.all ? ['--all'] : []), id, String(n)]);
  }

  async pause(id: string): Promise<void> {
    await this.run(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.run(['resume', id]);
  }

  /** Deletes the container's runtime state (and cgroup); `force` kills it first if running. */
  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.run(['delete', ...(opts.force ? ['--force'] : []), id]);
  }

  /**
   * `runc checkpoint`: CRIU dumps the container into `imagePath` (its log, dump.log, goes to
   * `workPath`). Without `leaveRunning` the container is gone afterwards. Throws RuncError
   * with runc's message (CRIU's own reasons are in dump.log).
   */
  async checkpoint(id: string, o: { imagePath: string; workPath: string; leaveRunning?: boolean; tcpEstablished?: boolean; fileLocks?: boolean; preDump?: boolean; parentPath?: string }): Promise<void> {
    const args = ['checkpoint', '--image-path', o.imagePath, '--work-path', o.workPath];
    if (o.leaveRunning) args.push('--leave-running');
    if (o.tcpEstablished) args.push('--tcp-established');
    if (o.fileLocks) args.push('--file-locks');
    if (o.preDump) args.push('--pre-dump');
    if (o.parentPath) args.push('--parent-path', o.parentPath);
    await this.run([...args, id]);
  }

  /** PIDs (host namespace) of every process in the container. */
  async ps(id: string): Promise<number[]> {
    const out = await this.run(['ps', '--format', 'json', id]);
    return (JSON.parse(out || 'null') as number[] | null) ?? [];
  }

  /** One-shot cgroup statistics (`runc events --stats`): runc's `data` object. */
  async stats(id: string): Promise<Record<string, unknown>> {
    const out = await this.run(['events', '--stats', id]);
    const parsed = JSON.parse(out) as { type: string; data?: Record<string, unknown> };
    return parsed.data ?? {};
  }

  /** Updates the container's cgroup limits (OCI linux.resources object). */
  async update(id: string, resources: object): Promise<void> {
    await this.run(['update', '--resources', '-', id], { input: JSON.stringify(resources) });
  }

  /**
   * Runs a process in the container and waits for it, returning its output (a simple,
   * unattached exec; the engine's interactive exec goes through conmon).
   */
  async execCapture(
    id: string,
    args: string[],
    opts: { env?: string[]; cwd?: string; user?: string } = {},
  ): Promise<CommandResult> {
    const flags: string[] = [];
    for (const e of opts.env ?? []) flags.push('--env', e);
    if (opts.cwd) flags.push('--cwd', opts.cwd);
    if (opts.user) flags.push('--user', opts.user);
    return runCommand(this.path, [...this.globalArgs(), 'exec', ...flags, id, ...args], { env: this.env });
  }

  /** runc's version line ("runc version 1.1.5+ds1"). */
  async version(): Promise<string> {
    const res = await runCommand(this.path, ['--version'], { env: this.env });
    return res.stdout.split('\n')[0]?.trim() ?? '';
  }
}
