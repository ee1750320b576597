// The smallest HTTP/1.1 client the benchmarks need: prebuilt request bytes, and a response parser
// that only finds where each answer ends (Content-Length, chunked, or close) and its status.
// Shared by the load workers and the cold-start probes; no node:http on the hot path.
import { connect, type OnReadOpts, type Socket } from 'node:net';

/** Where a service listens: a unix socket path, or a loopback TCP port. */
export type Endpoint = { path: string } | { host: string; port: number };

export function describeEndpoint(e: Endpoint): string {
  return 'path' in e ? `unix://${e.path}` : `tcp://${e.host}:${e.port}`;
}

/** A new connection; with `onread`, data arrives in that reused buffer instead of 'data' events. */
export function connectTo(e: Endpoint, onread?: OnReadOpts): Socket {
  return 'path' in e ? connect({ path: e.path, onread }) : connect({ host: e.host, port: e.port, onread });
}

/** The bytes of a bodiless request; Host is what Docker clients send over a unix socket. */
export function requestBytes(method: string, path: string, extraHeaders: Record<string, string> = {}): Buffer {
  let head = `${method} ${path} HTTP/1.1\r\nHost: d\r\nUser-Agent: tspod-bench\r\n`;
  for (const [k, v] of Object.entries(extraHeaders)) head += `${k}: ${v}\r\n`;
  return Buffer.from(`${head}\r\n`, 'latin1');
}

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
const CHUNKED = /\r\ntransfer-encoding:[^\r]*chunked/i;

const enum State {
  Head,
  Body,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailer,
  UntilClose,
}

/**
 * Incremental response parser. `feed` may be given a buffer that the caller reuses (net's
 * `onread`): whatever must outlive the call is copied. Responses to HEAD are not supported
 * (the benchmarks only send GET).
 */
export class ResponseParser {
  private pending: Buffer | null = null;
  private state = State.Head;
  private remaining = 0;
  private status = 0;
  /** Head and body of the last complete response (only with keepBody). */
  head = '';
  body = Buffer.alloc(0);
  private bodyParts: Buffer[] | null = null;

  constructor(
    private readonly onResponse: (status: number) => void,
    keepBody = false,
  ) {
    if (keepBody) this.bodyParts = [];
  }

  feed(chunk: Buffer): void {
    const b = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let off = 0;
    const len = b.length;
    for (;;) {
      switch (this.state) {
        case State.Head: {
          const end = b.indexOf(HEAD_END, off);
          if (end < 0) return this.keep(b, off);
          const head = b.toString('latin1', off, end + 2);
          off = end + 4;
          this.status = Number(head.slice(9, 12));
          if (this.bodyParts) this.head = head;
          if (this.status < 200 && this.status >= 100) continue; // 1xx: another head follows
          if (this.status === 204 || this.status === 304) {
            this.done();
            continue;
          }
          if (CHUNKED.test(head)) {
            this.state = State.ChunkSize;
            continue;
          }
          const m = CONTENT_LENGTH.exec(head);
          if (m) {
            this.remaining = Number(m[1]);
            if (this.remaining === 0) this.done();
            else this.state = State.Body;
          } else {
            this.state = State.UntilClose;
          }
          continue;
        }
        case State.Body:
        case State.ChunkData: {
          const take = Math.min(this.remaining, len - off);
          if (this.bodyParts && take > 0) this.bodyParts.push(Buffer.from(b.subarray(off, off + take)));
          off += take;
          this.remaining -= take;
          if (this.remaining > 0) return;
          if (this.state === State.Body) this.done();
          else {
            this.remaining = 2; // the CRLF after the chunk's data
            this.state = State.ChunkEnd;
          }
          continue;
        }
        case State.ChunkEnd: {
          const take = Math.min(this.remaining, len - off);
          off += take;
          this.remaining -= take;
          if (this.remaining > 0) return;
          this.state = State.ChunkSize;
          continue;
        }
        case State.ChunkSize: {
          const eol = b.indexOf(CRLF, off);
          if (eol < 0) return this.keep(b, off);
          const size = parseInt(b.toString('latin1', off, eol).split(';')[0]!, 16);
          off = eol + 2;
          if (!Number.isFinite(size)) throw new Error('bad chunk size');
          if (size === 0) this.state = State.Trailer;
          else {
            this.remaining = size;
            this.state = State.ChunkData;
          }
          continue;
        }
        case State.Trailer: {
          const eol = b.indexOf(CRLF, off);
          if (eol < 0) return this.keep(b, off);
          const empty = eol === off;
          off = eol + 2;
          if (empty) this.done();
          continue;
        }
        case State.UntilClose: {
          if (this.bodyParts && off < len) this.bodyParts.push(Buffer.from(b.subarray(off)));
          return;
        }
      }
    }
  }

