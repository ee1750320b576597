// A streaming tar reader: ustar, GNU (long names `L`, long link names `K`, base-256 numbers) and
// PAX (`x` per entry, `g` global; path, linkpath, size, mtime, atime, uid, gid, uname, gname,
// SCHILY.xattr.*, LIBARCHIVE.xattr.*), read as an async iterator of entries, each with its body
// as a stream of chunks. Nothing is buffered beyond the chunks the source hands in: a file's body
// is passed through as slices of those chunks.
//
// Decompression is picked by magic bytes: gzip (Node's zlib), zstd, xz and bzip2 (the Debian
// `zstd`, `xz-utils` and `bzip2` binaries through a child-process pipe: Node 20 has no zstd, and
// the setup script must install the `zstd` package), or none.
import { spawn } from 'node:child_process';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { EngineError } from '../errors.js';

export type TarEntryType =
  | 'file'
  | 'hardlink'
  | 'symlink'
  | 'char'
  | 'block'
  | 'directory'
  | 'fifo'
  | 'unsupported';

export interface TarHeader {
  /** Path as written in the archive (after PAX / GNU long-name overrides), not normalised. */
  name: string;
  type: TarEntryType;
  /** The raw typeflag character ('0', '5', 'S', ...). */
  typeflag: string;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Bytes of body that follow the header (0 for everything but regular files). */
  size: number;
  /** Seconds since the epoch; fractional when a PAX header gave sub-second precision. */
  mtime: number;
  atime?: number;
  /** Target of a symlink or hardlink. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from SCHILY.xattr.* / LIBARCHIVE.xattr.* records. */
  xattrs: Map<string, Buffer>;
  /** Every PAX record that applied to this entry (global then local), values as UTF-8. */
  pax: Record<string, string>;
}

export interface TarEntry {
  header: TarHeader;
  /**
   * The body as chunks (slices of the source's chunks: copy them if kept). May be iterated once;
   * an unread or partly read body is skipped when the iterator moves to the next entry.
   */
  body(): AsyncIterable<Buffer>;
  /** The body as a Node Readable (same one-shot rule as body()). */
  stream(): Readable;
}

export interface ReadTarOptions {
  /** Read the source to its end after the end-of-archive marker (default true). */
  drain?: boolean;
}

const BLOCK = 512;

const badTar = (message: string) => new EngineError('invalid-argument', `invalid tar archive: ${message}`);

/** Pulls exact byte counts out of a stream of chunks without copying where it can avoid it. */
class ChunkReader {
  private readonly it: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  eof = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  get buffered(): number {
    return this.buf.length - this.pos;
  }

  /** Gets more data into the buffer; false at end of input. */
  private async more(): Promise<boolean> {
    if (this.eof) return false;
    for (;;) {
      const r = await this.it.next();
      if (r.done) {
        this.eof = true;
        return false;
      }
      let chunk = r.value as Buffer | string;
      if (typeof chunk === 'string') chunk = Buffer.from(chunk);
      if (chunk.length === 0) continue;
      if (this.buffered === 0) {
        this.buf = chunk;
      } else {
        this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
      }
      this.pos = 0;
      return true;
    }
  }

  /** Exactly n bytes, or fewer only at end of input (then whatever was left). */
  async read(n: number): Promise<Buffer> {
    while (this.buffered < n) {
      if (!(await this.more())) break;
    }
    const take = Math.min(n, this.buffered);
    const out = this.buf.subarray(this.pos, this.pos + take);
    this.pos += take;
    return out;
  }

  /** Up to n bytes: whatever is buffered (reading once if nothing is). Empty at end of input. */
  async readSome(n: number): Promise<Buffer> {
    if (this.buffered === 0 && !(await this.more())) return Buffer.alloc(0);
    const take = Math.min(n, this.buffered);
    const out = this.buf.subarray(this.pos, this.pos + take);
    this.pos += take;
    return out;
  }

  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const b = await this.readSome(left);
      if (b.length === 0) break;
      left -= b.length;
    }
    return n - left;
  }

  async drain(): Promise<void> {
    this.pos = this.buf.length;
    while (await this.more()) this.pos = this.buf.length;
  }

  async close(): Promise<void> {
    if (!this.eof) {
      this.eof = true;
      await this.it.return?.();
    }
  }
}

