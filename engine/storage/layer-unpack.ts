// Unpacks one layer tar (gzip, zstd or plain) into a directory, safely and completely.
//
// Safety: every entry path is resolved component by component inside the target directory. An
// absolute path, a `..` component, a parent that is a symlink (whether it points inside the layer
// or out) or not a directory, and a hardlink whose target is outside the layer or missing are
// refused with EngineError('invalid-argument'), and the caller throws the partial directory away.
// Parents are lstat()ed once and remembered; the memory is dropped for anything this unpack later
// removes, so the checks stay true (nobody else writes in the private temporary directory). The
// final component is never followed either: files are created with O_EXCL|O_NOFOLLOW, and an entry
// that replaces an earlier one removes it first (a directory is kept when both are directories,
// as Docker does).
//
// Fidelity: modes (setuid/setgid/sticky applied after chown, which would clear them), owners
// (numeric ids), mtimes (directories last, once everything in them exists; symlinks by lutimes),
// symlinks, hardlinks, extended attributes, device nodes and fifos. Whiteouts become overlayfs
// whiteouts: `.wh.NAME` a 0:0 character device NAME, `.wh..wh..opq` the xattr
// trusted.overlay.opaque=y on its directory. Other `.wh..wh.` entries (AUFS metadata) are dropped,
// and so are xattrs in the overlay namespaces, which could otherwise steer the overlay mount.
//
// Node has neither mknod(2) nor setxattr(2), so both go to helper processes, in batches (one
// process per batch, not per node or attribute):
// - device nodes, fifos and whiteouts: GNU tar (an Essential Debian package, always present) is
//   fed a small archive that this module writes holding only those entries, with their validated
//   paths; it calls mknod with the exact mode, owner and mtime. Spawning `mknod` per node would
//   cost a fork/exec each, and whiteouts can number in the hundreds.
// - xattrs: `setfattr -h --restore=-` (Debian package `attr`) reads the whole batch from stdin in
//   getfattr's dump format; -h makes it use lsetxattr, so a symlink is never followed. They are
//   set after chown (which clears security.capability).
// A batch only names paths whose parents were checked, and it is flushed before anything is
// removed or replaced, so no queued path can have changed under it by the time it runs.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../errors.js';
import { type Compression, decompress, readTar, type TarHeader, tap } from './tar-reader.js';
import { encodeTarHeader, TAR_END } from './tar-writer.js';

export interface UnpackOptions {
  /** Stops the unpack (the promise rejects); the caller removes the directory. */
  signal?: AbortSignal;
}

export interface UnpackResult {
  /** sha256 of the uncompressed tar stream ("sha256:<hex>"): the layer's DiffID. */
  diffID: string;
  /** sha256 of the bytes as given (the compressed blob's digest). */
  compressedDigest: string;
  compressedSize: number;
  /** Bytes of the uncompressed tar stream. */
  uncompressedSize: number;
  /** Bytes of regular-file content written (each hardlinked file once). */
  size: number;
  compression: Compression;
  /** Tar entries read. */
  entries: number;
}

const refuse = (message: string) => new EngineError('invalid-argument', `refusing layer: ${message}`);

const O_CREATE_FILE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/** Splits an entry name into clean components; refuses absolute paths and `..`. [] is the root. */
export function entryComponents(name: string): string[] {
  if (name.startsWith('/')) throw refuse(`absolute path ${JSON.stringify(name)}`);
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw refuse(`path ${JSON.stringify(name)} leaves the layer`);
  return parts;
}

interface NodeSpec {
  rel: string;
  type: 'char' | 'block' | 'fifo';
  mode: number;
  uid: number;
  gid: number;
  devmajor: number;
  devminor: number;
  mtime: number;
}

interface XattrSpec {
  rel: string;
  name: string;
  value: Buffer;
}

const BATCH_LIMIT = 4096;

function isErrno(e: unknown, code: string): boolean {
  return (e as NodeJS.ErrnoException)?.code === code;
}

/** Runs a helper with `input` on stdin; rejects with its stderr when it fails. */
function runHelper(cmd: string, args: string[], input: Buffer, cwd: string, pkg: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (stderr.length < 8192) stderr += s;
    });
    child.on('error', (e) => {
      reject(
        isErrno(e, 'ENOENT')
          ? new EngineError('unavailable', `the ${cmd} binary is missing (install the Debian package ${pkg})`, e)
          : new EngineError('internal', `cannot run ${cmd}: ${e.message}`, e),
      );
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new EngineError('internal', `${cmd} failed (${signal ?? code}): ${stderr.trim()}`));
    });
    child.stdin.on('error', () => {
      /* reported through the exit status */
    });
    child.stdin.end(input);
  });
}

