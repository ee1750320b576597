// conmon's k8s-file log format (the CRI format): one line per chunk of container output,
//
//   <RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>\n
//
// e.g. "2024-03-25T13:20:42.999999999+01:00 stdout F hello". F ends a line of output (its
// newline is the record's); P is a partial chunk (output that did not end with a newline yet).
// When the file grows beyond --log-size-max, conmon writes <path>.tmp and renames it over the
// log, so a follower must notice the new inode and continue at its start.
import { promises as fsp, watch, type FSWatcher } from 'node:fs';

export type LogStream = 'stdout' | 'stderr';

export interface K8sLogEntry {
  /** Nanoseconds since the Unix epoch. */
  timeNano: bigint;
  /** The timestamp as written. */
  timestamp: string;
  stream: LogStream;
  /** A P record: the output continues in the next record of this stream. */
  partial: boolean;
  /** The content, without the record's newline. */
  data: Buffer;
  /** Byte offset just past this record in the file (resume reading here). */
  offset: number;
}

const TS_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/;

/** Parses an RFC 3339 timestamp with up to nanosecond precision to nanoseconds since the epoch. */
export function parseRfc3339Nano(s: string): bigint | undefined {
  const m = TS_RE.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
  if (Number.isNaN(ms)) return undefined;
  let offsetMin = 0;
  if (zone !== 'Z') {
    const z = zone!.replace(':', '');
    const sign = z[0] === '-' ? -1 : 1;
    offsetMin = sign * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
  }
  const nanos = BigInt((frac ?? '').padEnd(9, '0') || '0');
  return (BigInt(ms) - BigInt(offsetMin) * 60_000n) * 1_000_000n + nanos;
}

