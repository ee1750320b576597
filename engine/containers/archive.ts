// Copying files in and out of a container's root filesystem (the archive endpoints, export).
// The container may be running while we do it, so every path is walked through directory
// handles (rootfs-walk.ts): ".." stops at the rootfs, symlinks are followed relative to it, and
// a component the container swaps for a link meanwhile is never followed out of it. Extraction
// creates files with O_NOFOLLOW|O_EXCL after removing what was there, and resolves every entry
// from the root again, so links unpacked earlier in the same archive cannot redirect later
// entries.
import { constants as fsc, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../errors.js';
import type { FileHandle } from 'node:fs/promises';
import { readTar, type TarEntry } from '../storage/tar-reader.js';
import { deviceNumbers, regularFileEntry, tarEntryType } from '../storage/tar-entries.js';
import { encodeTarHeader, TAR_END } from '../storage/tar-writer.js';
import type { PathStat } from './api.js';
import { at, openDirAt, openRoot, removeAt, walkInRoot, type Located } from './rootfs-walk.js';

// Go's os.FileMode type bits.
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_DEVICE = 2 ** 26;
const MODE_PIPE = 2 ** 25;
const MODE_SOCKET = 2 ** 24;
const MODE_SETUID = 2 ** 23;
const MODE_SETGID = 2 ** 22;
const MODE_CHARDEV = 2 ** 21;
const MODE_STICKY = 2 ** 20;

export function goFileMode(st: Stats): number {
  let m = st.mode & 0o777;
  if (st.mode & 0o4000) m += MODE_SETUID;
  if (st.mode & 0o2000) m += MODE_SETGID;
  if (st.mode & 0o1000) m += MODE_STICKY;
  if (st.isDirectory()) m += MODE_DIR;
  else if (st.isSymbolicLink()) m += MODE_SYMLINK;
  else if (st.isFIFO()) m += MODE_PIPE;
  else if (st.isSocket()) m += MODE_SOCKET;
  else if (st.isCharacterDevice()) m += MODE_DEVICE + MODE_CHARDEV;
  else if (st.isBlockDevice()) m += MODE_DEVICE;
  return m;
}

const noSuchPath = (p: string) => new EngineError('not-found', `could not find the file ${p} in container: no such file or directory`, undefined, 'no such file or directory');

function cleanContainerPath(p: string): string {
  if (!p) throw new EngineError('invalid-argument', 'a path is required', undefined, 'invalid argument');
  return path.posix.join('/', p);
}

/** Resolves a client path the way Docker does: follow the last link only for "dir/" and "dir/.". */
async function locateClientPath(root: FileHandle, p: string): Promise<{ loc: Located; clean: string; name: string }> {
  const clean = cleanContainerPath(p);
  const followLast = p.endsWith('/') || p.endsWith('/.');
  const loc = await walkInRoot(root, clean, { followLast });
  const name = p.endsWith('/.') ? '.' : path.posix.basename(clean) || '/';
  return { loc, clean, name };
}

async function statLocated(root: FileHandle, p: string): Promise<{ stat: PathStat; lstat: Stats; loc: Located }> {
  const { loc, clean, name } = await locateClientPath(root, p);
  let st: Stats;
  try {
    st = await fsp.lstat(at(loc.dir, loc.name));
  } catch {
    await loc.close();
    throw noSuchPath(clean);
  }
  // As Podman: the resolved absolute path, for symlinks their target's. podman-remote cp
  // takes the copy destination from it (the docker CLI reads it for symlinks only).
  let linkTarget = clean;
  let isDir = st.isDirectory();
  if (st.isSymbolicLink()) {
    const target = await walkInRoot(root, clean, { followLast: true });
    try {
      linkTarget = target.path;
      isDir = await fsp.lstat(at(target.dir, target.name)).then((t) => t.isDirectory(), () => false);
    } finally {
      await target.close();
    }
  }
  return { stat: { name, size: st.size, mode: goFileMode(st), mtime: st.mtime.toISOString(), linkTarget, isDir }, lstat: st, loc };
}

export async function statPath(rootfs: string, p: string): Promise<PathStat> {
  const root = await openRoot(rootfs);
  try {
    const { stat, loc } = await statLocated(root, p);
    await loc.close();
    return stat;
  } finally {
    await root.close();
  }
}

/** The stat of path `p` in the rootfs and a tar stream of it (the archive GET). */
export async function archivePath(rootfs: string, p: string, signal?: AbortSignal): Promise<{ stat: PathStat; tar: AsyncGenerator<Buffer> }> {
  const root = await openRoot(rootfs);
  let found;
  try {
    found = await statLocated(root, p);
  } catch (e) {
    await root.close();
    throw e;
  }
  const { stat, lstat, loc } = found;
  return {
    stat,
    tar: (async function* () {
      try {
        // From the stat already answered: the path may be gone by now (the container runs).
        yield* tarTree(loc.dir, loc.name, stat.name, signal, { top: lstat });
      } finally {
        await loc.close();
        await root.close();
      }
    })(),
  };
}

/** A tar stream of a whole rootfs (export), its entries named relative to it. */
export async function* tarRootfs(rootfs: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const root = await openRoot(rootfs);
  try {
    yield* tarTree(root, '.', '', signal, { skipRoot: true, top: await fsp.lstat(at(root)) });
  } finally {
    await root.close();
  }
}

/**
 * A tar stream of `name` in directory `dir` (a file or a directory tree) with its top entry
 * named `entryName`: directories are walked through handles without following symlinks;
 * hardlinked files are stored once.
 */
async function* tarTree(dir: FileHandle, name: string, entryName: string, signal: AbortSignal | undefined, opts: TarTreeOptions & { top: Stats }): AsyncGenerator<Buffer> {
  const inodes = new Map<string, string>();
  async function* entry(parent: FileHandle, child: string, entryName: string, st: Stats, isTop: boolean): AsyncGenerator<Buffer> {
    signal?.throwIfAborted();
    const type = tarEntryType(st);
    if (!type) return;
    const here = at(parent, child);
    const base = {
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: Math.floor(st.mtimeMs / 1000),
    };
    if (type === 'file' && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = inodes.get(key);
      if (first) {
        yield encodeTarHeader({ ...base, name: entryName, type: 'hardlink', linkname: first, size: 0 });
        return;
      }
      inodes.set(key, entryName);
    }
    if (type === 'directory') {
      if (!(opts.skipRoot && isTop)) yield encodeTarHeader({ ...base, name: entryName.endsWith('/') ? entryName : `${entryName}/`, type, size: 0 });
      let sub: FileHandle;
      try {
        sub = await openDirAt(parent, child);
      } catch {
        return; // replaced or removed meanwhile
      }
      try {
        let names: string[];
        try {
          names = (await fsp.readdir(at(sub))).sort();
        } catch {
          return;
        }
        for (const n of names) {
          let cst: Stats;
          try {
            cst = await fsp.lstat(at(sub, n));
          } catch {
            continue;
          }
          const childName = entryName === '' || entryName === '.' ? n : `${entryName.replace(/\/$/, '')}/${n}`;
          yield* entry(sub, n, childName, cst, false);
        }
      } finally {
        await sub.close();
      }
      return;
    }
    if (type === 'symlink') {
      const linkname = await fsp.readlink(here).catch(() => undefined);
      if (linkname !== undefined) yield encodeTarHeader({ ...base, name: entryName, type, linkname, size: 0 });
      return;
    }
    if (type === 'char' || type === 'block') {
      yield encodeTarHeader({ ...base, name: entryName, type, size: 0, ...deviceNumbers(st) });
      return;
    }
    if (type === 'fifo') {
      yield encodeTarHeader({ ...base, name: entryName, type, size: 0 });
      return;
    }
    // A regular file: exactly `size` bytes even if it changes while being read.
    yield* regularFileEntry(here, { ...base, name: entryName }, st);
  }
  yield* entry(dir, name, entryName, opts.top, true);
  if (!opts.noEnd) yield TAR_END;
}

interface TarTreeOptions {
  /** Leave out the top directory's own entry. */
  skipRoot?: boolean;
  /** Leave out the end-of-archive marker (to join trees into one archive). */
  noEnd?: boolean;
}

/**
 * A tar stream of a host path the engine itself owns (not a container's rootfs: checkpoint
 * images and the like), with its top entry named `entryName`.
 */
export async function* tarHostPath(host: string, entryName: string, signal?: AbortSignal, opts: TarTreeOptions = {}): AsyncGenerator<Buffer> {
  const dir = await fsp.open(path.dirname(host), fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    const base = path.basename(host);
    yield* tarTree(dir, base, entryName, signal, { ...opts, top: await fsp.lstat(at(dir, base)) });
  } finally {
    await dir.close();
  }
}

export interface ExtractOptions {
  noOverwriteDirNonDir?: boolean;
  /** Keep the archive's owners (else files belong to the container's root). */
  copyUIDGID?: boolean;
  signal?: AbortSignal;
}

function entryParts(name: string): string[] {
  if (name.startsWith('/')) name = name.replace(/^\/+/, '');
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw new EngineError('invalid-argument', `refusing archive entry ${JSON.stringify(name)}: it leaves the destination`);
  return parts;
}

/** Extracts a tar stream into directory `dest` (a container path) of `rootfs`. */
export async function extractInto(rootfs: string, dest: string, input: AsyncIterable<Buffer>, o: ExtractOptions = {}): Promise<void> {
  const destClean = cleanContainerPath(dest);
  const root = await openRoot(rootfs);
  try {
    const d = await walkInRoot(root, destClean, { followLast: true });
    const dst = await fsp.lstat(at(d.dir, d.name)).catch(() => undefined);
    await d.close();
    if (!dst) throw noSuchPath(destClean);
    if (!dst.isDirectory()) throw new EngineError('invalid-argument', `extraction point is not a directory: ${destClean}`, undefined, 'not a directory');
    const dirModes: { path: string; mode: number; mtime: number }[] = [];
    for await (const entry of readTar(input)) {
      o.signal?.throwIfAborted();
      const parts = entryParts(entry.header.name);
      if (!parts.length) continue;
      // Every entry is resolved from the root again (earlier entries may have made links),
      // its parent directories created as needed, all without leaving the rootfs.
      const loc = await walkInRoot(root, path.posix.join(destClean, ...parts), { create: true });
      try {
        const dir = await extractEntry(root, loc, entry, destClean, o);
        if (dir) dirModes.push({ path: loc.path, ...dir });
      } finally {
        await loc.close();
      }
    }
    // Directory modes and times last (their contents changed them), on handles of the real
    // directories (a link put there meanwhile is not followed).
    for (const d of dirModes.reverse()) {
      const loc = await walkInRoot(root, d.path, {});
      try {
        const h = await openDirAt(loc.dir, loc.name).catch(() => undefined);
        if (!h) continue;
        const t = new Date(d.mtime * 1000);
        await h.chmod(d.mode).catch(() => {});
        await h.utimes(t, t).catch(() => {});
        await h.close();
      } finally {
        await loc.close();
      }
    }
  } finally {
    await root.close();
  }
}

/** Writes one archive entry at `loc`; for a directory, the mode and time to set at the end. */
async function extractEntry(root: FileHandle, loc: Located, entry: TarEntry, destClean: string, o: ExtractOptions): Promise<{ mode: number; mtime: number } | undefined> {
  const h = entry.header;
  const target = at(loc.dir, loc.name);
  const existing = await fsp.lstat(target).catch(() => undefined);
  const isDir = h.type === 'directory';
  if (existing && o.noOverwriteDirNonDir) {
    if (existing.isDirectory() && !isDir) throw new EngineError('invalid-argument', `cannot overwrite directory ${loc.path} with non-directory ${h.name}`);
    if (!existing.isDirectory() && isDir) throw new EngineError('invalid-argument', `cannot overwrite non-directory ${loc.path} with directory ${h.name}`);
  }
  if (existing && !(isDir && existing.isDirectory())) await removeAt(loc.dir, loc.name);
  const uid = o.copyUIDGID ? h.uid : 0;
  const gid = o.copyUIDGID ? h.gid : 0;
  switch (h.type) {
    case 'directory':
      if (!existing?.isDirectory()) await fsp.mkdir(target, { mode: 0o700 });
      await fsp.lchown(target, uid, gid);
      return { mode: h.mode, mtime: h.mtime };
    case 'file': {
      const fh = await fsp.open(target, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
      try {
        for await (const chunk of entry.body()) await fh.write(chunk);
        await fh.chown(uid, gid);
        await fh.chmod(h.mode);
      } finally {
        await fh.close();
      }
      break;
    }
    case 'symlink':
      await fsp.symlink(h.linkname, target);
      await fsp.lchown(target, uid, gid);
      break;
    case 'hardlink': {
      const src = await walkInRoot(root, path.posix.join(destClean, ...entryParts(h.linkname)), {});
      try {
        await fsp.link(at(src.dir, src.name), target);
      } finally {
        await src.close();
      }
      return undefined;
    }
    default:
      // Node cannot mknod; FIFOs and devices are skipped (as an unprivileged extraction would).
      return undefined;
  }
  const t = new Date(h.mtime * 1000);
  await fsp.lutimes(target, t, t).catch(() => {});
  return undefined;
}
