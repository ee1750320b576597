// Path resolution inside a container's root filesystem, as if the process were chrooted there:
// every symlink is followed relative to the rootfs, and ".." never climbs above it. Used for
// anything the engine reads or writes in a rootfs (archive, passwd lookup, working directory),
// so a symlink planted in an image or by the container cannot reach host files.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../errors.js';

const MAX_LINKS = 255;

/**
 * The host path that `p` (absolute or relative to "/", inside the container) names under
 * `root`. Symlinks in every component are followed within the root; with `followLast: false`
 * the last component is not followed (lstat semantics). Missing components are fine: the result
 * names where they would be.
 */
export async function resolveInRoot(root: string, p: string, opts: { followLast?: boolean } = {}): Promise<string> {
  const followLast = opts.followLast ?? true;
  let pending = splitPath(p);
  const done: string[] = [];
  let links = 0;
  while (pending.length) {
    const part = pending.shift()!;
    if (part === '.' || part === '') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = path.join(root, ...done, part);
    const isLast = pending.length === 0;
    let st;
    try {
      st = await fsp.lstat(host);
    } catch {
      done.push(part);
      continue;
    }
    if (st.isSymbolicLink() && (!isLast || followLast)) {
      if (++links > MAX_LINKS) throw new EngineError('invalid-argument', `too many levels of symbolic links in ${p}`);
      const target = await fsp.readlink(host);
      if (target.startsWith('/')) done.length = 0;
      pending = [...splitPath(target), ...pending];
      continue;
    }
    done.push(part);
  }
  return path.join(root, ...done);
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s !== '');
}

/** The container path (starting with "/") of host path `hostPath` under `root`. */
export function containerPathOf(root: string, hostPath: string): string {
  const rel = path.relative(root, hostPath);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new EngineError('invalid-argument', `${hostPath} is outside the container`);
  return `/${rel}`;
}

/** Whether host path `p` lies at or under `root`. */
export function isWithin(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
