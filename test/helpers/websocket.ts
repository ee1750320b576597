// WebSocket clients for the tests.
//
// - WsClient: Node's own WebSocket (undici, behind `node --experimental-websocket` on Node 20),
//   run in a child process driven through JSON lines. It cannot dial a unix socket, so the
//   child relays a loopback TCP port to the service's socket, byte for byte.
// - rawWebSocket: a handshake written by hand and frames encoded here, independently of the
//   server's code, for what a well-behaved client never sends (unmasked frames, fragments) and
//   to read the handshake answer as it is on the wire.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { waitFor } from './service.js';

const CHILD = String.raw`
const net = require('node:net');
const readline = require('node:readline');
const [sock, path, protocol] = process.argv.slice(1);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const proxy = net.createServer((c) => {
  const u = net.connect(sock);
  c.pipe(u);
  u.pipe(c);
  for (const [a, b] of [[c, u], [u, c]]) {
    a.on('error', () => b.destroy());
    a.on('close', () => b.destroy());
  }
});
proxy.listen(0, '127.0.0.1', () => {
  const ws = new WebSocket('ws://127.0.0.1:' + proxy.address().port + path, protocol ? [protocol] : []);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => out({ event: 'open', protocol: ws.protocol });
  ws.onmessage = (e) => {
    const binary = typeof e.data !== 'string';
    out({ event: 'message', binary, data: (binary ? Buffer.from(e.data) : Buffer.from(e.data, 'utf8')).toString('base64') });
  };
  ws.onerror = () => out({ event: 'error' });
  ws.onclose = (e) => {
    out({ event: 'close', code: e.code, reason: e.reason, wasClean: e.wasClean });
    proxy.close();
    process.stdout.end(() => process.exit(0));
  };
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    const c = JSON.parse(line);
    if (c.send !== undefined) ws.send(c.binary ? Buffer.from(c.send, 'base64') : Buffer.from(c.send, 'base64').toString('utf8'));
    if (c.close) ws.close(c.code, c.reason);
  });
});
`;

export interface WsMessage {
  binary: boolean;
  data: Buffer;
}

export interface WsClose {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** Node's WebSocket client connected to `path` on the service's unix socket. */
export class WsClient {
  readonly messages: WsMessage[] = [];
  opened = false;
  protocol = '';
  errored = false;
  closeEvent: WsClose | undefined;
  readonly closed: Promise<WsClose>;
  private readonly child: ChildProcessWithoutNullStreams;

  private constructor(socketPath: string, path: string, protocol?: string) {
    this.child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', '-e', CHILD, socketPath, path, protocol ?? ''], { stdio: 'pipe' });
    let stderr = '';
    this.child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    this.closed = new Promise((resolve, reject) => {
      createInterface({ input: this.child.stdout }).on('line', (line) => {
        const e = JSON.parse(line);
        if (e.event === 'open') {
          this.opened = true;
          this.protocol = e.protocol;
        } else if (e.event === 'message') this.messages.push({ binary: e.binary, data: Buffer.from(e.data, 'base64') });
        else if (e.event === 'error') this.errored = true;
        else if (e.event === 'close') {
          this.closeEvent = { code: e.code, reason: e.reason, wasClean: e.wasClean };
          resolve(this.closeEvent);
        }
      });
      this.child.once('exit', () => setImmediate(() => (this.closeEvent ? undefined : reject(new Error(`websocket client exited without a close event: ${stderr}`)))));
    });
    this.closed.catch(() => {});
  }

  /** Connects; resolves once the connection is open or has failed (see opened / errored). */
  static async connect(socketPath: string, path: string, protocol?: string): Promise<WsClient> {
    const c = new WsClient(socketPath, path, protocol);
    // Node 20's client reports a refused handshake with an error event only (no close event).
    try {
      await waitFor(() => c.opened || c.errored || c.closeEvent !== undefined, 10_000, `websocket ${path} to open`);
    } catch (err) {
      c.kill();
      throw err;
    }
    return c;
  }

  /** Everything received so far, as one string. */
  text(): string {
    return Buffer.concat(this.messages.map((m) => m.data)).toString('utf8');
  }

  waitForText(predicate: (text: string) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    return waitFor(() => predicate(this.text()), timeoutMs, `${what} (got ${JSON.stringify(this.text())})`);
  }

  send(data: string | Buffer): void {
    const binary = Buffer.isBuffer(data);
    this.command({ send: Buffer.from(data).toString('base64'), binary });
  }

  close(code?: number, reason?: string): Promise<WsClose> {
    this.command({ close: true, code, reason });
    return this.closed;
  }

