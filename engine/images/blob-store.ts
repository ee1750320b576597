// Content-addressed blobs (manifests, configs, layer blobs) under <storage root>/blobs:
//   <algorithm>/<hex>   a verified blob
//   tmp/<random>        a blob being written (removed by open())
// A blob is written to tmp/, its digest (and size, when expected) checked, and only then renamed
// to its name: a blob that exists under a digest has that digest.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { EngineError } from '../errors.js';

export type DigestAlgorithm = 'sha256' | 'sha384' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha384: 96, sha512: 128 };

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
}

/** Parses "<algorithm>:<hex>" (sha256, sha384, sha512, lowercase hex of the right length). */
export function parseDigest(digest: string): ParsedDigest {
  const m = /^([a-z0-9]+):([0-9a-f]+)$/.exec(digest);
  const algorithm = m?.[1] as DigestAlgorithm | undefined;
  if (!m || !algorithm || !(algorithm in HEX_LENGTH)) {
    throw new EngineError('invalid-argument', `invalid digest ${JSON.stringify(digest)}`);
  }
  if (m[2]!.length !== HEX_LENGTH[algorithm]) throw new EngineError('invalid-argument', `invalid digest ${JSON.stringify(digest)}: wrong length`);
  return { algorithm, hex: m[2]! };
}

export function isDigest(s: string): boolean {
  try {
    parseDigest(s);
    return true;
  } catch {
    return false;
  }
}

/** The digest of some bytes ("sha256:<hex>" by default). */
export function digestOf(data: Buffer | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

export interface BlobInfo {
  digest: string;
  size: number;
}

export interface BlobPutOptions {
  /**
   * The digest the content must have. When that blob is already stored, put returns at once
   * without reading the input (the caller closes it).
   */
  expectedDigest?: string;
  /** The size the content must have. */
  expectedSize?: number;
  /** Called with the bytes written so far, at most once per chunk. */
  onProgress?: (written: number) => void;
  signal?: AbortSignal;
  /** fsync the blob before it is renamed into place. */
  durable?: boolean;
}

function isErrno(e: unknown, code: string): boolean {
  return (e as NodeJS.ErrnoException)?.code === code;
}

const mismatch = (message: string) => new EngineError('invalid-argument', message);

export class BlobStore {
  private constructor(readonly dir: string) {}

  /** Opens (creating) the blob store under `storageRoot`, removing unfinished writes. */
  static async open(storageRoot: string): Promise<BlobStore> {
    const dir = path.join(path.resolve(storageRoot), 'blobs');
    await fs.promises.rm(path.join(dir, 'tmp'), { recursive: true, force: true });
    await fs.promises.mkdir(path.join(dir, 'tmp'), { recursive: true, mode: 0o700 });
    for (const a of Object.keys(HEX_LENGTH)) await fs.promises.mkdir(path.join(dir, a), { recursive: true, mode: 0o700 });
    return new BlobStore(dir);
  }

  /** Where the blob with this digest is (or would be) stored. */
  path(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return path.join(this.dir, algorithm, hex);
  }

  async stat(digest: string): Promise<BlobInfo | undefined> {
    try {
      const st = await fs.promises.stat(this.path(digest));
      return { digest, size: st.size };
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  async has(digest: string): Promise<boolean> {
    return (await this.stat(digest)) !== undefined;
  }

  /** Stores a stream; the blob is named by the digest of what was read. */
  async put(input: AsyncIterable<Buffer>, options: BlobPutOptions = {}): Promise<BlobInfo & { existed: boolean }> {
    const expected = options.expectedDigest ? parseDigest(options.expectedDigest) : undefined;
    if (options.expectedDigest) {
      const have = await this.stat(options.expectedDigest);
      if (have && (options.expectedSize === undefined || have.size === options.expectedSize)) return { ...have, existed: true };
    }
    const algorithm = expected?.algorithm ?? 'sha256';
    const hash = createHash(algorithm);
    const tmp = path.join(this.dir, 'tmp', randomBytes(12).toString('hex'));
    const fh = await fs.promises.open(tmp, 'wx', 0o600);
    let size = 0;
    let done = false;
    try {
      try {
        for await (const c of input) {
          const chunk = typeof c === 'string' ? Buffer.from(c) : c;
          options.signal?.throwIfAborted();
          hash.update(chunk);
          size += chunk.length;
          if (options.expectedSize !== undefined && size > options.expectedSize) {
            throw mismatch(`blob ${options.expectedDigest ?? '(unnamed)'} is larger than the expected ${options.expectedSize} bytes`);
          }
          let off = 0;
          while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
          options.onProgress?.(size);
        }
        options.signal?.throwIfAborted();
        if (options.durable) await fh.datasync();
      } finally {
        await fh.close();
      }
      const digest = `${algorithm}:${hash.digest('hex')}`;
      if (options.expectedSize !== undefined && size !== options.expectedSize) {
        throw mismatch(`blob ${digest} has ${size} bytes, expected ${options.expectedSize}`);
      }
      if (options.expectedDigest && digest !== options.expectedDigest) {
        throw mismatch(`digest mismatch: expected ${options.expectedDigest}, got ${digest}`);
      }
      await fs.promises.rename(tmp, this.path(digest));
      done = true;
      return { digest, size, existed: false };
    } finally {
      if (!done) await fs.promises.rm(tmp, { force: true });
    }
  }

  /** Stores bytes held in memory (manifests, configs). */
  async putBuffer(data: Buffer | string, expectedDigest?: string): Promise<BlobInfo & { existed: boolean }> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    return this.put(
      (async function* () {
        yield buf;
      })(),
      { expectedDigest, expectedSize: expectedDigest ? buf.length : undefined },
    );
  }

  /** The whole blob; not-found if absent. */
  async read(digest: string): Promise<Buffer> {
    try {
      return await fs.promises.readFile(this.path(digest));
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw new EngineError('not-found', `blob ${digest} not found`);
      throw e;
    }
  }

  /** A stream of the blob (optionally a byte range, `end` inclusive); not-found if absent. */
  async open(digest: string, range: { start?: number; end?: number } = {}): Promise<Readable> {
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(this.path(digest), 'r');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw new EngineError('not-found', `blob ${digest} not found`);
      throw e;
    }
    return fh.createReadStream({ start: range.start, end: range.end, highWaterMark: 256 * 1024 });
  }

  /** Removes a blob; false when it was not there. */
  async remove(digest: string): Promise<boolean> {
    try {
      await fs.promises.unlink(this.path(digest));
      return true;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return false;
      throw e;
    }
  }

  /** Every stored blob. */
  async list(): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    for (const algorithm of Object.keys(HEX_LENGTH) as DigestAlgorithm[]) {
      for (const hex of await fs.promises.readdir(path.join(this.dir, algorithm))) {
        if (hex.length !== HEX_LENGTH[algorithm] || !/^[0-9a-f]+$/.test(hex)) continue;
        const st = await fs.promises.stat(path.join(this.dir, algorithm, hex));
        out.push({ digest: `${algorithm}:${hex}`, size: st.size });
      }
    }
    return out;
  }

  /** Re-reads a stored blob and checks its digest (for fsck-like checks). */
  async verify(digest: string): Promise<boolean> {
    const { algorithm } = parseDigest(digest);
    const hash = createHash(algorithm);
    for await (const c of await this.open(digest)) hash.update(c as Buffer);
    return `${algorithm}:${hash.digest('hex')}` === digest;
  }
}