/** A path for getfattr's dump format: anything but plain characters as \ooo octal. */
function quoteForRestore(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9._\/+,@%~:-]/.test(c) ? c : '\\' + byte.toString(8).padStart(3, '0');
  }
  return out;
}

const allowedXattr = /^(user|security|trusted|system)\.[\x21-\x3c\x3e-\x5b\x5d-\x7e]+$/;

/** Whether an xattr from a layer is applied: overlay's own namespaces never are. */
function xattrAllowed(name: string): boolean {
  if (!allowedXattr.test(name)) return false;
  return !name.startsWith('trusted.overlay.') && !name.startsWith('user.overlay.');
}

/** Bytes of regular-file content that removing p frees (files with no other links). */
function removedSize(p: string, st: fs.Stats): number {
  if (st.isFile()) return st.nlink === 1 ? st.size : 0;
  if (!st.isDirectory()) return 0;
  let n = 0;
  for (const name of fs.readdirSync(p)) {
    const q = `${p}/${name}`;
    n += removedSize(q, fs.lstatSync(q));
  }
  return n;
}

class Unpacker {
  private readonly knownDirs = new Set<string>(['']);
  private readonly pendingNodes = new Map<string, NodeSpec>();
  private pendingXattrs: XattrSpec[] = [];
  private readonly dirTimes = new Map<string, { atime: number; mtime: number }>();
  private readonly privileged = process.getuid?.() === 0;
  size = 0;
  private slice = performance.now();

  constructor(private readonly root: string) {}

  /** Gives the event loop a turn when this unpack has held it for a few milliseconds. */
  async maybeYield(): Promise<void> {
    if (performance.now() - this.slice > 4) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.slice = performance.now();
    }
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /** Runs the queued helper batches: nodes first (xattrs may be for them). */
  async flush(): Promise<void> {
    if (this.pendingNodes.size > 0) {
      const parts: Buffer[] = [];
      for (const n of this.pendingNodes.values()) {
        parts.push(
          encodeTarHeader({
            name: n.rel,
            type: n.type,
            mode: n.mode,
            uid: n.uid,
            gid: n.gid,
            mtime: n.mtime,
            devmajor: n.devmajor,
            devminor: n.devminor,
          }),
        );
      }
      parts.push(TAR_END);
      this.pendingNodes.clear();
      await runHelper(
        'tar',
        ['--extract', '--file=-', '--numeric-owner', '--same-owner', '--preserve-permissions', '--no-overwrite-dir', '--warning=no-unknown-keyword'],
        Buffer.concat(parts),
        this.root,
        'tar',
      );
    }
    if (this.pendingXattrs.length > 0) {
      let text = '';
      let last: string | undefined;
      for (const x of this.pendingXattrs) {
        if (x.rel !== last) {
          if (last !== undefined) text += '\n';
          text += `# file: ${quoteForRestore(x.rel === '' ? '.' : x.rel)}\n`;
          last = x.rel;
        }
        text += `${x.name}=0x${x.value.toString('hex')}\n`;
      }
      this.pendingXattrs = [];
      await runHelper('setfattr', ['-h', '--restore=-'], Buffer.from(text + '\n', 'utf8'), this.root, 'attr');
    }
  }

  private async maybeFlush(): Promise<void> {
    if (this.pendingNodes.size >= BATCH_LIMIT || this.pendingXattrs.length >= BATCH_LIMIT) await this.flush();
  }

  /** Removes whatever is at rel (after running the batches, which may name it or things under it). */
  private async removeExisting(rel: string): Promise<void> {
    await this.flush();
    const p = this.abs(rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return;
      throw e;
    }
    // Content that goes away stops counting (a file still linked elsewhere stays).
    this.size -= removedSize(p, st);
    if (st.isDirectory()) fs.rmSync(p, { recursive: true, force: true });
    else fs.unlinkSync(p);
    const prefix = rel + '/';
    for (const d of this.knownDirs) if (d === rel || d.startsWith(prefix)) this.knownDirs.delete(d);
    for (const d of this.dirTimes.keys()) if (d === rel || d.startsWith(prefix)) this.dirTimes.delete(d);
  }

