// The services under test (a Side: tspod, Podman) and how to start, probe and stop them:
// directly on a unix socket, or behind systemd-socket-activate.
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { BenchContext, SideName } from './context.js';
import { get, probeUntilAnswer, type Endpoint } from './http1.js';

export interface Side {
  readonly name: SideName;
  /** For headers: name, version and what matters about the setup (storage driver). */
  label: string;
  /** This side's state: root, runroot, sockets, logs. */
  readonly dir: string;
  /** The service's command line, listening on `socket`, or on the socket systemd passes (no socket). */
  argv(socket?: string, nodeFlags?: string[]): string[];
  /** Facts for --json (versions, storage driver, options used). */
  facts: Record<string, unknown>;
  /** Called when the first start failed: change the setup and return true to retry. */
  fallback?(reason: string): boolean;
  /** Called once the first start answered, with the Docker /info body. */
  describe?(info: Record<string, unknown>): void;
}

export interface TspodBuild {
  /** What bin/tspod.js loads: the esbuild bundle when present, else the compiled modules. */
  entry: 'dist/bundle/tspod.js' | 'dist/cli/main.js';
  /** Newest modification time of the built files, to notice a rebuild during the run. */
  stamp: number;
  /** Why the build may not be what the sources say. */
  warning?: string;
}

function newest(dir: string, ext: string): number {
  let latest = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e);
    const st = statSync(p);
    latest = Math.max(latest, st.isDirectory() ? newest(p, ext) : p.endsWith(ext) ? st.mtimeMs : 0);
  }
  return latest;
}

const SOURCE_DIRS = ['cli', 'server', 'engine', 'handlers'];

export function tspodBuild(repoRoot: string): TspodBuild {
  const dist = join(repoRoot, 'dist');
  const bundled = existsSync(join(dist, 'bundle', 'tspod.js'));
  // What runs: the bundle, or the compiled modules (tsc rewrites those even when unchanged, so
  // a bundle is judged against the sources instead).
  const built = bundled ? newest(join(dist, 'bundle'), '.js') : Math.max(...SOURCE_DIRS.map((d) => newest(join(dist, d), '.js')));
  const sources = Math.max(...SOURCE_DIRS.map((d) => newest(join(repoRoot, d), '.ts')));
  const build: TspodBuild = { entry: bundled ? 'dist/bundle/tspod.js' : 'dist/cli/main.js', stamp: built };
  if (sources > built + 1000) {
    build.warning = `tspod's sources are newer than ${bundled ? 'dist/bundle/' : 'dist/'} (by ${((sources - built) / 1000).toFixed(0)} s): the run may measure a stale build; npm run bench rebuilds (scripts/setup.sh)`;
  }
  return build;
}

/**
 * A copy of what tspod runs (bin/, the built dist/ without tests and scripts, generated/,
 * package.json; node_modules and .git linked), so that a rebuild in the checkout during the run
 * does not change the service under test. Retries while a build is being written.
 */
export function snapshotTspod(repoRoot: string, into: string): string {
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = tspodBuild(repoRoot).stamp;
    rmSync(into, { recursive: true, force: true });
    mkdirSync(join(into, 'dist'), { recursive: true });
    for (const f of ['bin', 'generated', 'package.json']) cpSync(join(repoRoot, f), join(into, f), { recursive: true, preserveTimestamps: true });
    for (const d of readdirSync(join(repoRoot, 'dist'))) {
      if (d !== 'test' && d !== 'scripts') cpSync(join(repoRoot, 'dist', d), join(into, 'dist', d), { recursive: true, preserveTimestamps: true });
    }
    for (const link of ['node_modules', '.git']) if (existsSync(join(repoRoot, link))) symlinkSync(join(repoRoot, link), join(into, link));
    const after = tspodBuild(repoRoot).stamp;
    // (copied timestamps may lose sub-millisecond precision)
    if (before === after && Math.abs(before - tspodBuild(into).stamp) < 2) return into;
    spawnSync('sleep', ['2']);
  }
  throw new Error('tspod was being rebuilt throughout: no consistent snapshot of its build');
}

