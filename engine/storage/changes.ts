// What a layer changed against the layers below it, read from its overlay directory (a
// container's upper dir or an image layer's diff dir), as containers/storage's
// archive.OverlayChanges reports it (pkg/archive/changes.go changes(), changes_linux.go):
//   - a whiteout (0:0 character device) is a deletion of its path;
//   - an opaque directory that hid something below is reported deleted (its entries are then
//     compared one by one, like any other);
//   - any other entry is added, or modified when the path exists below; a lower layer's
//     whiteout of the path or of a parent ends the search below (the path is then new);
//   - with `skipUnchangedDirs`, a directory whose size, mode and mtime equal the one below is
//     no change of its own; a directory holding an added or deleted entry is always reported
//     modified (Docker's rule, moby#13590), before its entries.
// Results are in walk order: depth first, names sorted (filepath.Walk's order).
import { promises as fsp, type BigIntStats } from 'node:fs';
import path from 'node:path';

export interface FsChange {
  /** Absolute path in the container or image ("/etc/motd"). */
  path: string;
  /** 0 modified, 1 added, 2 deleted (Docker's and containers/storage's kinds). */
  kind: 0 | 1 | 2;
}

export interface LayerChangesOptions {
  /** Opaque directories of the layer (paths relative to it, no leading slash). */
  opaqueDirs?: ReadonlySet<string>;
  /** Leave out directories equal to the ones below (containers/storage does; see above). */
  skipUnchangedDirs?: boolean;
}

const isWhiteout = (st: BigIntStats) => st.isCharacterDevice() && st.rdev === 0n;

async function lstat(p: string): Promise<BigIntStats | undefined> {
  try {
    return await fsp.lstat(p, { bigint: true });
  } catch {
    return undefined;
  }
}

/** Whether `layer` holds a whiteout of `rel` or of one of its parents. */
async function whitedOutIn(layer: string, rel: string): Promise<boolean> {
  for (let r = rel; r !== '.' && r !== ''; r = path.dirname(r)) {
    const st = await lstat(path.join(layer, r));
    if (st && isWhiteout(st)) return true;
  }
  return false;
}

/** The entry at `rel` in the stack below (top first): the first layer holding it, unless a whiteout comes first. */
async function below(lowerDirs: readonly string[], rel: string): Promise<BigIntStats | undefined> {
  for (const d of lowerDirs) {
    if (await whitedOutIn(d, rel)) return undefined;
    const st = await lstat(path.join(d, rel));
    if (st) return st;
  }
  return undefined;
}

/** containers/storage's sameFsTime: equal, or equal seconds when one side has no nanoseconds. */
function sameTime(a: bigint, b: bigint): boolean {
  const G = 1_000_000_000n;
  return a === b || (a / G === b / G && (a % G === 0n || b % G === 0n));
}

export async function layerChanges(layer: string, lowerDirs: readonly string[], options: LayerChangesOptions = {}): Promise<FsChange[]> {
  const { opaqueDirs = new Set<string>(), skipUnchangedDirs = false } = options;
  const out: FsChange[] = [];
  const changedDirs = new Set<string>();
  const walk = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = (await fsp.readdir(path.join(layer, rel))).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const p = `/${r}`;
      const st = await lstat(path.join(layer, r));
      if (!st) continue; // removed meanwhile (a running container)
      let kind: FsChange['kind'];
      if (isWhiteout(st)) {
        kind = 2;
      } else if (st.isDirectory() && opaqueDirs.has(r) && (await below(lowerDirs, r))) {
        kind = 2;
      } else {
        const low = await below(lowerDirs, r);
        kind = low ? 0 : 1;
        const unchanged = low?.isDirectory() && st.isDirectory() && low.size === st.size && low.mode === st.mode && sameTime(low.mtimeNs, st.mtimeNs);
        if (unchanged && skipUnchangedDirs) {
          await walk(r);
          continue;
        }
      }
      if (st.isDirectory()) changedDirs.add(p);
      if (kind !== 0) {
        const tail: FsChange[] = [];
        for (let parent = path.posix.dirname(p); parent !== '/'; parent = path.posix.dirname(parent)) {
          if (changedDirs.has(parent)) continue;
          tail.unshift({ path: parent, kind: 0 });
          changedDirs.add(parent);
        }
        out.push(...tail);
      }
      out.push({ path: p, kind });
      if (st.isDirectory()) await walk(r);
    }
  };
  await walk('');
  return out;
}

/** Orders changes as a depth-first walk with sorted names does ("/a", "/a/b", "/a-b"). */
export function compareChangePaths(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  }
  return x.length - y.length;
}
