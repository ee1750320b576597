// Volume export and import as tar.
//
// Export walks the volume (never following symlinks) and writes a ustar/PAX stream: directories,
// regular files (hardlinks as links to the first name), symlinks, device nodes and fifos, with
// numeric owners, modes, mtimes and xattrs (read in one `getfattr -R` run, Debian package `attr`,
// when it is installed). Sockets are skipped, as tar does. The volume root itself is not an entry.
//
// Import is the storage domain's safe unpacker (engine/storage/layer-unpack.ts): absolute paths,
// `..`, writes through symlinks and hardlinks out of the volume are refused before anything is
// written for that entry, and files are created without following a symlink at their name.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../errors.js';
import { readXattrTree } from '../storage/layer-diff.js';
import { unpackLayer } from '../storage/layer-unpack.js';
import { deviceNumbers } from '../storage/tar-entries.js';
import { encodeTarHeader, TAR_END, tarPadding, type TarWriteHeader } from '../storage/tar-writer.js';

const CHUNK = 1 << 20;

/** Every xattr under `root` by relative path (none when getfattr is missing or fails). */
async function readXattrs(root: string): Promise<Map<string, Map<string, Buffer>>> {
  const tree = await readXattrTree(root).catch(() => new Map<string, Map<string, Buffer>>());
  return new Map([...tree].map(([abs, attrs]) => [path.relative(root, abs), attrs]));
}


/** The content of `root` as an uncompressed tar stream. */
export async function* tarDirectory(root: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const xattrs = await readXattrs(root);
  const links = new Map<string, string>();

  async function* entry(rel: string, st: fs.Stats): AsyncGenerator<Buffer> {
    signal?.throwIfAborted();
    const abs = path.join(root, rel);
    const base: TarWriteHeader = {
      name: rel,
      type: 'file',
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: Math.floor(st.mtimeMs) / 1000,
      xattrs: xattrs.get(rel),
    };
    if (st.isDirectory()) {
      yield encodeTarHeader({ ...base, name: rel + '/', type: 'directory' });
      const names = (await fs.promises.readdir(abs)).sort();
      for (const name of names) {
        const child = path.posix.join(rel, name);
        let cst: fs.Stats;
        try {
          cst = await fs.promises.lstat(path.join(root, child));
        } catch {
          continue; // removed while exporting
        }
        yield* entry(child, cst);
      }
    } else if (st.isSymbolicLink()) {
      yield encodeTarHeader({ ...base, type: 'symlink', linkname: await fs.promises.readlink(abs) });
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? links.get(key) : undefined;
      if (first !== undefined) {
        yield encodeTarHeader({ ...base, type: 'hardlink', linkname: first });
        return;
      }
      if (st.nlink > 1) links.set(key, rel);
      yield encodeTarHeader({ ...base, size: st.size });
      // Exactly st.size bytes: a file that shrinks meanwhile is padded, one that grows is cut.
      const fh = await fs.promises.open(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      try {
        let left = st.size;
        while (left > 0) {
          signal?.throwIfAborted();
          const buf = Buffer.allocUnsafe(Math.min(CHUNK, left));
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (bytesRead === 0) {
            yield Buffer.alloc(left);
            break;
          }
          left -= bytesRead;
          yield buf.subarray(0, bytesRead);
        }
      } finally {
        await fh.close();
      }
      yield tarPadding(st.size);
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      yield encodeTarHeader({ ...base, type: st.isCharacterDevice() ? 'char' : 'block', ...deviceNumbers(st) });
    } else if (st.isFIFO()) {
      yield encodeTarHeader({ ...base, type: 'fifo' });
    }
    // sockets: skipped
  }

  const names = (await fs.promises.readdir(root)).sort();
  for (const name of names) {
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(path.join(root, name));
    } catch {
      continue;
    }
    yield* entry(name, st);
  }
  yield TAR_END;
}

/** Unpacks a tar into `target` safely; a refused entry stops the import (entries before it stay). */
export async function untarInto(target: string, input: AsyncIterable<Buffer>, signal?: AbortSignal): Promise<void> {
  try {
    await unpackLayer(input, target, { signal });
  } catch (e) {
    if (e instanceof EngineError && e.kind === 'invalid-argument') {
      throw new EngineError('invalid-argument', e.message.replace(/^refusing layer: /, 'refusing tar entry: '), e);
    }
    throw e;
  }
}
