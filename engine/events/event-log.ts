// The persistent event log: one JSON line per event in a file shared by the service and the
// short-lived cleanup processes conmon starts, read back (and followed) by event streams.
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { compileFilters, type CompiledFilters } from './filters.js';
import { eventClockNs } from './time.js';
import type { EngineEvent, EventQuery } from './types.js';

/** What producers hand in: the log stamps the time unless one is given. */
export type EventInput = Omit<EngineEvent, 'time' | 'timeNano' | 'attributes'> & {
  attributes?: Record<string, string>;
  time?: number;
  timeNano?: bigint;
};

export interface EventLogOptions {
  /**
   * Fallback poll while following, for file systems where fs.watch misses writes made by
   * other processes (network and some overlay file systems). Default 1000 ms.
   */
  pollIntervalMs?: number;
}

const NS_PER_S = 1_000_000_000n;
// timeNano comes first in every line so the time range can be checked without JSON.parse.
const TIME_PREFIX = '{"timeNano":"';
const READ_CHUNK = 1 << 20;
// A "line" this long without a newline is garbage (or not our file): drop it rather than grow.
const MAX_LINE = 16 << 20;
// setTimeout's limit: longer waits are re-armed.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The stored form of an event: timeNano as a decimal string, `time` derived from it. */
export function formatEventLine(event: EngineEvent): string {
  const { type, action, id, name, image, attributes } = event;
  const rest = JSON.stringify({ type, action, id, name, image, attributes });
  return `${TIME_PREFIX}${event.timeNano}",${rest.slice(1)}\n`;
}

const isStringRecord = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');

/** Parses one stored line; undefined when it is corrupt. */
export function parseEventLine(line: string): EngineEvent | undefined {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(line);
  } catch {
    // A writer that died mid-line leaves a fragment the next append is glued to: the glued
    // event is still intact at the end of the line.
    const next = line.lastIndexOf(TIME_PREFIX);
    return next > 0 ? parseEventLine(line.slice(next)) : undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { type, action, id, name, image, attributes, timeNano } = raw;
  if (typeof type !== 'string' || typeof action !== 'string' || typeof id !== 'string') return undefined;
  if (typeof timeNano !== 'string' || !/^-?\d+$/.test(timeNano)) return undefined;
  if ((name !== undefined && typeof name !== 'string') || (image !== undefined && typeof image !== 'string')) {
    return undefined;
  }
  const ns = BigInt(timeNano);
  const event: EngineEvent = {
    type: type as EngineEvent['type'],
    action,
    id,
    attributes: isStringRecord(attributes) ? attributes : {},
    time: Number(ns / NS_PER_S),
    timeNano: ns,
  };
  if (name !== undefined) event.name = name;
  if (image !== undefined) event.image = image;
  return event;
}

/** timeNano read from the line prefix, or undefined when the line is not in the usual shape. */
function peekTimeNano(line: string): bigint | undefined {
  if (!line.startsWith(TIME_PREFIX)) return undefined;
  const end = line.indexOf('"', TIME_PREFIX.length);
  if (end < 0) return undefined;
  try {
    return BigInt(line.slice(TIME_PREFIX.length, end));
  } catch {
    return undefined;
  }
}

// Appends made by this process wake this process's followers at once, without waiting for
// fs.watch (which may be slow or absent).
const localFollowers = new Map<string, Set<() => void>>();

function notifyLocal(path: string): void {
  for (const wake of localFollowers.get(path) ?? []) wake();
}

/** Reads complete lines from a growing file, from a byte offset, surviving replacement. */
class LineTail {
  private handle: FileHandle | undefined;
  private ino = -1;
  private offset = 0;
  private carry: Buffer = Buffer.alloc(0);
  private readonly buf = Buffer.allocUnsafe(READ_CHUNK);

  constructor(private readonly path: string) {}

  /** Skips what the file holds now (no history). */
  async skipToEnd(): Promise<void> {
    if (await this.open()) this.offset = (await this.handle!.stat()).size;
  }

