// The changes between two layer stacks that are not parent and child: each stack's merged file
// tree (what an overlay mount of it shows) is built in memory from the layer directories, and
// the two trees are compared as containers/storage's naive diff compares two mounted trees
// (archive.ChangesDirs, FileInfo.addChanges, statDifferent):
//   - an entry only in the new tree is added (and so is everything under it), only in the old
//     tree deleted (only its top: nothing is listed under a deleted directory);
//   - an entry in both is modified when its type or mode, owner, device number or xattrs differ,
//     or, for a non-directory, its size or mtime (a directory's size and mtime are no measure);
//   - a directory with changes underneath is reported modified, before them.
// No mount is needed: overlay shows the topmost layer's entry, merges directories unless the
// upper one is opaque, and hides what a whiteout names, which is what the merge below does.
import { promises as fsp, type BigIntStats } from 'node:fs';
import path from 'node:path';
import type { FsChange } from './changes.js';
import { readXattrTree } from './layer-diff.js';

interface Node {
  st: BigIntStats;
  /** Xattrs other than overlay's own, as one comparable string. */
  xattrs: string;
  children?: Map<string, Node>;
}

const OVERLAY_XATTR = /^(trusted|user)\.overlay\./;

async function applyLayer(layer: string, root: Node): Promise<void> {
  const xattrs = await readXattrTree(layer);
  const walk = async (dir: string, node: Node): Promise<void> => {
    const children = node.children!;
    for (const name of await fsp.readdir(dir)) {
      const host = path.join(dir, name);
      const st = await fsp.lstat(host, { bigint: true });
      if (st.isCharacterDevice() && st.rdev === 0n) {
        children.delete(name);
        continue;
      }
      const own = xattrs.get(host);
      const kept = [...(own ?? [])].filter(([k]) => !OVERLAY_XATTR.test(k)).sort(([a], [b]) => (a < b ? -1 : 1));
      const entry: Node = { st, xattrs: kept.map(([k, v]) => `${k}=${v.toString('hex')}`).join(',') };
      if (st.isDirectory()) {
        const opaque = ['trusted.overlay.opaque', 'user.overlay.opaque'].some((k) => own?.get(k)?.toString() === 'y');
        const prev = children.get(name)?.children;
        entry.children = prev && !opaque ? prev : new Map();
        children.set(name, entry);
        await walk(host, entry);
      } else {
        children.set(name, entry);
      }
    }
  };
  await walk(layer, root);
}

/** The merged tree of a stack of layer directories given bottom first. */
async function mergedTree(layersBottomFirst: readonly string[]): Promise<Node> {
  const root: Node = { st: undefined as unknown as BigIntStats, xattrs: '', children: new Map() };
  for (const l of layersBottomFirst) await applyLayer(l, root);
  return root;
}

function sameTime(a: bigint, b: bigint): boolean {
  const G = 1_000_000_000n;
  return a === b || (a / G === b / G && (a % G === 0n || b % G === 0n));
}

function different(o: Node, n: Node): boolean {
  if (o.st.mode !== n.st.mode || o.st.uid !== n.st.uid || o.st.gid !== n.st.gid || o.st.rdev !== n.st.rdev) return true;
  if (!o.st.isDirectory() && (!sameTime(o.st.mtimeNs, n.st.mtimeNs) || o.st.size !== n.st.size)) return true;
  return o.xattrs !== n.xattrs;
}

function addChanges(n: Node, o: Node | undefined, p: string, reported: boolean, out: FsChange[]): void {
  const start = out.length;
  if (!o) {
    out.push({ path: p, kind: 1 });
    reported = true;
  }
  const oldChildren = new Map(o && n.children ? o.children ?? [] : []);
  for (const [name, nc] of [...(n.children ?? [])].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const cp = p === '/' ? `/${name}` : `${p}/${name}`;
    const oc = oldChildren.get(name);
    let childReported = false;
    if (oc) {
      if (different(oc, nc)) {
        out.push({ path: cp, kind: 0 });
        childReported = true;
      }
      oldChildren.delete(name);
    }
    addChanges(nc, oc, cp, childReported, out);
  }
  for (const name of [...oldChildren.keys()].sort()) out.push({ path: p === '/' ? `/${name}` : `${p}/${name}`, kind: 2 });
  if (out.length > start && n.children && !reported && p !== '/') out.splice(start, 0, { path: p, kind: 0 });
}

/** What `newer` (layer directories, bottom first) changed against `older`. */
export async function stackChanges(newer: readonly string[], older: readonly string[]): Promise<FsChange[]> {
  const [n, o] = await Promise.all([mergedTree(newer), mergedTree(older)]);
  const out: FsChange[] = [];
  addChanges(n, o, '/', true, out);
  return out;
}
