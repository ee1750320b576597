// Helpers for the container tests: a service with the busybox image loaded, raw hijacked
// connections (attach, exec start), multiplexed-stream decoding, and leak checks (mounts,
// conmon processes, runc state) for a service's storage.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { processesWhere } from './processes.js';
import { TestService, waitFor, type Reply } from './service.js';
import { loadBusyboxImage } from './test-image.js';

export const IMAGE = 'localhost/busybox:latest';

export const canRunContainers = (): boolean => {
  if (process.getuid?.() !== 0) return false;
  for (const bin of ['runc', 'conmon']) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    } catch {
      return false;
    }
  }
  return existsSync('/bin/busybox') || existsSync('/usr/bin/busybox');
};

/** A service with the busybox test image loaded. */
export async function startWithImage(opts: Parameters<typeof TestService.start>[0] = {}): Promise<TestService> {
  const svc = await TestService.start(opts);
  await loadBusyboxImage(svc);
  return svc;
}

/** POST /containers/create (compat) and return the ID; throws on a non-201 answer. */
export async function createContainer(svc: TestService, body: Record<string, unknown>, name?: string): Promise<string> {
  const r = await svc.request('POST', `/v1.40/containers/create${name ? `?name=${encodeURIComponent(name)}` : ''}`, { body: { Image: IMAGE, ...body } });
  if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.text}`);
  return r.json().Id as string;
}

/** create + start; returns the ID. */
export async function runContainer(svc: TestService, body: Record<string, unknown>, name?: string): Promise<string> {
  const id = await createContainer(svc, body, name);
  const r = await svc.request('POST', `/v1.40/containers/${id}/start`);
  if (r.status !== 204) throw new Error(`start failed: ${r.status} ${r.text}`);
  return id;
}

export async function waitExit(svc: TestService, id: string, condition = 'not-running'): Promise<number> {
  const r = await svc.request('POST', `/v1.40/containers/${id}/wait?condition=${condition}`);
  if (r.status !== 200) throw new Error(`wait failed: ${r.status} ${r.text}`);
  return r.json().StatusCode as number;
}

export async function inspect(svc: TestService, id: string): Promise<any> {
  const r = await svc.request('GET', `/v1.40/containers/${id}/json`);
  if (r.status !== 200) throw new Error(`inspect failed: ${r.status} ${r.text}`);
  return r.json();
}

export async function removeAll(svc: TestService): Promise<void> {
  const r = await svc.request('GET', '/v1.40/containers/json?all=1');
  for (const c of r.json() as { Id: string }[]) await svc.request('DELETE', `/v1.40/containers/${c.Id}?force=1`);
}

export interface Frame {
  stream: number;
  data: Buffer;
}

/** Splits a multiplexed stream (8-byte headers) into frames. */
export function demux(buf: Buffer): Frame[] {
  const out: Frame[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const len = buf.readUInt32BE(off + 4);
    out.push({ stream: buf[off]!, data: buf.subarray(off + 8, off + 8 + len) });
    off += 8 + len;
  }
  if (off !== buf.length) throw new Error(`trailing ${buf.length - off} bytes in a multiplexed stream`);
  return out;
}

export const textOf = (frames: Frame[], stream: number) => Buffer.concat(frames.filter((f) => f.stream === stream).map((f) => f.data)).toString();

export interface Hijack {
  socket: Socket;
  /** Status line of the answer ("HTTP/1.1 101 UPGRADED"). */
  status: string;
  headers: Record<string, string>;
  /** Everything received after the headers, until the server closed (resolves then). */
  body: Promise<Buffer>;
  /** What arrived so far. */
  received(): Buffer;
}

/** A raw HTTP request whose answer is a hijacked stream (or an ordinary error answer). */
export function hijackRequest(socketPath: string, method: string, path: string, body?: unknown, opts: { upgrade?: boolean } = {}): Promise<Hijack> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const payload = body === undefined ? '' : JSON.stringify(body);
    const headers = [
      `${method} ${path} HTTP/1.1`,
      'Host: d',
      ...(opts.upgrade === false ? [] : ['Connection: Upgrade', 'Upgrade: tcp']),
      ...(payload ? ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(payload)}`] : ['Content-Length: 0']),
      '',
      '',
    ].join('\r\n');
    socket.write(headers + payload);
    let buf = Buffer.alloc(0);
    let headerDone = false;
    let after: Buffer[] = [];
    let finish!: (b: Buffer) => void;
    const bodyP = new Promise<Buffer>((r) => (finish = r));
    socket.on('data', (c: Buffer) => {
      if (headerDone) {
        after.push(c);
        return;
      }
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      headerDone = true;
      const lines = buf.subarray(0, end).toString().split('\r\n');
      const hdrs: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        hdrs[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      after = [buf.subarray(end + 4)];
      resolve({ socket, status: lines[0]!, headers: hdrs, body: bodyP, received: () => Buffer.concat(after) });
    });
    socket.on('close', () => finish(Buffer.concat(after)));
    socket.on('error', (e) => (headerDone ? finish(Buffer.concat(after)) : reject(e)));
  });
}

/** Mount points at or under `dir`. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((mp) => mp === dir || mp.startsWith(`${dir}/`));
}

/** conmon processes whose command line mentions `needle` (a service's run root). */
export function conmonsMentioning(needle: string): number[] {
  return processesWhere((argv) => !!argv[0]?.endsWith('conmon') && argv.some((a) => a.includes(needle))).map((p) => p.pid);
}

/** Attach relays (perl, engine/oci/attach.ts) whose command line mentions `needle` (a service's directory). */
export function relaysMentioning(needle: string): number[] {
  return processesWhere((argv) => /(^|\/)perl[\d.]*$/.test(argv[0] ?? '') && argv.some((a) => a.includes(needle))).map((p) => p.pid);
}

/** runc containers in a service's runc state directory. */
export function runcStates(svc: TestService): string[] {
  const root = join(svc.runroot, 'runc');
  if (!existsSync(root)) return [];
  return readdirSync(root);
}

/** Throws when a service left mounts, conmon processes, attach relays or runc state behind (after its containers are gone). */
export async function assertNoLeaks(svc: TestService): Promise<void> {
  const clean = () => conmonsMentioning(svc.runroot).length === 0 && relaysMentioning(svc.dir).length === 0 && mountsUnder(svc.dir).length === 0 && runcStates(svc).length === 0;
  await waitFor(clean, 10_000, 'containers to be cleaned up').catch(() => {});
  const left = { mounts: mountsUnder(svc.dir), conmons: conmonsMentioning(svc.runroot), relays: relaysMentioning(svc.dir), runc: runcStates(svc) };
  for (const pid of [...left.conmons, ...left.relays]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (left.mounts.length || left.conmons.length || left.relays.length || left.runc.length) throw new Error(`leaks: ${JSON.stringify(left)}`);
}

/** Stops a service after removing its containers and checking for leaks. */
export async function shutdown(svc: TestService | undefined): Promise<void> {
  if (!svc) return;
  let err: unknown;
  try {
    if (svc.running) await removeAll(svc);
    await assertNoLeaks(svc);
  } catch (e) {
    err = e;
  }
  await svc.stop().catch(() => {});
  for (const mp of mountsUnder(svc.dir).reverse()) {
    try {
      execFileSync('umount', ['-l', mp]);
    } catch {
      // best effort
    }
  }
  await svc.cleanup();
  if (err) throw err;
}

export type { Reply };