  /** The connection closed: a close-delimited body ends here. Returns whether a response was cut. */
  end(): boolean {
    if (this.state === State.UntilClose) {
      this.done();
      return false;
    }
    return this.state !== State.Head || this.pending !== null;
  }

  private keep(b: Buffer, off: number): void {
    if (off < b.length) this.pending = Buffer.from(b.subarray(off));
  }

  private done(): void {
    this.state = State.Head;
    if (this.bodyParts) {
      this.body = Buffer.concat(this.bodyParts);
      this.bodyParts = [];
    }
    this.onResponse(this.status);
  }
}

export interface Answer {
  status: number;
  head: string;
  body: Buffer;
  /** performance.now() when the connection was established and when the answer was complete. */
  connectedAt: number;
  answeredAt: number;
  attempts: number;
}

export interface ProbeOptions {
  /** Delay between connection attempts while nothing listens. */
  pollMs?: number;
  timeoutMs?: number;
  /** Rejecting stops the polling (e.g. the service process exited). */
  abort?: Promise<never>;
}

/**
 * Connects (retrying every pollMs while the socket is absent or refuses), sends one GET and
 * resolves with the complete answer. Any status counts as an answer.
 */
export function probeUntilAnswer(endpoint: Endpoint, path: string, opts: ProbeOptions = {}): Promise<Answer> {
  const pollMs = opts.pollMs ?? 1;
  const deadline = performance.now() + (opts.timeoutMs ?? 30_000);
  const req = requestBytes('GET', path);
  return new Promise<Answer>((resolve, reject) => {
    let attempts = 0;
    let settled = false;
    let socket: Socket | undefined;
    let timer: NodeJS.Timeout | undefined;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      socket?.destroy();
      reject(err);
    };
    opts.abort?.catch(fail);
    const attempt = () => {
      if (settled) return;
      if (performance.now() > deadline) return fail(new Error(`no answer from ${describeEndpoint(endpoint)} within ${opts.timeoutMs ?? 30_000} ms`));
      attempts++;
      const s = connectTo(endpoint);
      socket = s;
      let connectedAt = 0;
      const parser = new ResponseParser((status) => {
        if (settled) return;
        settled = true;
        const answeredAt = performance.now();
        s.destroy();
        resolve({ status, head: parser.head, body: parser.body, connectedAt, answeredAt, attempts });
      }, true);
      s.setNoDelay(true);
      s.once('connect', () => {
        connectedAt = performance.now();
        s.write(req);
      });
      s.on('data', (d: Buffer) => {
        try {
          parser.feed(d);
        } catch (err) {
          fail(err as Error);
        }
      });
      s.on('end', () => parser.end());
      s.once('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        if (connectedAt) return fail(err); // failed after connecting: that is an answer of sorts, but not HTTP
        s.destroy();
        timer = setTimeout(attempt, pollMs);
      });
      s.once('close', () => {
        if (!settled && connectedAt) fail(new Error(`${describeEndpoint(endpoint)} closed the connection without answering ${path}`));
      });
    };
    attempt();
  });
}

/** One GET on a fresh connection to a service known to listen; resolves with status and body. */
export async function get(endpoint: Endpoint, path: string, timeoutMs = 30_000): Promise<{ status: number; body: Buffer; ms: number }> {
  const a = await probeUntilAnswer(endpoint, path, { timeoutMs, pollMs: 5 });
  return { status: a.status, body: a.body, ms: a.answeredAt - a.connectedAt };
}
