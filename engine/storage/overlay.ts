// overlayfs mounts of a layer stack: mount(2) through the util-linux `mount` binary (Node has
// no mount call), unmount through `umount`.
//
// The mount data (the -o options) is limited to one page (4096 bytes, NUL included), which a
// stack of absolute lowerdir paths quickly exceeds (~100 bytes a layer). When the options do not
// fit, the mount runs with its working directory at the deepest directory common to all the
// paths and names them relative to it (the kernel resolves relative paths against the mounting
// process's cwd); give it LayerStore.lowerLinks() paths (l/<26 chars>) for the shortest form.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../errors.js';

/** Bytes of mount data the kernel accepts: one page less the terminating NUL. */
export const MOUNT_DATA_LIMIT = 4095;

export interface OverlaySpec {
  /** Lower directories, top first. */
  lowerDirs: string[];
  /** Writable upper directory; without it the mount is read-only. */
  upperDir?: string;
  /** Work directory, on the same filesystem as upperDir (required with upperDir). */
  workDir?: string;
  /** Extra options (index=off is added unless an index= option is given). */
  options?: string[];
}

export interface OverlayMountArgs {
  /** The -o value. */
  data: string;
  /** Directory to run mount in when `data` uses relative paths. */
  cwd?: string;
}

function checkPath(p: string): void {
  if (!path.isAbsolute(p)) throw new EngineError('invalid-argument', `overlay path ${JSON.stringify(p)} is not absolute`);
  if (/[,:\\\n]/.test(p)) throw new EngineError('invalid-argument', `overlay path ${JSON.stringify(p)} contains , : or \\`);
}

function build(spec: OverlaySpec, rel: (p: string) => string): string {
  const opts = [`lowerdir=${spec.lowerDirs.map(rel).join(':')}`];
  if (spec.upperDir) opts.push(`upperdir=${rel(spec.upperDir)}`, `workdir=${rel(spec.workDir!)}`);
  const extra = spec.options ?? [];
  if (!extra.some((o) => o.startsWith('index='))) opts.push('index=off');
  opts.push(...extra);
  return opts.join(',');
}

function commonDir(paths: string[]): string {
  let parts = path.resolve(paths[0]!).split('/');
  for (const p of paths.slice(1)) {
    const q = path.resolve(p).split('/');
    let i = 0;
    while (i < parts.length && i < q.length && parts[i] === q[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join('/') || '/';
}

/** The mount options for `spec`, shortened with a working directory when they would not fit. */
export function overlayMountArgs(spec: OverlaySpec): OverlayMountArgs {
  if (spec.lowerDirs.length === 0) throw new EngineError('invalid-argument', 'an overlay needs at least one lower directory');
  if (!!spec.upperDir !== !!spec.workDir) throw new EngineError('invalid-argument', 'upperDir and workDir go together');
  const all = [...spec.lowerDirs, ...(spec.upperDir ? [spec.upperDir, spec.workDir!] : [])];
  all.forEach(checkPath);
  const data = build(spec, (p) => p);
  if (data.length <= MOUNT_DATA_LIMIT) return { data };
  // The common directory's parent, so that no path becomes empty.
  let cwd = commonDir(all);
  if (all.some((p) => path.resolve(p) === cwd)) cwd = path.dirname(cwd);
  const short = build(spec, (p) => path.relative(cwd, p));
  if (short.length > MOUNT_DATA_LIMIT) {
    throw new EngineError('invalid-argument', `overlay of ${spec.lowerDirs.length} layers does not fit the mount data limit (${short.length} > ${MOUNT_DATA_LIMIT} bytes)`);
  }
  return { data: short, cwd };
}

function run(cmd: string, args: string[], cwd?: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => (stderr += s));
    child.on('error', (e) => reject(new EngineError('unavailable', `cannot run ${cmd}: ${e.message}`, e)));
    child.on('close', (code) => resolve({ code, stderr: stderr.trim() }));
  });
}

/** Mounts an overlay of `spec` on `target` (which must exist). */
export async function mountOverlay(target: string, spec: OverlaySpec): Promise<void> {
  const { data, cwd } = overlayMountArgs(spec);
  checkPath(target);
  const r = await run('mount', ['-t', 'overlay', 'overlay', '-o', data, path.resolve(target)], cwd);
  if (r.code !== 0) {
    throw new EngineError('internal', `mounting overlay on ${target} failed: ${r.stderr || `mount exited with ${r.code}`}`);
  }
}

/** Unmounts `target`; `lazy` detaches it even while busy. Not mounted is not an error. */
export async function unmount(target: string, options: { lazy?: boolean } = {}): Promise<void> {
  const abs = path.resolve(target);
  if (!(await isMountPoint(abs))) return;
  const r = await run('umount', [...(options.lazy ? ['-l'] : []), abs]);
  if (r.code !== 0) {
    if (!(await isMountPoint(abs))) return;
    const busy = /busy/i.test(r.stderr);
    throw new EngineError(busy ? 'conflict' : 'internal', `unmounting ${target} failed: ${r.stderr || `umount exited with ${r.code}`}`);
  }
}

/** Decodes the octal escapes (\040 ...) of /proc/self/mountinfo. */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points (as in /proc/self/mountinfo) at or under `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const abs = path.resolve(dir);
  const text = await fs.promises.readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = unescapeMountinfo(f[4]!);
    if (mp === abs || mp.startsWith(abs === '/' ? '/' : abs + '/')) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Whether `target` is a mount point. */
export async function isMountPoint(target: string): Promise<boolean> {
  const abs = path.resolve(target);
  return (await mountsUnder(abs)).includes(abs);
}
