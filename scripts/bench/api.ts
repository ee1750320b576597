// Helpers for the suites that drive the API (images, containers): one-off requests over the unix
// socket (JSON, streamed file bodies, streamed answers counted without keeping them), instances
// of a side on a root of their own (fresh per round), and leftovers checks (conmon, runc, mounts).
import { spawnSync } from 'node:child_process';
import { createReadStream, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { mountsUnder } from './cleanup.js';
import type { BenchContext } from './context.js';
import { coldStart, stopService, type Side, type Started } from './services.js';

export interface Reply {
  status: number;
  body: Buffer;
  ms: number;
}

export interface RequestOptions {
  /** JSON body. */
  json?: unknown;
  /** A file streamed as the body (application/x-tar). */
  file?: string;
  timeoutMs?: number;
  /** Count the answer's bytes without keeping them (body is empty then). */
  discard?: boolean;
}

/** One request on a fresh connection; `ms` from sending to the end of the answer. */
export function call(socket: string, method: string, path: string, o: RequestOptions = {}): Promise<Reply & { bytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const payload = o.json === undefined ? undefined : Buffer.from(JSON.stringify(o.json));
    const headers: Record<string, string> = {};
    if (payload) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) });
    if (o.file) Object.assign(headers, { 'Content-Type': 'application/x-tar', 'Content-Length': String(statSync(o.file).size) });
    const req = httpRequest({ socketPath: socket, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (!o.discard) chunks.push(c);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), bytes, ms: performance.now() - t0 });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${path}: no complete answer in ${o.timeoutMs ?? 300_000} ms`)), o.timeoutMs ?? 300_000);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (o.file) createReadStream(o.file).pipe(req);
    else req.end(payload);
  });
}

/** A request that must answer `status` (or one of them); throws with the answer otherwise. */
export async function expect(socket: string, method: string, path: string, status: number | number[], o: RequestOptions = {}): Promise<Reply & { bytes: number }> {
  const r = await call(socket, method, path, o);
  const ok = Array.isArray(status) ? status.includes(r.status) : r.status === status;
  if (!ok) throw new Error(`${method} ${path} answered ${r.status}: ${r.body.toString('utf8').slice(0, 500)}`);
  return r;
}

/** The error of a Docker JSON progress stream (pull, load), if any line carries one. */
export function streamError(body: Buffer): string | undefined {
  for (const line of body.toString('utf8').split(/\r?\n/)) {
    if (!line.trim()) continue;
    try {
      const m = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
      if (m.error || m.errorDetail) return m.error ?? m.errorDetail?.message;
    } catch {
      // not JSON: not an error line
    }
  }
  return undefined;
}

export interface Instance {
  side: Side;
  started: Started;
  socket: string;
  root: string;
  runroot: string;
}

/**
 * Starts `side` on a root and runroot of its own (`<dir>/root-<tag>`), kept running. Everything
 * is under the side's dir, so ctx.cleanup removes it in any case; `stopInstance` removes it early.
 */
export async function startInstance(ctx: BenchContext, side: Side, tag: string, env?: Record<string, string>): Promise<Instance> {
  const socket = join(side.dir, `${tag}.sock`);
  const root = join(side.dir, `root-${tag}`);
  const runroot = join(side.dir, `runroot-${tag}`);
  const defRoot = join(side.dir, 'root');
  const defRunroot = join(side.dir, 'runroot');
  const argv = side.argv(socket).map((a) => (a === defRoot ? root : a === defRunroot ? runroot : a));
  const c = await coldStart(ctx, { argv, socket, logFile: join(side.dir, `${tag}.log`), path: '/_ping', keep: true, env, timeoutMs: 60_000 });
  return { side, started: c.started!, socket, root, runroot };
}

/** Stops an instance and removes its root and runroot (unmounting what is left there). */
export async function stopInstance(ctx: BenchContext, inst: Instance, keepFiles = false): Promise<void> {
  await stopService(ctx, inst.started);
  if (keepFiles) return;
  for (const dir of [inst.root, inst.runroot]) {
    for (const m of mountsUnder(dir)) if (spawnSync('umount', [m], { stdio: 'ignore' }).status !== 0) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // left for ctx.cleanup
    }
  }
}

/** Processes named `names` (conmon, runc, …) whose command line mentions `needle`. */
export function processesMentioning(needle: string, names: string[]): { pid: number; argv: string }[] {
  const out: { pid: number; argv: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    let argv: string;
    try {
      argv = readFileSync(`/proc/${d}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const exe = argv.split('\0')[0] ?? '';
    if (names.some((n) => exe === n || exe.endsWith(`/${n}`)) && argv.includes(needle)) out.push({ pid: Number(d), argv: argv.split('\0').join(' ').slice(0, 200) });
  }
  return out;
}

export const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));

export const MiB = 1024 * 1024;