  /** Complete lines after the last read; [] when only a partial line came; null at the end. */
  async read(): Promise<string[] | null> {
    if (!this.handle && !(await this.open())) return null;
    const { bytesRead } = await this.handle!.read(this.buf, 0, READ_CHUNK, this.offset);
    if (bytesRead === 0) return (await this.reopenIfChanged()) ? this.read() : null;
    this.offset += bytesRead;
    const fresh = this.buf.subarray(0, bytesRead);
    const chunk = this.carry.length > 0 ? Buffer.concat([this.carry, fresh]) : fresh;
    const nl = chunk.lastIndexOf(10);
    // Copy: `buf` is reused by the next read.
    this.carry = Buffer.from(chunk.subarray(nl + 1));
    if (this.carry.length > MAX_LINE) this.carry = Buffer.alloc(0);
    return nl < 0 ? [] : chunk.toString('utf8', 0, nl).split('\n');
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private async open(): Promise<boolean> {
    try {
      this.handle = await open(this.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    this.ino = (await this.handle.stat()).ino;
    return true;
  }

  // At EOF: a truncated file is read again from the start, a replaced one (rotation, or
  // deleted and created anew) is switched to.
  private async reopenIfChanged(): Promise<boolean> {
    if ((await this.handle!.stat()).size < this.offset) {
      this.offset = 0;
      this.carry = Buffer.alloc(0);
      return true;
    }
    let ino: number;
    try {
      ino = (await stat(this.path)).ino;
    } catch {
      return false; // deleted: keep the old handle until a new file appears
    }
    if (ino === this.ino) return false;
    await this.close();
    this.offset = 0;
    this.carry = Buffer.alloc(0);
    return this.open();
  }
}

/** A wake-up that is not lost when it fires while nobody waits. */
class Waker {
  private pending = false;
  private resolveWait: (() => void) | undefined;

  readonly wake = (): void => {
    const resolveWait = this.resolveWait;
    this.resolveWait = undefined;
    if (resolveWait) resolveWait();
    else this.pending = true;
  };

  wait(): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((r) => (this.resolveWait = r));
  }
}

export class EventLog {
  readonly path: string;
  private dirReady: Promise<unknown> | undefined;

  constructor(
    path: string,
    private readonly options: EventLogOptions = {},
  ) {
    this.path = resolve(path);
  }

  /** Stamps (unless timed already) and appends one event; returns it as stored. */
  async append(input: EventInput): Promise<EngineEvent> {
    let timeNano = input.timeNano;
    if (timeNano === undefined) {
      timeNano = input.time !== undefined ? BigInt(Math.round(input.time * 1000)) * 1_000_000n : eventClockNs();
    }
    const event: EngineEvent = {
      type: input.type,
      action: input.action,
      id: input.id,
      attributes: { ...input.attributes },
      time: Number(timeNano / NS_PER_S),
      timeNano,
    };
    if (input.name !== undefined) event.name = input.name;
    if (input.image !== undefined) event.image = input.image;
    const line = Buffer.from(formatEventLine(event));
    await this.ensureDir();
    let handle: FileHandle;
    try {
      handle = await open(this.path, 'a', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.dirReady = undefined; // directory removed under us (runroot on tmpfs cleared)
      await this.ensureDir();
      handle = await open(this.path, 'a', 0o600);
    }
    try {
      // One write() on an O_APPEND descriptor: lines from concurrent processes never interleave.
      await handle.write(line, 0, line.length);
    } finally {
      await handle.close();
    }
    notifyLocal(this.path);
    return event;
  }

  /**
   * Events matching `query`. History (from the start of the file) only when `since` is given;
   * with `follow`, then live events from any process until `signal` aborts or `until` passes.
   * Unknown filter keys throw here, before anything is streamed.
   */
  stream(query: EventQuery, signal: AbortSignal): AsyncIterable<EngineEvent> {
    const filters = compileFilters(query.filters);
    return this.generate(query, filters, signal);
  }

  private ensureDir(): Promise<unknown> {
    this.dirReady ??= mkdir(dirname(this.path), { recursive: true, mode: 0o700 }).catch((err) => {
      this.dirReady = undefined;
      throw err;
    });
    return this.dirReady;
  }

  private async *generate(
    query: EventQuery,
    filters: CompiledFilters,
    signal: AbortSignal,
  ): AsyncGenerator<EngineEvent> {
    const { since, until } = query;
    if (signal.aborted) return;
    const follow = query.follow && (until === undefined || until > eventClockNs());
    const tail = new LineTail(this.path);
    const waker = new Waker();
    const cleanups: Array<() => void> = [];
    let untilTimer: NodeJS.Timeout | undefined;
    const accept = (line: string): EngineEvent | undefined => {
      if (line.length === 0) return undefined;
      // Cheap rejections first; a line holding a second event (glued after a torn write)
      // is left to the full parse.
      const peeked = peekTimeNano(line);
      if (
        peeked !== undefined &&
        ((since !== undefined && peeked < since) || (until !== undefined && peeked > until)) &&
        line.indexOf(TIME_PREFIX, 1) < 0
      ) {
        return undefined;
      }
      if (!filters.mightMatch(line)) return undefined;
      const event = parseEventLine(line);
      if (!event) return undefined;
      if ((since !== undefined && event.timeNano < since) || (until !== undefined && event.timeNano > until)) {
        return undefined;
      }
      return filters.match(event) ? event : undefined;
    };
    try {
      if (follow) {
        // The directory is watched, so it must exist; without it the poll still works.
        await this.ensureDir().catch(() => undefined);
        // Subscribe before the first read: a wake-up between the read and the wait is kept.
        cleanups.push(this.subscribe(waker.wake));
        signal.addEventListener('abort', waker.wake, { once: true });
        cleanups.push(() => signal.removeEventListener('abort', waker.wake));
      }
      if (since === undefined) await tail.skipToEnd();
      for (;;) {
        for (let lines = await tail.read(); lines !== null; lines = await tail.read()) {
          if (signal.aborted) return;
          for (const line of lines) {
            const event = accept(line);
            if (event) yield event;
          }
        }
        if (!follow || signal.aborted) return;
        if (until !== undefined) {
          const remainingMs = Number((until - eventClockNs()) / 1_000_000n);
          // Past `until`: one last read above caught late writers; the stream is over.
          if (remainingMs < 0) return;
          untilTimer ??= setTimeout(() => {
            untilTimer = undefined;
            waker.wake();
          }, Math.min(remainingMs + 1, MAX_TIMER_MS));
        }
        await waker.wait();
      }
    } finally {
      if (untilTimer) clearTimeout(untilTimer);
      for (const cleanup of cleanups) cleanup();
      await tail.close();
    }
  }

  /** Wakes `wake` on any append to the file; returns the unsubscribe. */
  private subscribe(wake: () => void): () => void {
    let followers = localFollowers.get(this.path);
    if (!followers) localFollowers.set(this.path, (followers = new Set()));
    followers.add(wake);
    const poll = setInterval(wake, this.options.pollIntervalMs ?? 1000);
    // The directory, not the file: the file may not exist yet, or be replaced.
    let watcher: FSWatcher | undefined;
    const name = basename(this.path);
    try {
      watcher = watch(dirname(this.path), { persistent: true }, (_type, file) => {
        if (!file || file === name) wake();
      });
      watcher.on('error', () => {
        watcher?.close(); // e.g. directory removed: the poll carries on
        watcher = undefined;
      });
    } catch {
      // Missing directory or no inotify watches left: the poll alone will do.
    }
    return () => {
      followers.delete(wake);
      if (followers.size === 0) localFollowers.delete(this.path);
      clearInterval(poll);
      watcher?.close();
    };
  }
}
