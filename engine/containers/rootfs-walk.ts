// Race-free access to paths inside a container's root filesystem while the container runs.
// scoped-path.ts resolves a path to a host path string, which is enough for a rootfs nobody
// else touches (create time, image files); but a running container can swap a directory for a
// symlink between that check and the engine's open/mkdir/unlink, and the host path would then
// lead out of the rootfs. Here every step holds an open handle of a real directory (opened
// with O_DIRECTORY|O_NOFOLLOW) and names only one component under it through
// /proc/self/fd/N/<name>, the way openat(2) does: a swapped component is seen as what it now
// is, never followed. Symlinks are followed explicitly, relative to the rootfs, as under chroot.
import { constants as fsc, promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { EngineError } from '../errors.js';

const MAX_LINKS = 255;
const DIR_FLAGS = fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW;

/** The path naming `name` (one component, or ".") inside the directory open as `dir`. */
export function at(dir: FileHandle, name = '.'): string {
  return `/proc/self/fd/${dir.fd}/${name}`;
}

/** Opens the directory `name` under `dir` without following a symlink there. */
export function openDirAt(dir: FileHandle, name = '.'): Promise<FileHandle> {
  return fsp.open(at(dir, name), DIR_FLAGS);
}

export function openRoot(rootfs: string): Promise<FileHandle> {
  return fsp.open(rootfs, fsc.O_RDONLY | fsc.O_DIRECTORY);
}

/** A resolved location: the last component `name` ("." for the directory itself) in `dir`. */
export interface Located {
  dir: FileHandle;
  name: string;
  /** The container path of the location (starting with "/"). */
  path: string;
  /** Closes the handle of `dir` unless it is the root's. */
  close(): Promise<void>;
}

export interface WalkOptions {
  /** Follow a symlink in the last component (stat vs lstat). */
  followLast?: boolean;
  /** Create missing intermediate directories (mode 0755). */
  create?: boolean;
}

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

/**
 * Resolves container path `p` from the root handle `root`: ".." stops at the root, symlinks are
 * followed inside it. The last component need not exist. A missing or non-directory
 * intermediate component is a not-found (or not-a-directory) error unless `create` is set.
 */
export async function walkInRoot(root: FileHandle, p: string, o: WalkOptions = {}): Promise<Located> {
  const stack: { dir: FileHandle; name: string }[] = [];
  const top = () => stack[stack.length - 1]?.dir ?? root;
  const closeAll = async (keep?: FileHandle) => {
    for (const s of stack.splice(0)) if (s.dir !== keep) await s.dir.close();
  };
  let pending = split(p);
  let links = 0;
  let retries = 0;
  try {
    for (;;) {
      const part = pending.shift();
      if (part === undefined) return await located(root, stack, '.', closeAll);
      if (part === '.') continue;
      if (part === '..') {
        await stack.pop()?.dir.close();
        continue;
      }
      const isLast = pending.length === 0;
      if (isLast && !o.followLast) return await located(root, stack, part, closeAll);
      const here = at(top(), part);
      let st: Stats | undefined = await fsp.lstat(here).catch((e) => {
        if (code(e) === 'ENOENT') return undefined;
        throw e;
      });
      if (!st) {
        if (isLast) return await located(root, stack, part, closeAll);
        if (!o.create) throw notFound(p);
        await fsp.mkdir(here, 0o755).catch((e) => {
          if (code(e) !== 'EEXIST') throw e;
        });
        st = await fsp.lstat(here);
      }
      if (st.isSymbolicLink()) {
        if (++links > MAX_LINKS) throw new EngineError('invalid-argument', `too many levels of symbolic links in ${p}`);
        const target = await fsp.readlink(here);
        if (target.startsWith('/')) await closeAll();
        pending = [...split(target), ...pending];
        continue;
      }
      if (isLast) return await located(root, stack, part, closeAll);
      if (!st.isDirectory()) throw new EngineError('invalid-argument', `${p}: not a directory`, undefined, 'not a directory');
      try {
        stack.push({ dir: await openDirAt(top(), part), name: part });
      } catch (e) {
        // Changed between lstat and open (the container is running): look at it again.
        if ((code(e) === 'ENOTDIR' || code(e) === 'ENOENT' || code(e) === 'ELOOP') && ++retries < 100) {
          pending.unshift(part);
          continue;
        }
        throw e;
      }
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
}

async function located(root: FileHandle, stack: { dir: FileHandle; name: string }[], name: string, closeAll: (keep?: FileHandle) => Promise<void>): Promise<Located> {
  const dir = stack[stack.length - 1]?.dir ?? root;
  const names = stack.map((s) => s.name);
  if (name !== '.') names.push(name);
  const path = `/${names.join('/')}`;
  // Intermediate handles are no longer needed: only the last directory stays open.
  await closeAll(dir);
  return { dir, name, path, close: async () => (dir !== root ? dir.close() : undefined) };
}

function split(p: string): string[] {
  return p.split('/').filter((s) => s !== '');
}

const notFound = (p: string) => new EngineError('not-found', `could not find the file ${p} in container: no such file or directory`, undefined, 'no such file or directory');

/** Removes `name` under `dir` and, for a directory, everything below it, never following a link. */
export async function removeAt(dir: FileHandle, name: string): Promise<void> {
  const st = await fsp.lstat(at(dir, name)).catch(() => undefined);
  if (!st) return;
  if (!st.isDirectory()) {
    await fsp.unlink(at(dir, name));
    return;
  }
  const sub = await openDirAt(dir, name);
  try {
    for (const child of await fsp.readdir(at(sub))) await removeAt(sub, child);
  } finally {
    await sub.close();
  }
  await fsp.rmdir(at(dir, name));
}