export function tspodSide(ctx: { repoRoot: string; tspodRoot: string; tempDir(name: string): string; options: { tspodNodeFlags: string[] } }): Side {
  const dir = ctx.tempDir('tspod');
  const pkg = JSON.parse(readFileSync(join(ctx.repoRoot, 'package.json'), 'utf8')) as { version: string };
  const commit = spawnSync('git', ['-C', ctx.repoRoot, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim() || 'unknown';
  const dirty = spawnSync('git', ['-C', ctx.repoRoot, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).stdout?.trim() ? '+changes' : '';
  const build = tspodBuild(ctx.tspodRoot);
  return {
    name: 'tspod',
    label: `tspod ${pkg.version} (${commit}${dirty}${ctx.tspodRoot !== ctx.repoRoot ? ', snapshot' : ''}, node ${process.versions.node}${ctx.options.tspodNodeFlags.length ? ` ${ctx.options.tspodNodeFlags.join(' ')}` : ''}, ${build.entry === 'dist/bundle/tspod.js' ? 'bundled' : 'unbundled'})`,
    dir,
    facts: { version: pkg.version, commit, dirty: !!dirty, node: process.versions.node, entry: build.entry, nodeFlags: ctx.options.tspodNodeFlags },
    argv: (socket, nodeFlags = []) => [
      process.execPath,
      ...ctx.options.tspodNodeFlags,
      ...nodeFlags,
      join(ctx.tspodRoot, 'bin', 'tspod.js'),
      '--root',
      join(dir, 'root'),
      '--runroot',
      join(dir, 'runroot'),
      'system',
      'service',
      '--time',
      '0',
      ...(socket ? [`unix://${socket}`] : []),
    ],
  };
}

/** An executable on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(d, cmd);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The PATH systemd gives system services. */
export const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The environment of the services: by default a minimal one, as a systemd unit gets (PATH, LANG,
 * HOME), so the shell's settings do not skew the figures — NODE_EXTRA_CA_CERTS, for one, makes
 * every Node process parse a CA bundle at boot. With --inherit-env: the bench's own environment.
 */
export function serviceEnv(options: { inheritEnv: boolean }): NodeJS.ProcessEnv {
  if (!options.inheritEnv) return { PATH: SYSTEMD_PATH, LANG: process.env.LANG ?? 'C.UTF-8', HOME: process.env.HOME ?? '/root' };
  const env = { ...process.env };
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  delete env.NOTIFY_SOCKET;
  return env;
}

/** VmRSS, VmHWM… of a live process, in kB. */
export function procStatusKb(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number | undefined {
  if (!pid) return undefined;
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function logTail(file: string, chars = 1500): string {
  try {
    const t = readFileSync(file, 'utf8');
    return t.slice(-chars).trim();
  } catch {
    return '';
  }
}

export interface Started {
  child: ChildProcess;
  endpoint: Endpoint;
  socket: string;
  logFile: string;
  /** Rejects when the process exits (a noop catch is attached). */
  exited: Promise<never>;
}

export interface SpawnOptions {
  argv: string[];
  socket: string;
  logFile: string;
  /** Behind systemd-socket-activate -l socket. */
  activated?: boolean;
  /** Extra environment for the service (e.g. CONTAINERS_REGISTRIES_CONF), on top of serviceEnv. */
  env?: Record<string, string>;
}

function spawnService(ctx: BenchContext, o: SpawnOptions): { started: Started; listening: Promise<void> } {
  rmSync(o.socket, { force: true });
  mkdirSync(join(o.logFile, '..'), { recursive: true });
  const logFd = openSync(o.logFile, 'a');
  // systemd-socket-activate hands the service only LISTEN_* and what --setenv names.
  const env = { ...serviceEnv(ctx.options), ...o.env };
  const argv = o.activated
    ? [which('systemd-socket-activate') ?? 'systemd-socket-activate', '-l', o.socket, ...Object.entries(env).map(([k, v]) => `--setenv=${k}=${v}`), ...o.argv]
    : o.argv;
  const stdio: StdioOptions = ['ignore', logFd, o.activated ? 'pipe' : logFd];
  let child: ChildProcess;
  try {
    child = ctx.cleanup.track(spawn(argv[0]!, argv.slice(1), { stdio, env }));
  } finally {
    closeSync(logFd);
  }
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`${argv[0]} exited (${signal ?? code}) before answering:\n${logTail(o.logFile)}`)));
    child.once('error', reject);
  });
  exited.catch(() => {});
  let listening: Promise<void> = Promise.resolve();
  if (o.activated) {
    // The activator logs "Listening on <socket> as 3." once it listens; the service is started
    // only at the first connection. Its stderr (and the service's) is kept as a short tail.
    let tail = '';
    listening = new Promise<void>((resolve, reject) => {
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => {
        tail = (tail + d).slice(-4000);
        if (tail.includes('Listening on')) resolve();
      });
      exited.catch((err: Error) => reject(new Error(`${err.message}\n${tail}`)));
    });
  }
  return { started: { child, endpoint: { path: o.socket }, socket: o.socket, logFile: o.logFile, exited }, listening };
}

