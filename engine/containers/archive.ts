// Copying files in and out of a container's root filesystem (the archive endpoints, export).
// Paths are resolved inside the rootfs (scoped-path.ts): ".." stops at its root and symlinks are
// followed relative to it, so neither a path nor a link in the container reaches host files.
// Extraction creates files with O_NOFOLLOW|O_EXCL after removing what was there, and resolves
// every entry's parent inside the rootfs again, so links unpacked earlier in the same archive
// cannot redirect later entries.
import { constants as fsc, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../errors.js';
import { readTar, type TarHeader } from '../storage/tar-reader.js';
import { encodeTarHeader, TAR_END, tarPadding } from '../storage/tar-writer.js';
import type { PathStat } from './api.js';
import { containerPathOf, isWithin, resolveInRoot } from './scoped-path.js';

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
async function resolveClientPath(rootfs: string, p: string): Promise<{ host: string; clean: string; name: string }> {
  const clean = cleanContainerPath(p);
  const followLast = p.endsWith('/') || p.endsWith('/.');
  const host = await resolveInRoot(rootfs, clean, { followLast });
  const name = p.endsWith('/.') ? '.' : path.posix.basename(clean) || '/';
  return { host, clean, name };
}

export async function statPath(rootfs: string, p: string): Promise<PathStat & { host: string }> {
  const { host, clean, name } = await resolveClientPath(rootfs, p);
  let st: Stats;
  try {
    st = await fsp.lstat(host);
  } catch {
    throw noSuchPath(clean);
  }
  // As Podman: the resolved absolute path, for symlinks their target's. podman-remote cp
  // takes the copy destination from it (the docker CLI reads it for symlinks only).
  let linkTarget = clean;
  let isDir = st.isDirectory();
  if (st.isSymbolicLink()) {
    const target = await resolveInRoot(rootfs, clean, { followLast: true });
    linkTarget = containerPathOf(rootfs, target);
    isDir = await fsp.stat(target).then((t) => t.isDirectory(), () => false);
  }
  return { name, size: st.size, mode: goFileMode(st), mtime: st.mtime.toISOString(), linkTarget, isDir, host };
}

function tarType(st: Stats): TarHeader['type'] | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return undefined; // sockets are not archived
}

/**
 * A tar stream of `host` (a file or a directory tree) with its top entry named `name`
 * (directories are walked without following symlinks; hardlinked files are stored once).
 */
