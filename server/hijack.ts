// Hijacked connections (attach, exec start): after the request was routed, validated and
// answered by the engine's checks, the handler takes the socket over from Node's HTTP server:
// it writes Podman's status line (101 UPGRADED when the client asked to upgrade, else 200 OK),
// then the process's output (8-byte multiplexed frames without a TTY, raw bytes with one),
// and reads the client's bytes as stdin until it half-closes.
//
// Node has no public hijack: the request arrives as an ordinary one (no 'upgrade' listener is
// installed, so Connection: Upgrade requests go through the normal pipeline), then the socket
// is detached from its HTTP parser (the private `socket.parser`, checked by a unit test) and
// Koa is told to stay away (ctx.respond = false). The socket's 'close' still ends the request
// for the idle tracker, so a hijacked session keeps the service up until it is over.
import type { Context } from 'koa';
import type { Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import { markLongLived } from './idle.js';

export type StreamName = 'stdin' | 'stdout' | 'stderr';

const STREAM_IDS: Record<StreamName, number> = { stdin: 0, stdout: 1, stderr: 2 };

/** The 8-byte header of a multiplexed frame: stream id, 3 zero bytes, big-endian length. */
export function frameHeader(stream: StreamName, length: number): Buffer {
  const h = Buffer.alloc(8);
  h[0] = STREAM_IDS[stream];
  h.writeUInt32BE(length, 4);
  return h;
}

export interface HijackOptions {
  /** Raw output (TTY sessions); otherwise 8-byte multiplexed frames. */
  raw: boolean;
  /** Answer 101 UPGRADED (default: when the request carried `Upgrade:`). */
  upgrade?: boolean;
}

export interface Hijacked {
  socket: Socket;
  /** The client's bytes after the request (stdin); ends when the client half-closes. */
  input: Readable;
  /** Writes output: a frame (or raw bytes); resolves when the socket can take more. */
  write(stream: StreamName, data: Buffer): Promise<void>;
  /** Ends the connection after what was written (half-close, then close). */
  end(): Promise<void>;
  /** Settles when the socket is closed (client gone or end()). */
  closed: Promise<void>;
  readonly destroyed: boolean;
}

interface ParserLike {
  _consumed?: boolean;
  unconsume?: () => void;
}

/** Whether the client asked to upgrade the connection (Docker's CLI does, podman-remote does not). */
export function wantsUpgrade(ctx: Context): boolean {
  const connection = String(ctx.get('connection') || '').toLowerCase();
  return connection.split(',').some((t) => t.trim() === 'upgrade') || !!ctx.get('upgrade');
}

/**
 * Takes the request's socket from Node's HTTP machinery (and Koa) without writing anything:
 * the caller writes its own status line and reads the client's bytes (then resumes the socket).
 * Shared by the hijacked attach/exec streams and the websocket attach.
 */
export function takeOverSocket(ctx: Context): Socket {
  ctx.respond = false;
  const socket = ctx.req.socket as Socket & { parser?: ParserLike | null };
  for (const ev of ['data', 'end', 'drain', 'timeout', 'error']) socket.removeAllListeners(ev);
  const parser = socket.parser;
  if (parser) {
    if (parser._consumed && parser.unconsume) {
      parser.unconsume();
      parser._consumed = false;
    }
    socket.parser = null;
  }
  socket.setTimeout(0);
  socket.setNoDelay(true);
  socket.on('error', () => {});
  return socket;
}

/**
 * Settles when the socket is closed, also when that happened already: a client that left while
 * the engine was preparing the session must not leave it waiting for a 'close' long emitted.
 */
export function socketClosed(socket: Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise<void>((resolve) => socket.once('close', () => resolve()));
}

/** Settles when the socket can take more output, or is closed. */
export function drainedOrClosed(socket: Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** The common headers (API-Version, Libpod-API-Version, Server) as raw header lines. */
export function commonHeaderLines(ctx: Context): string {
  return ['API-Version', 'Libpod-API-Version', 'Server']
    .map((h) => [h, ctx.response.get(h)] as const)
    .filter(([, v]) => v)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
}

/** Detaches the socket from Node's HTTP machinery and writes the status line and headers. */
export async function hijack(ctx: Context, opts: HijackOptions): Promise<Hijacked> {
  const upgrade = opts.upgrade ?? wantsUpgrade(ctx);
  const socket = takeOverSocket(ctx);
  // An attach or exec session lasts as long as its process: a stopping service cuts it at once
  // (the process goes on under conmon) instead of waiting out the in-flight grace.
  markLongLived(socket);
  const closed = socketClosed(socket);
  const input = new PassThrough();
  socket.on('data', (chunk: Buffer) => {
    if (!input.write(chunk)) {
      socket.pause();
      input.once('drain', () => socket.resume());
    }
  });
  socket.on('end', () => input.end());
  void closed.then(() => input.end());

  const head = upgrade
    ? 'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n'
    : 'HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n';
  socket.write(`${head}${commonHeaderLines(ctx)}\r\n`);
  socket.resume();
  if (!upgrade) {
    // podman-remote reads the stream from the raw connection it dialled: bytes that arrive with
    // the status line are lost to it. Let the header go out on its own first.
    await new Promise<void>((resolve) => socket.write('', () => setTimeout(resolve, 20)));
  }

  const waitDrain = () => drainedOrClosed(socket);

  return {
    socket,
    input,
    closed,
    get destroyed() {
      return socket.destroyed;
    },
    async write(stream, data) {
      if (socket.destroyed || !data.length) return;
      const ok = opts.raw ? socket.write(data) : socket.write(Buffer.concat([frameHeader(stream, data.length), data]));
      if (!ok) await waitDrain();
    },
    async end() {
      if (socket.destroyed) return;
      await new Promise<void>((resolve) => socket.end(() => resolve()));
      // The client closes its side on EOF; do not wait for it forever.
      const t = setTimeout(() => socket.destroy(), 2000);
      await closed;
      clearTimeout(t);
    },
  };
}