/** Formats nanoseconds since the epoch as conmon does (UTC, 9 fraction digits, "+00:00"). */
export function formatRfc3339Nano(timeNano: bigint): string {
  const ms = timeNano / 1_000_000n;
  const nanos = ((timeNano % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // 2024-03-25T12:20:42.999Z
  return `${iso.slice(0, 19)}.${nanos.toString().padStart(9, '0')}+00:00`;
}

const SPACE = 0x20;

/** Parses one record (without its trailing newline); undefined when it is not a k8s-file record. */
export function parseK8sLogLine(line: Buffer): Omit<K8sLogEntry, 'offset'> | undefined {
  const s1 = line.indexOf(SPACE);
  if (s1 < 0) return undefined;
  const s2 = line.indexOf(SPACE, s1 + 1);
  if (s2 < 0) return undefined;
  const timestamp = line.toString('latin1', 0, s1);
  const stream = line.toString('latin1', s1 + 1, s2);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const timeNano = parseRfc3339Nano(timestamp);
  if (timeNano === undefined) return undefined;
  // The tag: "F" or "P", then a space, then the content (which may be empty).
  const tag = line[s2 + 1];
  if (tag !== 0x46 /* F */ && tag !== 0x50 /* P */) return undefined;
  const rest = s2 + 2;
  if (rest < line.length && line[rest] !== SPACE) return undefined;
  const data = rest < line.length ? line.subarray(rest + 1) : Buffer.alloc(0);
  return { timeNano, timestamp, stream, partial: tag === 0x50, data: Buffer.from(data) };
}

/**
 * Incremental parser: push file bytes as they come, get the complete records. Malformed lines
 * are skipped. `offset` is the file offset just past the last complete record.
 */
export class K8sLogParser {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private _offset: number;

  constructor(startOffset = 0) {
    this._offset = startOffset;
  }

  get offset(): number {
    return this._offset;
  }

  /** Bytes received but not yet part of a complete record. */
  get buffered(): number {
    return this.pendingLen;
  }

  push(chunk: Buffer): K8sLogEntry[] {
    const out: K8sLogEntry[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      let line = chunk.subarray(start, nl);
      if (this.pendingLen) {
        line = Buffer.concat([...this.pending, line]);
        this.pending = [];
        this.pendingLen = 0;
      }
      this._offset += line.length + 1;
      const e = parseK8sLogLine(line);
      if (e) out.push({ ...e, offset: this._offset });
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.pending.push(Buffer.from(rest));
      this.pendingLen += rest.length;
    }
    return out;
  }

  /** Forgets buffered bytes and restarts at `offset` (after truncation or rotation). */
  reset(offset = 0): void {
    this.pending = [];
    this.pendingLen = 0;
    this._offset = offset;
  }
}

/**
 * Joins P records with the records that complete them, per stream: yields one entry per line of
 * output (partial only if the output ended without a newline), timestamped by its first record.
 */
export async function* joinPartialRecords(entries: AsyncIterable<K8sLogEntry>): AsyncGenerator<K8sLogEntry> {
  const open = new Map<LogStream, K8sLogEntry[]>();
  for await (const e of entries) {
    const parts = open.get(e.stream);
    if (e.partial) {
      if (parts) parts.push(e);
      else open.set(e.stream, [e]);
      continue;
    }
    if (parts) {
      open.delete(e.stream);
      yield { ...parts[0]!, partial: false, data: Buffer.concat([...parts.map((p) => p.data), e.data]), offset: e.offset };
    } else yield e;
  }
  for (const parts of open.values()) {
    yield { ...parts[0]!, partial: true, data: Buffer.concat(parts.map((p) => p.data)), offset: parts[parts.length - 1]!.offset };
  }
}

export interface ReadK8sLogOptions {
  /** Byte offset to start at (an entry's `offset`, or findTailOffset's result). */
  offset?: number;
  /** Only entries at or after this time (ns since epoch). */
  sinceNano?: bigint;
  /** Stop at the first entry after this time (ns since epoch). */
  untilNano?: bigint;
  /** Keep waiting for new records at end of file. */
  follow?: boolean;
  /** With follow: checked each time the reader is caught up; when true, the reader drains and returns. */
  stopWhen?: () => boolean | Promise<boolean>;
  /** Ends the iteration (without error) when aborted. */
  signal?: AbortSignal;
  /** With follow: poll interval as a safety net for missed change events (default 250 ms). */
  pollMs?: number;
  /** Read size (default 64 KiB). */
  chunkSize?: number;
}

/**
 * Reads records from a k8s-file log, optionally following it as it grows (and across conmon's
 * rotation to a new file). A missing file yields nothing (or, with follow, waits for it).
 */
export async function* readK8sLog(file: string, opts: ReadK8sLogOptions = {}): AsyncGenerator<K8sLogEntry> {
  const parser = new K8sLogParser(opts.offset ?? 0);
  const buf = Buffer.alloc(opts.chunkSize ?? 64 * 1024);
  let fh: import('node:fs/promises').FileHandle | undefined;
  let ino: bigint | undefined;
  let watcher: FSWatcher | undefined;
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onAbort = () => poke();
  opts.signal?.addEventListener('abort', onAbort);

  const open = async (): Promise<boolean> => {
    try {
      fh = await fsp.open(file, 'r');
      ino = (await fh.stat({ bigint: true })).ino;
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  };

  /** Reads what is available from the current position; returns entries. */
  const drain = async (): Promise<K8sLogEntry[]> => {
    if (!fh) return [];
    const out: K8sLogEntry[] = [];
    const st = await fh.stat({ bigint: true });
    if (Number(st.size) < parser.offset + parser.buffered) parser.reset(0); // truncated
    for (;;) {
      const pos = parser.offset + parser.buffered;
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      out.push(...parser.push(buf.subarray(0, bytesRead)));
      if (out.length >= 1024) break;
    }
    return out;
  };

  /** Whether the path now names another file (conmon rotated it); switches to it. */
  const rotated = async (): Promise<boolean> => {
    try {
      const st = await fsp.stat(file, { bigint: true });
      if (ino !== undefined && st.ino === ino) return false;
    } catch {
      return false;
    }
    await fh?.close();
    fh = undefined;
    parser.reset(0);
    return open();
  };

  try {
    await open();
    if (opts.follow) {
      try {
        watcher = watch(file.replace(/[^/]+$/, '') || '.', { persistent: false }, () => poke());
        watcher.on('error', () => {});
      } catch {
        // polling only
      }
    }
    for (;;) {
      if (opts.signal?.aborted) return;
      if (!fh) await open();
      const entries = await drain();
      for (const e of entries) {
        if (opts.sinceNano !== undefined && e.timeNano < opts.sinceNano) continue;
        if (opts.untilNano !== undefined && e.timeNano > opts.untilNano) return;
        yield e;
        if (opts.signal?.aborted) return;
      }
      if (entries.length) continue;
      // Caught up.
      if (await rotated()) continue;
      if (!opts.follow) return;
      if (opts.stopWhen && (await opts.stopWhen())) {
        // One last look: the writer may have added records before it stopped.
        for (const e of await drain()) {
          if (opts.sinceNano !== undefined && e.timeNano < opts.sinceNano) continue;
          if (opts.untilNano !== undefined && e.timeNano > opts.untilNano) return;
          yield e;
        }
        return;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(poke, opts.pollMs ?? 250);
      });
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    watcher?.close();
    await fh?.close();
  }
}

/** Complete records of a file from the last to the first, with their start offsets. */
async function* recordsBackward(
  fh: import('node:fs/promises').FileHandle,
  size: number,
  chunkSize = 64 * 1024,
): AsyncGenerator<{ start: number; line: Buffer }> {
  let pos = size;
  let carry = Buffer.alloc(0); // the beginning of a record whose start lies in an earlier chunk
  let terminated = false; // found the newline ending the last complete record
  while (pos > 0) {
    const start = Math.max(0, pos - chunkSize);
    const b = Buffer.alloc(pos - start);
    await fh.read(b, 0, b.length, start);
    const data = carry.length ? Buffer.concat([b, carry]) : b;
    let recEnd = data.length; // exclusive end (where its newline is, or was cut off)
    if (!terminated) {
      const last = data.lastIndexOf(0x0a);
      if (last < 0) {
        carry = Buffer.alloc(0); // still inside the unterminated tail: drop it
        pos = start;
        continue;
      }
      terminated = true;
      recEnd = last;
    }
    for (let i = recEnd - 1; i >= 0; i--) {
      if (data[i] !== 0x0a) continue;
      yield { start: start + i + 1, line: data.subarray(i + 1, recEnd) };
      recEnd = i;
    }
    carry = Buffer.from(data.subarray(0, recEnd));
    pos = start;
  }
  if (terminated) yield { start: 0, line: carry };
}

/**
 * The byte offset where the last `lines` lines of output start (the P records before an F
 * record belong to its line). 0 when the file has fewer lines or does not exist.
 */
export async function findTailOffset(file: string, lines: number): Promise<number> {
  let fh: import('node:fs/promises').FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch {
    return 0;
  }
  try {
    const size = (await fh.stat()).size;
    let pos = size;
    let seen = 0;
    let first = true;
    for await (const { start, line } of recordsBackward(fh, size)) {
      if (first) {
        pos = start + line.length + 1; // end of the last complete record
        first = false;
      }
      const rec = parseK8sLogLine(line);
      if (rec && !rec.partial) {
        if (seen === lines) return pos;
        seen++;
      }
      pos = start;
    }
    return 0;
  } finally {
    await fh.close();
  }
}
