// Opens SQLite databases with better-sqlite3, handing it its native addon: left to itself it
// finds the addon through the `bindings` package, which tries a dozen paths and parses a stack
// trace on first use (~2 ms of a cold start). The service's bundled pipeline carries
// better-sqlite3's JavaScript; the addon always stays a file of its own.
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import { EngineError } from './errors.js';

let addon: object | null | undefined;

function nativeAddon(): object | null {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)('better-sqlite3/build/Release/better_sqlite3.node') as object;
    } catch {
      addon = null; // built elsewhere: better-sqlite3's own lookup finds it
    }
  }
  return addon;
}

export function openDatabase(file: string, options: Database.Options = {}): Database.Database {
  const native = nativeAddon();
  // (the addon object is accepted at run time; the types only know a path)
  return new Database(file, native ? { ...options, nativeBinding: native as unknown as string } : options);
}

const BUSY_RETRY_MS = 30_000;
const isBusy = (e: unknown) => /^SQLITE_(BUSY|LOCKED)/.test((e as { code?: string })?.code ?? '');

/**
 * Write transactions on a database other processes write too (the service, `tspod container
 * cleanup`, other services on the same root): one at a time in this process, each under
 * BEGIN IMMEDIATE (SQLite's write lock). Waiting for another process's lock is an async retry
 * (the connection's busy_timeout should be 0), never a busy wait of the event loop. A throw
 * rolls back what the transaction wrote.
 */
export class WriteQueue {
  private queue: Promise<unknown> = Promise.resolve();

  /** `what` names the database in the error when it stays locked (e.g. "the volume database"). */
  constructor(
    private readonly writer: Database.Database,
    private readonly what: string,
  ) {}

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = async () => {
      await this.begin();
      let result: T;
      try {
        result = await fn();
      } catch (e) {
        if (this.writer.inTransaction) this.writer.exec('ROLLBACK');
        throw e;
      }
      this.writer.exec('COMMIT');
      return result;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async begin(): Promise<void> {
    const deadline = Date.now() + BUSY_RETRY_MS;
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      try {
        this.writer.exec('BEGIN IMMEDIATE');
        return;
      } catch (e) {
        if (!isBusy(e) || Date.now() > deadline) throw new EngineError('unavailable', `${this.what} is busy (${(e as Error).message})`, e);
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
