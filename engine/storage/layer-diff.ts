// A layer tar of what an overlay upper directory holds, in the OCI/Docker layer format (as
// moby's overlay whiteout converter writes it, archive.OverlayWhiteoutFormat):
//   - a whiteout (0:0 character device NAME) becomes an empty regular file `.wh.NAME`, mode 0600;
//   - an opaque directory (xattr trusted.overlay.opaque=y, or user.overlay.opaque=y on a
//     rootless "userxattr" mount) is written as itself followed by `DIR/.wh..wh..opq`;
//   - overlay's own xattrs (trusted.overlay.*, user.overlay.*) never go into the layer; other
//     xattrs (security.capability, user.*) go in as SCHILY.xattr PAX records;
//   - hardlinked files are stored once and linked after; sockets are left out.
// Node cannot read xattrs, so one `getfattr -R` (Debian package `attr`) dumps those of the
// whole tree before the walk. A directory redirected by overlay (trusted.overlay.redirect, only
// with redirect_dir=on) cannot be expressed in a layer and is refused.
import { execFile } from 'node:child_process';
import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../errors.js';
import { deviceNumbers, regularFileEntry, tarEntryType } from './tar-entries.js';
import { encodeTarHeader, TAR_END } from './tar-writer.js';

export interface OverlayDiffOptions {
  /** Paths (relative to the upper dir, no leading slash) left out together with what is below them. */
  skip?: Set<string>;
  signal?: AbortSignal;
}

const OVERLAY_XATTR = /^(trusted|user)\.overlay\./;

/** Decodes a path of getfattr's dump format (\ooo octal escapes, \\ for a backslash). */
function decodeDumpPath(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else if (s[i] === '\\' && s[i + 1] === '\\') {
      bytes.push(0x5c);
      i += 1;
    } else {
      bytes.push(...Buffer.from(s[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeDumpValue(v: string): Buffer {
  if (v.startsWith('0x')) return Buffer.from(v.slice(2), 'hex');
  if (v.startsWith('0s')) return Buffer.from(v.slice(2), 'base64');
  if (v.startsWith('"') && v.endsWith('"')) return Buffer.from(v.slice(1, -1), 'utf8');
  return Buffer.from(v, 'utf8');
}

/** Every xattr under `root` (symlinks not followed): absolute path → name → value. */
export async function readXattrTree(root: string, signal?: AbortSignal): Promise<Map<string, Map<string, Buffer>>> {
  const out = await new Promise<string>((resolve, reject) => {
    execFile(
      'getfattr',
      ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', root],
      { maxBuffer: 256 * 1024 * 1024, signal, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new EngineError('internal', 'getfattr (Debian package attr) is needed to read the container changes'));
        } else if (err && !stdout) {
          reject(new EngineError('internal', `getfattr ${root}: ${stderr.trim() || err.message}`, err));
        } else {
          resolve(stdout);
        }
      },
    );
  });
  const map = new Map<string, Map<string, Buffer>>();
  let cur: Map<string, Buffer> | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith('# file: ')) {
      cur = new Map();
      map.set(decodeDumpPath(line.slice(8)), cur);
    } else if (cur && line.includes('=')) {
      const eq = line.indexOf('=');
      cur.set(line.slice(0, eq), decodeDumpValue(line.slice(eq + 1)));
    }
  }
  return map;
}

/** The layer tar of `upper` (entries sorted by name, depth first; the root itself is not an entry). */
export async function* overlayDiffTar(upper: string, options: OverlayDiffOptions = {}): AsyncGenerator<Buffer> {
  const { skip = new Set<string>(), signal } = options;
  const xattrs = await readXattrTree(upper, signal);
  const inodes = new Map<string, string>();

  async function* walk(rel: string): AsyncGenerator<Buffer> {
    let names: string[];
    try {
      names = (await fsp.readdir(path.join(upper, rel))).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const n of names) {
      signal?.throwIfAborted();
      const r = rel ? `${rel}/${n}` : n;
      if (skip.has(r)) continue;
      const host = path.join(upper, r);
      let st: Stats;
      try {
        st = await fsp.lstat(host);
      } catch {
        continue; // removed meanwhile
      }
      const type = tarEntryType(st);
      if (!type) continue;
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
      if (type === 'char' && st.rdev === 0) {
        yield encodeTarHeader({ ...base, name: rel ? `${rel}/.wh.${n}` : `.wh.${n}`, type: 'file', mode: 0o600, size: 0 });
        continue;
      }
      const own = xattrs.get(host) ?? new Map<string, Buffer>();
      if (own.has('trusted.overlay.redirect') || own.has('user.overlay.redirect')) {
        throw new EngineError('internal', `/${r} is an overlay redirect (redirect_dir=on), which a layer cannot hold`);
      }
      if (own.has('trusted.overlay.metacopy') || own.has('user.overlay.metacopy')) {
        throw new EngineError('internal', `/${r} is an overlay metacopy (metacopy=on), which a layer cannot hold`);
      }
      const kept = new Map([...own].filter(([k]) => !OVERLAY_XATTR.test(k)));
      const opaque = ['trusted.overlay.opaque', 'user.overlay.opaque'].some((k) => own.get(k)?.toString() === 'y');
      const common = { ...base, ...(kept.size ? { xattrs: kept } : {}) };
      if (type === 'directory') {
        yield encodeTarHeader({ ...common, name: `${r}/`, type, size: 0 });
        if (opaque) yield encodeTarHeader({ ...base, mode: st.mode & 0o777, name: `${r}/.wh..wh..opq`, type: 'file', size: 0 });
        yield* walk(r);
        continue;
      }
      if (type === 'file' && st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = inodes.get(key);
        if (first) {
          yield encodeTarHeader({ ...common, name: r, type: 'hardlink', linkname: first, size: 0 });
          continue;
        }
        inodes.set(key, r);
      }
      if (type === 'symlink') {
        yield encodeTarHeader({ ...common, name: r, type, linkname: await fsp.readlink(host), size: 0 });
      } else if (type === 'char' || type === 'block') {
        yield encodeTarHeader({ ...common, name: r, type, size: 0, ...deviceNumbers(st) });
      } else if (type === 'fifo') {
        yield encodeTarHeader({ ...common, name: r, type, size: 0 });
      } else {
        // Exactly `size` bytes even if the file changes while it is read (a commit without pause).
        yield* regularFileEntry(host, { ...common, name: r }, st);
      }
    }
  }

  yield* walk('');
  yield TAR_END;
}

/** The diff ID of a layer with no entries (the end-of-archive marker only): Docker's empty layer. */
export const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';