  /** Makes sure every parent of parts is a real directory inside the root, creating missing ones. */
  private async ensureParents(parts: string[], create: boolean): Promise<void> {
    let rel = '';
    for (let i = 0; i < parts.length - 1; i++) {
      rel = rel === '' ? parts[i]! : `${rel}/${parts[i]}`;
      if (this.knownDirs.has(rel)) continue;
      if (this.pendingNodes.has(rel)) await this.flush();
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(this.abs(rel));
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) throw e;
      }
      if (st === undefined) {
        if (!create) throw refuse(`${JSON.stringify(parts.join('/'))}: ${JSON.stringify(rel)} does not exist`);
        fs.mkdirSync(this.abs(rel), 0o755);
      } else if (st.isSymbolicLink()) {
        throw refuse(`${JSON.stringify(parts.join('/'))} goes through the symlink ${JSON.stringify(rel)}`);
      } else if (!st.isDirectory()) {
        throw refuse(`${JSON.stringify(parts.join('/'))}: ${JSON.stringify(rel)} is not a directory`);
      }
      this.knownDirs.add(rel);
    }
  }

  private queueXattrs(rel: string, h: TarHeader): void {
    for (const [name, value] of h.xattrs) {
      if (xattrAllowed(name)) this.pendingXattrs.push({ rel, name, value });
    }
  }

  private chown(p: string, h: TarHeader, link = false): void {
    if (!this.privileged) return;
    if (link) fs.lchownSync(p, h.uid, h.gid);
    else fs.chownSync(p, h.uid, h.gid);
  }

  async entry(h: TarHeader, body: () => AsyncIterable<Buffer>): Promise<void> {
    const parts = entryComponents(h.name);
    const base = parts[parts.length - 1];

    if (base !== undefined && base.startsWith('.wh.')) {
      await this.whiteout(parts, h);
      return;
    }
    const rel = parts.join('/');
    if (this.pendingNodes.has(rel)) await this.flush();
    await this.ensureParents(parts, true);
    const p = this.abs(rel);

    switch (h.type) {
      case 'directory': {
        if (rel !== '') {
          try {
            fs.mkdirSync(p, 0o700);
          } catch (e) {
            if (!isErrno(e, 'EEXIST')) throw e;
            if (!fs.lstatSync(p).isDirectory()) {
              await this.removeExisting(rel);
              fs.mkdirSync(p, 0o700);
            }
          }
          this.knownDirs.add(rel);
        }
        this.chown(p, h);
        fs.chmodSync(p, h.mode);
        this.dirTimes.set(rel, { atime: h.atime ?? h.mtime, mtime: h.mtime });
        this.queueXattrs(rel, h);
        break;
      }
      case 'file': {
        if (rel === '') throw refuse('a file entry for the layer root');
        let fd: number;
        try {
          fd = fs.openSync(p, O_CREATE_FILE, 0o600);
        } catch (e) {
          if (!isErrno(e, 'EEXIST') && !isErrno(e, 'ELOOP') && !isErrno(e, 'EISDIR')) throw e;
          await this.removeExisting(rel);
          fd = fs.openSync(p, O_CREATE_FILE, 0o600);
        }
        try {
          for await (const chunk of body()) {
            let off = 0;
            while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
            await this.maybeYield();
          }
          if (this.privileged) fs.fchownSync(fd, h.uid, h.gid);
          fs.fchmodSync(fd, h.mode);
          fs.futimesSync(fd, h.atime ?? h.mtime, h.mtime);
        } finally {
          fs.closeSync(fd);
        }
        this.size += h.size;
        this.queueXattrs(rel, h);
        break;
      }
      case 'symlink': {
        if (rel === '') throw refuse('a symlink entry for the layer root');
        try {
          fs.symlinkSync(h.linkname, p);
        } catch (e) {
          if (!isErrno(e, 'EEXIST')) throw e;
          await this.removeExisting(rel);
          fs.symlinkSync(h.linkname, p);
        }
        this.chown(p, h, true);
        fs.lutimesSync(p, h.atime ?? h.mtime, h.mtime);
        this.queueXattrs(rel, h);
        break;
      }
      case 'hardlink': {
        if (rel === '') throw refuse('a hardlink entry for the layer root');
        const target = entryComponents(h.linkname);
        if (target.length === 0) throw refuse(`hardlink ${JSON.stringify(h.name)} to the layer root`);
        const trel = target.join('/');
        if (trel === rel) break;
        await this.ensureParents(target, false);
        if (this.pendingNodes.has(trel)) await this.flush();
        let st: fs.Stats;
        try {
          st = fs.lstatSync(this.abs(trel));
        } catch (e) {
          if (isErrno(e, 'ENOENT')) throw refuse(`hardlink ${JSON.stringify(h.name)}: target ${JSON.stringify(h.linkname)} is not in the layer`);
          throw e;
        }
        if (st.isDirectory()) throw refuse(`hardlink ${JSON.stringify(h.name)} to a directory`);
        // link(2) does not follow a symlink target: a hardlink to a symlink links the symlink itself.
        try {
          fs.linkSync(this.abs(trel), p);
        } catch (e) {
          if (!isErrno(e, 'EEXIST')) throw e;
          await this.removeExisting(rel);
          fs.linkSync(this.abs(trel), p);
        }
        break;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        if (rel === '') throw refuse('a device entry for the layer root');
        if (!this.privileged && h.type !== 'fifo') break; // cannot make devices unprivileged
        await this.queueNode({
          rel,
          type: h.type,
          mode: h.mode,
          uid: h.uid,
          gid: h.gid,
          devmajor: h.devmajor,
          devminor: h.devminor,
          mtime: h.mtime,
        });
        this.queueXattrs(rel, h);
        break;
      }
      default:
        throw refuse(`entry ${JSON.stringify(h.name)} has an unsupported type ${JSON.stringify(h.typeflag)}`);
    }
    await this.maybeFlush();
  }

  private async queueNode(n: NodeSpec): Promise<void> {
    let exists = true;
    try {
      fs.lstatSync(this.abs(n.rel));
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
      exists = false;
    }
    if (exists) await this.removeExisting(n.rel);
    this.pendingNodes.set(n.rel, n);
  }

  private async whiteout(parts: string[], h: TarHeader): Promise<void> {
    const base = parts[parts.length - 1]!;
    const dirParts = parts.slice(0, -1);
    if (base === '.wh..wh..opq') {
      // The directory itself must exist as a real directory (it usually came earlier in the tar).
      await this.ensureParents([...dirParts, base], true);
      this.pendingXattrs.push({ rel: dirParts.join('/'), name: 'trusted.overlay.opaque', value: Buffer.from('y') });
      return;
    }
    if (base.startsWith('.wh..wh.')) return; // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs)
    const name = base.slice('.wh.'.length);
    if (name === '' || name === '.' || name === '..') throw refuse(`bad whiteout ${JSON.stringify(h.name)}`);
    const rel = [...dirParts, name].join('/');
    if (this.pendingNodes.has(rel)) await this.flush();
    await this.ensureParents([...dirParts, name], true);
    if (!this.privileged) throw new EngineError('forbidden', 'creating overlay whiteouts needs root');
    await this.queueNode({ rel, type: 'char', mode: 0, uid: 0, gid: 0, devmajor: 0, devminor: 0, mtime: h.mtime });
  }

  /** Runs what is queued and sets directory times last. */
  async finish(): Promise<void> {
    await this.flush();
    for (const [rel, t] of this.dirTimes) {
      try {
        fs.utimesSync(this.abs(rel), t.atime, t.mtime);
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) throw e;
      }
    }
  }
}

