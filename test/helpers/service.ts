// Starts the real tspod service on a temp socket with temp --root/--runroot, and talks to it.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('../../..', import.meta.url));
export const tspodBin = join(projectRoot, 'bin', 'tspod.js');

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json<T = any>(): T;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
}

/** One HTTP request over a unix socket (or TCP when `target` is {host, port}). */
export function request(target: string | { host: string; port: number }, method: string, path: string, opts: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string> = { ...opts.headers };
    if (payload !== undefined && !headers['Content-Type']) headers['Content-Type'] = 'application/json';
    const where = typeof target === 'string' ? { socketPath: target } : { host: target.host, port: target.port };
    const req = httpRequest({ ...where, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface ServiceOptions {
  /** Service flags after `system service` (the URI is added unless `uri` is null). */
  args?: string[];
  /** Global flags before `system service` (besides --root/--runroot). */
  globalArgs?: string[];
  /** Seconds of idleness before exit (default 0 = never). */
  time?: number;
  /** Listen URI; default unix://<tmp>/api.sock. null: pass no URI. */
  uri?: string | null;
  env?: NodeJS.ProcessEnv;
  /** Wait until the socket answers (default true for unix URIs). */
  waitReady?: boolean;
  spawn?: SpawnOptions;
  /** Command prefix (e.g. systemd-socket-activate, setpriv). */
  wrapper?: string[];
}

export class TestService {
  readonly dir: string;
  readonly socketPath: string;
  readonly root: string;
  readonly runroot: string;
  proc!: ChildProcess;
  stdout = '';
  stderr = '';
  exited!: Promise<number | null>;
  exitSignal: NodeJS.Signals | null = null;

  constructor(dir?: string) {
    this.dir = dir ?? mkdtempSync(join(tmpdir(), 'tspod-test-'));
    this.socketPath = join(this.dir, 'api.sock');
    this.root = join(this.dir, 'root');
    this.runroot = join(this.dir, 'run');
  }

  static async start(opts: ServiceOptions = {}): Promise<TestService> {
    const svc = new TestService();
    await svc.start(opts);
    return svc;
  }

  async start(opts: ServiceOptions = {}): Promise<void> {
    const uri = opts.uri === undefined ? `unix://${this.socketPath}` : opts.uri;
    const args = [
      ...(opts.wrapper ?? []),
      process.execPath,
      tspodBin,
      '--root', this.root,
      '--runroot', this.runroot,
      ...(opts.globalArgs ?? []),
      'system', 'service',
      '--time', String(opts.time ?? 0),
      ...(opts.args ?? []),
      ...(uri ? [uri] : []),
    ];
    this.proc = spawn(args[0], args.slice(1), { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], ...opts.spawn });
    this.proc.stdout?.on('data', (c: Buffer) => (this.stdout += c.toString()));
    this.proc.stderr?.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => {
      this.exitSignal = signal;
      resolve(code);
    }));
    const waitReady = opts.waitReady ?? (uri === `unix://${this.socketPath}`);
    if (waitReady) {
      let gone = false;
      void this.exited.then(() => (gone = true));
      await waitFor(async () => {
        if (gone) throw new Error(`tspod exited before it was ready: ${this.stderr}`);
        return canConnect(this.socketPath);
      }, 15_000, `tspod to listen on ${this.socketPath}`);
    }
  }

  request(method: string, path: string, opts?: RequestOptions): Promise<Reply> {
    return request(this.socketPath, method, path, opts);
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGTERM and wait for the exit status. */
  async stop(): Promise<number | null> {
    if (this.running) this.proc.kill('SIGTERM');
    return this.exited;
  }

  async cleanup(): Promise<void> {
    if (this.proc && this.running) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