function cString(b: Buffer, start: number, len: number): string {
  const field = b.subarray(start, start + len);
  const nul = field.indexOf(0);
  return (nul === -1 ? field : field.subarray(0, nul)).toString('utf8');
}

/** A numeric header field: octal text, or GNU base-256 when the top bit of the first byte is set. */
function parseNumber(b: Buffer, start: number, len: number, what: string): number {
  const field = b.subarray(start, start + len);
  if (field[0]! & 0x80) {
    // Base-256, two's complement: 0x80 marks positive, 0xff negative.
    const negative = field[0] === 0xff;
    let v = 0n;
    for (let i = 0; i < field.length; i++) {
      const byte = i === 0 ? field[0]! & 0x7f : field[i]!;
      v = (v << 8n) | BigInt(negative ? byte ^ 0xff : byte);
    }
    if (negative) v = -(v + 1n);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw badTar(`${what} out of range`);
    }
    return Number(v);
  }
  const s = field.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[ \0]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw badTar(`bad ${what} field ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  const stored = parseNumber(h, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

function isZeroBlock(h: Buffer): boolean {
  for (let i = 0; i < h.length; i++) if (h[i] !== 0) return false;
  return true;
}

/** PAX records: "<len> <key>=<value>\n", len counting the whole record in bytes. */
function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // padding some writers leave
    const sp = data.indexOf(0x20, pos);
    if (sp === -1) throw badTar('bad PAX record');
    const lenText = data.subarray(pos, sp).toString('latin1');
    if (!/^[0-9]+$/.test(lenText)) throw badTar('bad PAX record length');
    const len = parseInt(lenText, 10);
    const end = pos + len;
    if (len <= sp - pos + 1 || end > data.length || data[end - 1] !== 0x0a) throw badTar('bad PAX record');
    const eq = data.indexOf(0x3d, sp + 1);
    if (eq === -1 || eq >= end) throw badTar('bad PAX record');
    const key = data.subarray(sp + 1, eq).toString('utf8');
    out.set(key, data.subarray(eq + 1, end - 1));
    pos = end;
  }
  return out;
}

function paxNumber(v: string, key: string): number {
  if (!/^-?[0-9]+(\.[0-9]*)?$/.test(v)) throw badTar(`bad PAX ${key} ${JSON.stringify(v)}`);
  const n = Number(v);
  if (!Number.isFinite(n)) throw badTar(`bad PAX ${key}`);
  return n;
}

const typeOf: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'directory',
  '6': 'fifo',
};

/**
 * Reads a (decompressed) tar stream as entries. The iterator must be driven in order: fetching the
 * next entry skips what is left of the previous body. Errors (truncation, bad checksums, bad PAX)
 * are EngineError('invalid-argument').
 */
export async function* readTar(source: AsyncIterable<Buffer>, options: ReadTarOptions = {}): AsyncGenerator<TarEntry> {
  const r = new ChunkReader(source);
  const globalPax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let localPax: Map<string, Buffer> | undefined;
  let finished = false;

  const readBody = async (size: number, what: string): Promise<Buffer> => {
    if (size > 64 * 1024 * 1024) throw badTar(`${what} header too large`);
    const data = Buffer.from(await r.read(size)); // copy: it is kept
    if (data.length < size) throw badTar('unexpected end of archive');
    await skipPadding(size);
    return data;
  };
  const skipPadding = async (size: number) => {
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad && (await r.skip(pad)) < pad) throw badTar('unexpected end of archive');
  };

  try {
    for (;;) {
      const h = await r.read(BLOCK);
      if (h.length === 0) break; // no end marker at all: tolerated, as GNU tar and Go do
      if (h.length < BLOCK) throw badTar('unexpected end of archive');
      if (isZeroBlock(h)) {
        finished = true;
        break;
      }
      if (!checksumOk(h)) throw badTar('header checksum mismatch');
      const typeflag = String.fromCharCode(h[156]!);
      const size = parseNumber(h, 124, 12, 'size');

      if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
        const data = await readBody(size, typeflag);
        if (typeflag === 'x') localPax = parsePax(data);
        else if (typeflag === 'g') for (const [k, v] of parsePax(data)) globalPax.set(k, v);
        else {
          const nul = data.indexOf(0);
          const s = (nul === -1 ? data : data.subarray(0, nul)).toString('utf8');
          if (typeflag === 'L') longName = s;
          else longLink = s;
        }
        continue;
      }

      const magic = h.subarray(257, 263).toString('latin1');
      let name = cString(h, 0, 100);
      if (magic === 'ustar\0') {
        const prefix = cString(h, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      let linkname = cString(h, 157, 100);
      const header: TarHeader = {
        name,
        typeflag,
        type: typeOf[typeflag] ?? 'unsupported',
        mode: parseNumber(h, 100, 8, 'mode') & 0o7777,
        uid: parseNumber(h, 108, 8, 'uid'),
        gid: parseNumber(h, 116, 8, 'gid'),
        size,
        mtime: parseNumber(h, 136, 12, 'mtime'),
        linkname,
        uname: cString(h, 265, 32),
        gname: cString(h, 297, 32),
        devmajor: 0,
        devminor: 0,
        xattrs: new Map(),
        pax: {},
      };
      if (magic.startsWith('ustar')) {
        header.devmajor = parseNumber(h, 329, 8, 'devmajor');
        header.devminor = parseNumber(h, 337, 8, 'devminor');
      }
      if (longName !== undefined) header.name = longName;
      if (longLink !== undefined) header.linkname = longLink;
      const records = new Map(globalPax);
      if (localPax) for (const [k, v] of localPax) records.set(k, v);
      for (const [key, raw] of records) {
        if (key.startsWith('SCHILY.xattr.')) {
          header.xattrs.set(key.slice('SCHILY.xattr.'.length), raw);
          continue;
        }
        if (key.startsWith('LIBARCHIVE.xattr.')) {
          // libarchive: URL-encoded name, base64 value.
          header.xattrs.set(decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length)), Buffer.from(raw.toString('latin1'), 'base64'));
          continue;
        }
        const v = raw.toString('utf8');
        header.pax[key] = v;
        switch (key) {
          case 'path':
            header.name = v;
            break;
          case 'linkpath':
            header.linkname = v;
            break;
          case 'size':
            header.size = paxNumber(v, key);
            break;
          case 'mtime':
            header.mtime = paxNumber(v, key);
            break;
          case 'atime':
            header.atime = paxNumber(v, key);
            break;
          case 'uid':
            header.uid = paxNumber(v, key);
            break;
          case 'gid':
            header.gid = paxNumber(v, key);
            break;
          case 'uname':
            header.uname = v;
            break;
          case 'gname':
            header.gname = v;
            break;
          case 'SCHILY.devmajor':
            header.devmajor = paxNumber(v, key);
            break;
          case 'SCHILY.devminor':
            header.devminor = paxNumber(v, key);
            break;
        }
      }
      longName = longLink = localPax = undefined;
      if (!Number.isSafeInteger(header.size) || header.size < 0) throw badTar('bad size');
      // Old (v7) archives mark directories by a trailing slash on a regular entry.
      if (header.type === 'file' && typeflag === '\0' && header.name.endsWith('/')) header.type = 'directory';
      // Header-only types carry no data whatever the size field says (as Go's archive/tar reads them).
      const headerOnly = header.type !== 'file' && header.type !== 'unsupported';
      const dataSize = headerOnly ? 0 : header.size;
      if (headerOnly) header.size = 0;

      let remaining = dataSize;
      let started = false;
      const body = async function* (): AsyncGenerator<Buffer> {
        if (started) throw new EngineError('internal', 'tar entry body read twice');
        started = true;
        while (remaining > 0) {
          const b = await r.readSome(remaining);
          if (b.length === 0) throw badTar('unexpected end of archive');
          remaining -= b.length;
          yield b;
        }
      };
      const entry: TarEntry = {
        header,
        body,
        stream: () => Readable.from(body(), { objectMode: false }),
      };
      yield entry;
      if (remaining > 0) {
        started = true;
        if ((await r.skip(remaining)) < remaining) throw badTar('unexpected end of archive');
        remaining = 0;
      }
      await skipPadding(dataSize);
    }
    if (finished && options.drain !== false) await r.drain();
  } finally {
    await r.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Decompression

export type Compression = 'none' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

/** Recognises a compressed stream by its first bytes (at least 6 for xz). */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  return 'none';
}

/** Passes chunks through, showing each to `fn` first. */
export async function* tap(source: AsyncIterable<Buffer>, fn: (chunk: Buffer) => void): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    fn(b);
    yield b;
  }
}

/** Reads enough of a stream to see its first `n` bytes, and gives back the whole stream. */
export async function peek(source: AsyncIterable<Buffer>, n: number): Promise<{ head: Buffer; stream: AsyncIterable<Buffer> }> {
  const it = source[Symbol.asyncIterator]();
  const seen: Buffer[] = [];
  let have = 0;
  let done = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : (r.value as Buffer);
    seen.push(b);
    have += b.length;
  }
  const head = Buffer.concat(seen).subarray(0, n);
  const stream = (async function* () {
    let ok = false;
    try {
      for (const b of seen) yield b;
      if (!done) {
        for (;;) {
          const r = await it.next();
          if (r.done) break;
          yield typeof r.value === 'string' ? Buffer.from(r.value) : (r.value as Buffer);
        }
      }
      ok = true;
    } finally {
      if (!ok) await it.return?.();
    }
  })();
  return { head, stream };
}

const externalTools: Record<'zstd' | 'xz' | 'bzip2', { cmd: string; pkg: string }> = {
  zstd: { cmd: 'zstd', pkg: 'zstd' },
  xz: { cmd: 'xz', pkg: 'xz-utils' },
  bzip2: { cmd: 'bzip2', pkg: 'bzip2' },
};

/**
 * Decompresses through an external binary (`<tool> -d -c`): the input is piped into its stdin and
 * its stdout is the output. The child is killed if the consumer stops early.
 */
async function* externalDecompress(source: AsyncIterable<Buffer>, kind: 'zstd' | 'xz' | 'bzip2'): AsyncGenerator<Buffer> {
  const { cmd, pkg } = externalTools[kind];
  const child = spawn(cmd, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let spawnError: Error | undefined;
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (e) => {
      spawnError = e;
      resolve(null);
    });
    child.on('close', (code) => resolve(code));
  });
  let feedError: Error | undefined;
  const input = Readable.from(source, { objectMode: false });
  const fed = new Promise<void>((resolve) => {
    pipeline(input, child.stdin, (err) => {
      if (err && (err as NodeJS.ErrnoException).code !== 'EPIPE') feedError = err;
      resolve();
    });
  });
  let completed = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const code = await exited;
    await fed;
    if (spawnError) {
      throw new EngineError(
        'unavailable',
        (spawnError as NodeJS.ErrnoException).code === 'ENOENT'
          ? `cannot decompress ${kind} data: the ${cmd} binary is missing (install the Debian package ${pkg})`
          : `cannot run ${cmd}: ${spawnError.message}`,
        spawnError,
      );
    }
    if (feedError) throw feedError;
    if (code !== 0) throw new EngineError('invalid-argument', `invalid ${kind} data: ${stderr.trim() || `${cmd} exited with ${code}`}`);
    completed = true;
  } finally {
    if (!completed) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      input.destroy();
      await exited;
    }
  }
}

async function* gunzip(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const input = Readable.from(source, { objectMode: false });
  const gz = createGunzip({ chunkSize: 128 * 1024 });
  pipeline(input, gz, () => {
    /* errors surface through iteration of gz */
  });
  let completed = false;
  try {
    for await (const chunk of gz) yield chunk as Buffer;
    completed = true;
  } catch (e) {
    if (e instanceof EngineError) throw e;
    throw new EngineError('invalid-argument', `invalid gzip data: ${(e as Error).message}`, e);
  } finally {
    if (!completed) {
      gz.destroy();
      input.destroy();
    }
  }
}

/** Detects the compression of `source` and returns the decompressed stream. */
export async function decompress(source: AsyncIterable<Buffer>): Promise<{ compression: Compression; stream: AsyncIterable<Buffer> }> {
  const { head, stream } = await peek(source, 6);
  const compression = detectCompression(head);
  switch (compression) {
    case 'none':
      return { compression, stream };
    case 'gzip':
      return { compression, stream: gunzip(stream) };
    default:
      return { compression, stream: externalDecompress(stream, compression) };
  }
}
