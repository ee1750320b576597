// The server side of RFC 6455 (WebSocket), as much as the websocket attach needs: the opening
// handshake on a request that went through the ordinary pipeline (like the hijacked attach, see
// hijack.ts), a frame parser for what the client sends, and the close handshake.
//
// What the client sends: frames must be masked (§5.1) and use no extension (RSV bits 0, §5.2);
// data frames (text, binary, continuation) are unmasked and passed on as a byte stream, without
// buffering whole messages, so their size needs no limit; text payloads are not checked for
// UTF-8 because they are a process's stdin (Docker's golang.org/x/net/websocket does not check
// either). Control frames carry at most 125 bytes and are never fragmented (§5.5). Pings are
// answered with pongs carrying the same payload. A protocol violation closes with 1002.
//
// What the server sends: unmasked, unfragmented frames, one per write. Closing (§7): the side
// that closes first sends a close frame and waits for the other's; the server then ends the TCP
// connection first (§7.1.1). A client that never answers is cut after CLOSE_WAIT_MS.
import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import type { Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import { EngineError } from '../engine/errors.js';
import { commonHeaderLines, drainedOrClosed, socketClosed, takeOverSocket } from './hijack.js';
import { markLongLived } from './idle.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const CLOSE_WAIT_MS = 2000;
const EMPTY = Buffer.alloc(0);

export const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  invalidPayload: 1007,
  tooBig: 1009,
} as const;

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (§4.2.2). */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

export interface Handshake {
  key: string;
  /** The first subprotocol the client offered, echoed back (we speak none in particular). */
  protocol?: string;
}

const tokens = (v: string | string[] | undefined): string[] =>
  (Array.isArray(v) ? v.join(',') : v ?? '')
    .toLowerCase()
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);

/**
 * Reads the opening handshake of a request (§4.2.1). Returns what is needed to accept it, or
 * the error to answer with (400; a wrong Sec-WebSocket-Version also sets the header naming the
 * version we speak, §4.4), so that the caller can choose which error comes first.
 */
export function readHandshake(ctx: Context): Handshake | EngineError {
  const h = ctx.req.headers;
  const bad = (why: string) => new EngineError('invalid-argument', `not a websocket upgrade: ${why}`, undefined, 'bad parameter');
  if (ctx.method !== 'GET') return bad(`the method must be GET, not ${ctx.method}`);
  if (!tokens(h.upgrade).includes('websocket')) return bad('the request needs the headers "Upgrade: websocket" and "Connection: Upgrade"');
  if (!tokens(h.connection).includes('upgrade')) return bad('the request needs the header "Connection: Upgrade"');
  const key = String(h['sec-websocket-key'] ?? '').trim();
  // base64 of 16 bytes: 22 characters and "==".
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return bad('Sec-WebSocket-Key must be a base64-encoded 16-byte value');
  const version = String(h['sec-websocket-version'] ?? '').trim();
  if (version !== '13') {
    ctx.set('Sec-WebSocket-Version', '13');
    return bad(`unsupported Sec-WebSocket-Version "${version}" (this server speaks 13)`);
  }
  // Subprotocol names are case-sensitive, so not through tokens().
  const protocol = String(h['sec-websocket-protocol'] ?? '').split(',')[0]!.trim();
  return protocol ? { key, protocol } : { key };
}

/** One frame as the server sends it: FIN set, unmasked (§5.1). */
export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.alloc(2) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = 0x80 | opcode;
  if (n < 126) head[1] = n;
  else if (n < 65536) {
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

/** The payload of a close frame: a status code and a UTF-8 reason of at most 123 bytes. */
export function closePayload(code: number | undefined, reason = ''): Buffer {
  if (code === undefined) return EMPTY;
  let r = Buffer.from(reason, 'utf8');
  if (r.length > 123) r = r.subarray(0, 123);
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

/** A violation of the protocol by the peer; `code` is the close code to answer with. */
export class WebSocketProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'WebSocketProtocolError';
  }
}