export interface ColdStart {
  /** Spawn (or, activated, first connection attempt) to complete answer. */
  ms: number;
  /** From the same origin to the connection that got the answer (the service listened by then). */
  connectMs: number;
  status: number;
  /** VmRSS right after the answer. */
  rssKb?: number;
  attempts: number;
}

/**
 * One cold start: spawn the service (directly: connect-poll every ~1 ms from the spawn; activated:
 * once the activator listens, time the first request), time its first answer to `path`, stop it.
 * With `keep`, the service is left running and returned.
 */
export async function coldStart(ctx: BenchContext, o: SpawnOptions & { path: string; keep?: boolean; timeoutMs?: number }): Promise<ColdStart & { started?: Started }> {
  const t0 = performance.now();
  const { started, listening } = spawnService(ctx, o);
  let keep = false;
  try {
    await Promise.race([listening, started.exited]);
    const from = o.activated ? performance.now() : t0;
    const a = await probeUntilAnswer(started.endpoint, o.path, { pollMs: 1, timeoutMs: o.timeoutMs ?? 60_000, abort: started.exited });
    const result = { ms: a.answeredAt - from, connectMs: a.connectedAt - from, status: a.status, rssKb: procStatusKb(started.child.pid, 'VmRSS'), attempts: a.attempts };
    keep = !!o.keep;
    return keep ? { ...result, started } : result;
  } finally {
    if (!keep) await ctx.cleanup.stop(started.child);
  }
}

export async function stopService(ctx: BenchContext, s: Started): Promise<void> {
  await ctx.cleanup.stop(s.child);
  rmSync(s.socket, { force: true });
}

/**
 * The first start of a side on its empty root, which also checks that it works at all (and
 * lets Podman fall back to another storage driver). Returns the time to the first /_ping.
 */
export async function prepareSide(ctx: BenchContext, side: Side): Promise<number> {
  for (;;) {
    const socket = join(side.dir, 'first.sock');
    try {
      const c = await coldStart(ctx, { argv: side.argv(socket), socket, logFile: join(side.dir, 'first.log'), path: '/_ping', keep: true, timeoutMs: 60_000 });
      const s = c.started!;
      try {
        const info = await get(s.endpoint, '/v1.40/info', 60_000);
        if (info.status !== 200) throw new Error(`GET /v1.40/info answered ${info.status}: ${info.body.toString().slice(0, 300)}`);
        side.describe?.(JSON.parse(info.body.toString('utf8')) as Record<string, unknown>);
      } finally {
        await stopService(ctx, s);
      }
      return c.ms;
    } catch (err) {
      const reason = (err as Error).message;
      if (side.fallback?.(reason)) {
        ctx.log(`${side.name}: first start failed (${reason.split('\n')[0]}); retrying with ${side.label}`);
        continue;
      }
      throw err;
    }
  }
}