export async function* tarTree(host: string, name: string, signal?: AbortSignal, opts: { skipRoot?: boolean; /** Leave out the end-of-archive marker (to join trees into one archive). */ noEnd?: boolean } = {}): AsyncGenerator<Buffer> {
  const inodes = new Map<string, string>();
  async function* entry(p: string, entryName: string, st: Stats): AsyncGenerator<Buffer> {
    signal?.throwIfAborted();
    const type = tarType(st);
    if (!type) return;
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
      if (!(opts.skipRoot && p === host)) yield encodeTarHeader({ ...base, name: entryName.endsWith('/') ? entryName : `${entryName}/`, type, size: 0 });
      let names: string[];
      try {
        names = (await fsp.readdir(p)).sort();
      } catch {
        return;
      }
      for (const n of names) {
        const child = path.join(p, n);
        let cst: Stats;
        try {
          cst = await fsp.lstat(child);
        } catch {
          continue;
        }
        const childName = entryName === '' || entryName === '.' ? n : `${entryName.replace(/\/$/, '')}/${n}`;
        yield* entry(child, childName, cst);
      }
      return;
    }
    if (type === 'symlink') {
      yield encodeTarHeader({ ...base, name: entryName, type, linkname: await fsp.readlink(p), size: 0 });
      return;
    }
    if (type === 'char' || type === 'block') {
      const rdev = BigInt(st.rdev);
      yield encodeTarHeader({ ...base, name: entryName, type, size: 0, devmajor: Number((rdev >> 8n) & 0xfffn), devminor: Number((rdev & 0xffn) | ((rdev >> 12n) & 0xfff00n)) });
      return;
    }
    if (type === 'fifo') {
      yield encodeTarHeader({ ...base, name: entryName, type, size: 0 });
      return;
    }
    // A regular file: exactly `size` bytes even if it changes while being read.
    const size = st.size;
    yield encodeTarHeader({ ...base, name: entryName, type: 'file', size });
    let sent = 0;
    if (size > 0) {
      let fd: import('node:fs/promises').FileHandle | undefined;
      try {
        fd = await fsp.open(p, fsc.O_RDONLY | fsc.O_NOFOLLOW);
        while (sent < size) {
          const buf = Buffer.allocUnsafe(Math.min(256 * 1024, size - sent));
          const { bytesRead } = await fd.read(buf, 0, buf.length, sent);
          if (bytesRead === 0) break;
          sent += bytesRead;
          yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
        }
      } catch {
        // vanished or unreadable: padded with zeros below
      } finally {
        await fd?.close();
      }
    }
    while (sent < size) {
      const n = Math.min(size - sent, 64 * 1024);
      yield Buffer.alloc(n);
      sent += n;
    }
    yield tarPadding(size);
  }
  const st = await fsp.lstat(host);
  yield* entry(host, name, st);
  if (!opts.noEnd) yield TAR_END;
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
  const destHost = await resolveInRoot(rootfs, destClean);
  let dst: Stats;
  try {
    dst = await fsp.stat(destHost);
  } catch {
    throw noSuchPath(destClean);
  }
  if (!dst.isDirectory()) throw new EngineError('invalid-argument', `extraction point is not a directory: ${destClean}`, undefined, 'not a directory');
  const dirModes: { p: string; mode: number; mtime: number }[] = [];
  for await (const entry of readTar(input)) {
    o.signal?.throwIfAborted();
    const h = entry.header;
    const parts = entryParts(h.name);
    if (!parts.length) continue;
    // The parent, resolved inside the rootfs now (earlier entries may have made links).
    const parentHost = await resolveInRoot(rootfs, path.posix.join(destClean, ...parts.slice(0, -1)));
    if (!isWithin(rootfs, parentHost)) throw new EngineError('invalid-argument', `refusing archive entry ${h.name}: it leaves the container`);
    await fsp.mkdir(parentHost, { recursive: true, mode: 0o755 });
    const target = path.join(parentHost, parts[parts.length - 1]!);
    let existing: Stats | undefined;
    try {
      existing = await fsp.lstat(target);
    } catch {
      existing = undefined;
    }
    const isDir = h.type === 'directory';
    if (existing && o.noOverwriteDirNonDir) {
      if (existing.isDirectory() && !isDir) throw new EngineError('invalid-argument', `cannot overwrite directory ${containerPathOf(rootfs, target)} with non-directory ${h.name}`);
      if (!existing.isDirectory() && isDir) throw new EngineError('invalid-argument', `cannot overwrite non-directory ${containerPathOf(rootfs, target)} with directory ${h.name}`);
    }
    if (existing && !(isDir && existing.isDirectory())) await fsp.rm(target, { recursive: true, force: true });
    const uid = o.copyUIDGID ? h.uid : 0;
    const gid = o.copyUIDGID ? h.gid : 0;
    switch (h.type) {
      case 'directory':
        if (!existing?.isDirectory()) await fsp.mkdir(target, { mode: 0o700 });
        dirModes.push({ p: target, mode: h.mode, mtime: h.mtime });
        await fsp.lchown(target, uid, gid);
        continue;
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
        const src = await resolveInRoot(rootfs, path.posix.join(destClean, ...entryParts(h.linkname)), { followLast: false });
        if (!isWithin(rootfs, src)) throw new EngineError('invalid-argument', `refusing hard link ${h.name}: its target leaves the container`);
        await fsp.link(src, target);
        continue;
      }
      case 'fifo':
        // Node cannot mknod; FIFOs and devices are skipped (as an unprivileged extraction would).
        continue;
      default:
        continue;
    }
    const t = new Date(h.mtime * 1000);
    await fsp.lutimes(target, t, t).catch(() => {});
  }
  // Directory modes and times last (their contents changed them).
  for (const d of dirModes.reverse()) {
    await fsp.chmod(d.p, d.mode).catch(() => {});
    const t = new Date(d.mtime * 1000);
    await fsp.utimes(d.p, t, t).catch(() => {});
  }
}