// Codes a peer may put in a close frame (§7.4): the defined ones meant for the wire, and the
// ranges for libraries and applications. 1005, 1006 and 1015 are never sent.
const validCloseCode = (c: number) => (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a close frame's payload: no code at all, or a valid code and a UTF-8 reason. */
export function parseClosePayload(payload: Buffer): { code?: number; reason: string } {
  if (payload.length === 0) return { reason: '' };
  if (payload.length === 1) throw new WebSocketProtocolError(CLOSE.protocolError, 'a close frame with a 1-byte payload');
  const code = payload.readUInt16BE(0);
  if (!validCloseCode(code)) throw new WebSocketProtocolError(CLOSE.protocolError, `invalid close code ${code}`);
  try {
    return { code, reason: utf8.decode(payload.subarray(2)) };
  } catch {
    throw new WebSocketProtocolError(CLOSE.invalidPayload, 'the close reason is not UTF-8');
  }
}

export interface FrameSink {
  /** A piece of a data frame's payload, unmasked (a frame may come in several pieces). */
  data(piece: Buffer): void;
  /** A whole control frame (close, ping, pong). */
  control(opcode: number, payload: Buffer): void;
}

interface FrameState {
  opcode: number;
  mask: Buffer;
  remaining: number;
  /** Offset into the payload, for the mask. */
  pos: number;
  /** Payload of a control frame, gathered whole. */
  parts: Buffer[] | undefined;
}

/** Parses the frames a client sends (§5.2); push() throws WebSocketProtocolError on a violation. */
export class FrameParser {
  private pending = EMPTY;
  private frame: FrameState | undefined;
  /** A fragmented data message is open: only continuation frames (and control frames) may follow. */
  private inMessage = false;

  constructor(private readonly sink: FrameSink) {}

  push(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = EMPTY;
    for (;;) {
      if (!this.frame) {
        if (!buf.length) return;
        const used = this.header(buf);
        if (used === 0) {
          this.pending = Buffer.from(buf);
          return;
        }
        buf = buf.subarray(used);
      }
      const f = this.frame!;
      if (f.remaining > 0) {
        if (!buf.length) return;
        const n = Math.min(f.remaining, buf.length);
        const piece = Buffer.allocUnsafe(n);
        for (let i = 0; i < n; i++) piece[i] = buf[i]! ^ f.mask[(f.pos + i) & 3]!;
        f.pos += n;
        f.remaining -= n;
        buf = buf.subarray(n);
        if (f.parts) f.parts.push(piece);
        else this.sink.data(piece);
      }
      if (f.remaining === 0) {
        this.frame = undefined;
        if (f.parts) this.sink.control(f.opcode, Buffer.concat(f.parts));
      }
    }
  }

  /** Parses and checks a frame header; returns the bytes it took, 0 when incomplete. */
  private header(b: Buffer): number {
    if (b.length < 2) return 0;
    const fin = (b[0]! & 0x80) !== 0;
    const opcode = b[0]! & 0x0f;
    let length = b[1]! & 0x7f;
    // The first two bytes say enough to refuse a frame: no need to wait for the rest.
    const protocolError = (why: string) => new WebSocketProtocolError(CLOSE.protocolError, why);
    if (b[0]! & 0x70) throw protocolError('reserved bits set, but no extension was negotiated');
    if (!(b[1]! & 0x80)) throw protocolError('frames from a client must be masked');
    const control = opcode >= 0x8;
    if (control) {
      if (opcode !== OP.close && opcode !== OP.ping && opcode !== OP.pong) throw protocolError(`unknown opcode ${opcode}`);
      if (!fin) throw protocolError('a fragmented control frame');
      if (length > 125) throw protocolError('a control frame longer than 125 bytes');
    } else if (opcode === OP.continuation) {
      if (!this.inMessage) throw protocolError('a continuation frame without a message to continue');
    } else if (opcode === OP.text || opcode === OP.binary) {
      if (this.inMessage) throw protocolError('a new message before the fragmented one ended');
    } else {
      throw protocolError(`unknown opcode ${opcode}`);
    }
    let off = 2;
    if (length === 126) {
      if (b.length < 4) return 0;
      length = b.readUInt16BE(2);
      off = 4;
    } else if (length === 127) {
      if (b.length < 10) return 0;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new WebSocketProtocolError(CLOSE.tooBig, 'frame length out of range');
      length = Number(big);
      off = 10;
    }
    if (b.length < off + 4) return 0;
    if (!control) this.inMessage = !fin;
    this.frame = { opcode, mask: Buffer.from(b.subarray(off, off + 4)), remaining: length, pos: 0, parts: control ? [] : undefined };
    return off + 4;
  }
}

export interface WebSocketConnection {
  socket: Socket;
  /** The payload bytes of the client's data frames, in order; ends on its close frame or when the connection drops. */
  input: Readable;
  /** Sends one data frame (nothing once closing); resolves when the socket can take more. */
  send(data: Buffer): Promise<void>;
  /** Starts the close handshake (once) and resolves when the connection is gone. */
  close(code?: number, reason?: string): Promise<void>;
  /** Settles when the TCP connection is closed. */
  closed: Promise<void>;
  /** False once a close frame went either way or the connection dropped. */
  readonly open: boolean;
}

export interface AcceptOptions {
  /** Data frames as binary (opcode 2); otherwise as text (opcode 1). */
  binary: boolean;
}

/**
 * Completes the opening handshake (101) on the request's socket, taken from Node's HTTP server,
 * and speaks the protocol on it. The connection is a long-lived stream: at shutdown it is closed
 * with 1001 (going away).
 */
export function acceptWebSocket(ctx: Context, hs: Handshake, opts: AcceptOptions): WebSocketConnection {
  const socket = takeOverSocket(ctx);
  const input = new PassThrough();
  const closed = socketClosed(socket);
  let closeSent = false;
  let closeReceived = false;
  let failed = false;

  const write = (opcode: number, payload: Buffer): boolean => (socket.destroyed || socket.writableEnded ? true : socket.write(encodeFrame(opcode, payload)));
  const sendClose = (code: number | undefined, reason = '') => {
    if (closeSent) return;
    closeSent = true;
    write(OP.close, closePayload(code, reason));
  };
  // The server ends the TCP connection first (§7.1.1); a client that does not follow is cut.
  const endTcp = () => {
    if (socket.destroyed) return;
    socket.end();
    const t = setTimeout(() => socket.destroy(), CLOSE_WAIT_MS);
    socket.once('close', () => clearTimeout(t));
  };
  const fail = (err: WebSocketProtocolError) => {
    failed = true;
    input.end();
    sendClose(err.code, err.message);
    endTcp();
  };

  const parser = new FrameParser({
    data(piece) {
      if (closeReceived || failed || input.writableEnded) return;
      if (!input.write(piece)) {
        socket.pause();
        input.once('drain', () => socket.resume());
      }
    },
    control(opcode, payload) {
      if (opcode === OP.ping) {
        if (!closeSent) write(OP.pong, payload);
      } else if (opcode === OP.close) {
        const { code, reason } = parseClosePayload(payload);
        closeReceived = true;
        input.end();
        // Echo the client's code and reason (§5.5.1); when it sent none, say "normal".
        sendClose(code ?? CLOSE.normal, reason);
        endTcp();
      }
      // Unsolicited pongs are allowed and ignored (§5.5.3).
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (closeReceived || failed) return;
    try {
      parser.push(chunk);
    } catch (err) {
      if (err instanceof WebSocketProtocolError) fail(err);
      else throw err;
    }
  });
  // The client dropped the TCP connection without a close frame: there is no one to answer.
  socket.on('end', () => {
    input.end();
    if (!socket.destroyed) socket.end();
  });
  void closed.then(() => input.end());

  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptKey(hs.key)}`,
    ...(hs.protocol ? [`Sec-WebSocket-Protocol: ${hs.protocol}`] : []),
  ];
  socket.write(`${lines.join('\r\n')}\r\n${commonHeaderLines(ctx)}\r\n`);
  socket.resume();

  const conn: WebSocketConnection = {
    socket,
    input,
    closed,
    get open() {
      return !closeSent && !closeReceived && !socket.destroyed;
    },
    async send(data) {
      if (!conn.open || !data.length) return;
      if (write(opts.binary ? OP.binary : OP.text, data)) return;
      await drainedOrClosed(socket);
    },
    async close(code: number = CLOSE.normal, reason = '') {
      if (!socket.destroyed) {
        sendClose(code, reason);
        if (closeReceived || failed) endTcp();
        else {
          // Wait for the client's close frame (which ends the TCP connection), not forever.
          const t = setTimeout(() => socket.destroy(), CLOSE_WAIT_MS);
          socket.once('close', () => clearTimeout(t));
        }
      }
      await closed;
    },
  };
  markLongLived(socket, () => void conn.close(CLOSE.goingAway, 'service stopping'));
  return conn;
}
