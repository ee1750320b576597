// A load worker thread: opens its share of keep-alive connections, then runs a closed loop on
// each (send the prebuilt request, wait for the complete answer, record the latency, send again)
// until the round's deadline, and reports counts and latency samples to client.ts.
// Reads use net's `onread` with one reused buffer, so the hot path allocates next to nothing.
import { type Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { connectTo, ResponseParser, type Endpoint } from './http1.js';

export interface WorkerInit {
  endpoint: Endpoint;
  request: Uint8Array;
  connections: number;
}

export interface RunMessage {
  type: 'run';
  durationMs: number;
  /** After the deadline, how long requests in flight may take before they count as timed out. */
  graceMs: number;
  record: boolean;
}

export interface WorkerResult {
  type: 'result';
  completed: number;
  errors: number;
  timeouts: number;
  statuses: Record<string, number>;
  elapsedMs: number;
  latenciesMs: Float64Array;
}

const init = workerData as WorkerInit;
const port = parentPort!;
const request = Buffer.from(init.request);
const readBuffer = Buffer.allocUnsafe(256 * 1024);
const MAX_RECONNECTS = 1000;

let samples = new Float64Array(1 << 16);
let sampleCount = 0;
function addSample(ms: number): void {
  if (sampleCount === samples.length) {
    const grown = new Float64Array(samples.length * 2);
    grown.set(samples);
    samples = grown;
  }
  samples[sampleCount++] = ms;
}

let running = false;
let record = false;
let startedAt = 0;
let deadline = 0;
let completed = 0;
let errors = 0;
let reconnects = 0;
let lastAnswerAt = 0;
const statuses = new Map<number, number>();
let looping = 0; // connections that still send
let graceTimer: NodeJS.Timeout | undefined;

class Conn {
  socket!: Socket;
  parser!: ResponseParser;
  sentAt = 0;
  inFlight = false;
  closed = false;

  open(): Promise<void> {
    this.closed = false;
    this.parser = new ResponseParser((status) => this.answered(status));
    const s = connectTo(init.endpoint, {
      buffer: readBuffer,
      callback: (nread: number, buf: Uint8Array) => {
        try {
          this.parser.feed(Buffer.from(buf.buffer, buf.byteOffset, nread));
        } catch {
          s.destroy();
        }
        return true;
      },
    });
    this.socket = s;
    s.setNoDelay(true);
    s.on('end', () => {
      this.parser.end();
    });
    s.on('close', () => this.broken());
    s.on('error', () => {});
    return new Promise((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
  }

  send(): void {
    this.inFlight = true;
    this.sentAt = performance.now();
    this.socket.write(request);
  }

  private answered(status: number): void {
    const now = performance.now();
    this.inFlight = false;
    if (!running) return;
    completed++;
    lastAnswerAt = now;
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (record) addSample(now - this.sentAt);
    if (now < deadline) this.send();
    else this.stopLooping();
  }

  private stopped = false;
  private stopLooping(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (--looping === 0) finish();
  }

  /** The server closed or broke the connection: count it, and reconnect while the round runs. */
  private broken(): void {
    if (this.closed) return;
    this.closed = true;
    if (!running || this.stopped) return;
    errors++;
    if (performance.now() >= deadline || ++reconnects > MAX_RECONNECTS) return this.stopLooping();
    this.open().then(
      () => (running && performance.now() < deadline ? this.send() : this.stopLooping()),
      () => this.stopLooping(),
    );
  }

  reset(): void {
    this.stopped = false;
  }
}

const conns: Conn[] = [];

function finish(): void {
  if (!running) return;
  running = false;
  if (graceTimer) clearTimeout(graceTimer);
  const timeouts = conns.filter((c) => c.inFlight).length;
  const result: WorkerResult = {
    type: 'result',
    completed,
    errors,
    timeouts,
    statuses: Object.fromEntries([...statuses].map(([k, v]) => [String(k), v])),
    elapsedMs: (timeouts ? performance.now() : lastAnswerAt || performance.now()) - startedAt,
    latenciesMs: samples.slice(0, sampleCount),
  };
  port.postMessage(result, [result.latenciesMs.buffer as ArrayBuffer]);
}

port.on('message', (msg: RunMessage | { type: 'close' }) => {
  if (msg.type === 'close') {
    for (const c of conns) {
      c.closed = true;
      c.socket.destroy();
    }
    port.close();
    return;
  }
  running = true;
  record = msg.record;
  completed = errors = reconnects = sampleCount = lastAnswerAt = 0;
  statuses.clear();
  startedAt = performance.now();
  deadline = startedAt + msg.durationMs;
  looping = conns.length;
  graceTimer = setTimeout(finish, msg.durationMs + msg.graceMs);
  for (const c of conns) {
    c.reset();
    c.send();
  }
});

Promise.all(
  Array.from({ length: init.connections }, async () => {
    const c = new Conn();
    await c.open();
    conns.push(c);
  }),
).then(
  () => port.postMessage({ type: 'ready' }),
  (err: Error) => port.postMessage({ type: 'error', message: err.message }),
);