/**
 * Unpacks a layer (gzip, zstd or plain tar, by magic bytes) into `target` (created if missing;
 * normally an empty directory). On error the directory is left partly written: unpack into a
 * temporary directory and throw it away on failure (see LayerStore.put).
 */
export async function unpackLayer(input: AsyncIterable<Buffer>, target: string, options: UnpackOptions = {}): Promise<UnpackResult> {
  const root = path.resolve(target);
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  const rawHash = createHash('sha256');
  let compressedSize = 0;
  const raw = tap(input, (c) => {
    rawHash.update(c);
    compressedSize += c.length;
  });
  const { compression, stream } = await decompress(raw);
  // An uncompressed layer's DiffID is the digest already taken of its bytes: hashed once.
  const diffHash = compression === 'none' ? undefined : createHash('sha256');
  let uncompressedSize = 0;
  const plain = diffHash
    ? tap(stream, (c) => {
        diffHash.update(c);
        uncompressedSize += c.length;
      })
    : stream;
  const unpacker = new Unpacker(root);
  let entries = 0;
  const signal = options.signal;
  // The file operations are synchronous (several times faster than a thread-pool round trip
  // each for thousands of small files); hand the event loop a turn every few milliseconds so that
  // a large unpack does not stall other requests.
  for await (const entry of readTar(plain)) {
    signal?.throwIfAborted();
    entries++;
    await unpacker.entry(entry.header, entry.body);
    await unpacker.maybeYield();
  }
  signal?.throwIfAborted();
  await unpacker.finish();
  const compressedDigest = `sha256:${rawHash.digest('hex')}`;
  return {
    diffID: diffHash ? `sha256:${diffHash.digest('hex')}` : compressedDigest,
    compressedDigest,
    compressedSize,
    uncompressedSize: diffHash ? uncompressedSize : compressedSize,
    size: unpacker.size,
    compression,
    entries,
  };
}

export const TEMP_PREFIX = 'tmp-';

/** Creates `<dir>/tmp-<random>` (mode 0700) for an unpack that is renamed into place when whole. */
export function makeTempDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return fs.mkdtempSync(path.join(dir, TEMP_PREFIX));
}

/** Removes the `tmp-*` leftovers of unpacks that crashed or were aborted; returns their names. */
export async function removeTempLeftovers(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    await fs.promises.rm(path.join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