  /** Ends the client process (when the test is done with it, whatever happened). */
  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }

  private command(c: object): void {
    this.child.stdin.write(JSON.stringify(c) + '\n');
  }
}

export interface RawFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** A client frame: masked unless told otherwise. */
export function clientFrame(opcode: number, payload: Buffer | string, opts: { fin?: boolean; mask?: boolean } = {}): Buffer {
  const data = Buffer.from(payload);
  const mask = opts.mask ?? true;
  const n = data.length;
  const len = n < 126 ? Buffer.from([n]) : n < 65536 ? Buffer.from([126, n >> 8, n & 255]) : Buffer.concat([Buffer.from([127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
  len[0]! |= mask ? 0x80 : 0;
  const first = Buffer.from([((opts.fin ?? true) ? 0x80 : 0) | opcode]);
  if (!mask) return Buffer.concat([first, len, data]);
  const key = randomBytes(4);
  const body = Buffer.from(data.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([first, len, key, body]);
}

/** Splits server frames out of a byte stream; returns the frames and the bytes left over. */
export function parseFrames(buf: Buffer): { frames: RawFrame[]; rest: Buffer } {
  const frames: RawFrame[] = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off]!;
    const b1 = buf[off + 1]!;
    let len = b1 & 0x7f;
    let head = 2;
    if (len === 126) {
      if (buf.length - off < 4) break;
      len = buf.readUInt16BE(off + 2);
      head = 4;
    } else if (len === 127) {
      if (buf.length - off < 10) break;
      len = Number(buf.readBigUInt64BE(off + 2));
      head = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked) head += 4;
    if (buf.length - off < head + len) break;
    frames.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, masked, payload: Buffer.from(buf.subarray(off + head, off + head + len)) });
    off += head + len;
  }
  return { frames, rest: buf.subarray(off) };
}

export interface RawWebSocket {
  socket: Socket;
  /** Status line of the answer. */
  status: string;
  headers: Record<string, string>;
  /** The answer's body when it was not a 101. */
  body(): Promise<string>;
  /** Frames received so far. */
  frames: RawFrame[];
  waitForFrame(predicate: (f: RawFrame) => boolean, what: string): Promise<RawFrame>;
  /** Resolves when the server closed the TCP connection. */
  ended: Promise<void>;
}

/** The RFC 6455 example key and the accept value it must produce (§1.3). */
export const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const SAMPLE_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** A GET with the opening handshake (or the headers given), by hand, on the service's socket. */
export function rawWebSocket(socketPath: string, path: string, headers?: Record<string, string>): Promise<RawWebSocket> {
  const hdrs = headers ?? { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': SAMPLE_KEY, 'Sec-WebSocket-Version': '13' };
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    socket.write([`GET ${path} HTTP/1.1`, 'Host: localhost', ...Object.entries(hdrs).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n'));
    let buf: Buffer = Buffer.alloc(0);
    let answered = false;
    let rest: Buffer = Buffer.alloc(0);
    const frames: RawFrame[] = [];
    let end!: () => void;
    const ended = new Promise<void>((r) => (end = r));
    socket.on('close', () => end());
    socket.on('error', (e) => (answered ? end() : reject(e)));
    let upgraded = false;
    socket.on('data', (c: Buffer) => {
      if (answered) {
        rest = Buffer.concat([rest, c]);
        if (!upgraded) return;
        const p = parseFrames(rest);
        frames.push(...p.frames);
        rest = p.rest;
        return;
      }
      buf = Buffer.concat([buf, c]);
      const at = buf.indexOf('\r\n\r\n');
      if (at < 0) return;
      answered = true;
      const lines = buf.subarray(0, at).toString().split('\r\n');
      const h: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        h[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      rest = buf.subarray(at + 4);
      upgraded = / 101 /.test(lines[0]!);
      if (upgraded) {
        const p = parseFrames(rest);
        frames.push(...p.frames);
        rest = p.rest;
      }
      const ws: RawWebSocket = {
        socket,
        status: lines[0]!,
        headers: h,
        frames,
        ended,
        body: async () => {
          const length = Number(h['content-length'] ?? NaN);
          if (Number.isNaN(length)) await ended;
          else await waitFor(() => rest.length >= length, 10_000, 'the answer body');
          return rest.toString();
        },
        async waitForFrame(predicate, what) {
          let found: RawFrame | undefined;
          await waitFor(() => (found = frames.find(predicate)) !== undefined, 10_000, what);
          return found!;
        },
      };
      resolve(ws);
    });
  });
}
