// Closed-loop keep-alive load over worker threads (client-worker.ts): `concurrency` connections,
// each with one request in flight, spread over `workers` threads. The main thread only starts
// the workers and merges their results, so it never competes with them for the event loop.
import { Worker } from 'node:worker_threads';
import { requestBytes, type Endpoint } from './http1.js';
import type { RunMessage, WorkerInit, WorkerResult } from './client-worker.js';
import { concatSamples } from './stats.js';

export interface LoadOptions {
  endpoint: Endpoint;
  path: string;
  concurrency: number;
  durationMs: number;
  /** Worker threads (at most one per connection). */
  workers: number;
  /** Keep latency samples (warm-up rounds do not). */
  record?: boolean;
  graceMs?: number;
}

export interface LoadResult {
  completed: number;
  errors: number;
  timeouts: number;
  statuses: Record<string, number>;
  /** From the start of the round to the last answer (or the grace timeout). */
  elapsedMs: number;
  throughput: number;
  latenciesMs: Float64Array;
}

const WORKER_URL = new URL('./client-worker.js', import.meta.url);

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const n = Math.max(1, Math.min(o.workers, o.concurrency));
  const request = requestBytes('GET', o.path);
  const workers: Worker[] = [];
  try {
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const connections = Math.floor(o.concurrency / n) + (i < o.concurrency % n ? 1 : 0);
      const init: WorkerInit = { endpoint: o.endpoint, request, connections };
      const w = new Worker(WORKER_URL, { workerData: init });
      workers.push(w);
      ready.push(
        new Promise<void>((resolve, reject) => {
          w.once('message', (m: { type: string; message?: string }) => (m.type === 'ready' ? resolve() : reject(new Error(`load client could not connect: ${m.message}`))));
          w.once('error', reject);
        }),
      );
    }
    await Promise.all(ready);
    const results = workers.map(
      (w) =>
        new Promise<WorkerResult>((resolve, reject) => {
          w.once('message', (m: WorkerResult) => resolve(m));
          w.once('error', reject);
        }),
    );
    const run: RunMessage = { type: 'run', durationMs: o.durationMs, graceMs: o.graceMs ?? 30_000, record: o.record ?? true };
    for (const w of workers) w.postMessage(run);
    const rs = await Promise.all(results);
    const statuses: Record<string, number> = {};
    for (const r of rs) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
    const completed = rs.reduce((a, r) => a + r.completed, 0);
    const elapsedMs = Math.max(...rs.map((r) => r.elapsedMs));
    return {
      completed,
      errors: rs.reduce((a, r) => a + r.errors, 0),
      timeouts: rs.reduce((a, r) => a + r.timeouts, 0),
      statuses,
      elapsedMs,
      throughput: elapsedMs > 0 ? (completed * 1000) / elapsedMs : 0,
      latenciesMs: concatSamples(rs.map((r) => r.latenciesMs)),
    };
  } finally {
    for (const w of workers) {
      w.postMessage({ type: 'close' });
      void w.terminate();
    }
  }
}
