// What volumes do on the host: mount(8)/umount(8) of volumes with options, copy-up of image
// content, and content sizes.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../errors.js';
import { isMountPoint, mountsUnder, unmount } from '../storage/overlay.js';
import { mountArgs, type MountPlan } from './options.js';

export { isMountPoint, mountsUnder };

function run(cmd: string, args: string[], pkg: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (stderr.length < 8192) stderr += s;
    });
    child.on('error', (e) =>
      reject(
        (e as NodeJS.ErrnoException).code === 'ENOENT'
          ? new EngineError('unavailable', `the ${cmd} binary is missing (install the Debian package ${pkg})`, e)
          : new EngineError('internal', `cannot run ${cmd}: ${e.message}`, e),
      ),
    );
    child.on('close', (code, signal) => resolve({ code: signal ? -1 : code, stderr: stderr.trim() }));
  });
}

/** Mounts a volume's file system on its _data directory. */
export async function mountVolume(name: string, plan: MountPlan, target: string): Promise<void> {
  const r = await run('mount', mountArgs(plan, target), 'mount');
  if (r.code !== 0) {
    throw new EngineError('internal', `mounting volume ${name} (${plan.bind ? 'bind' : plan.type ?? 'auto'} ${plan.device}) failed: ${r.stderr || `mount exited with ${r.code}`}`);
  }
}

/** Detaches whatever is mounted on `target` (lazily, as Podman: a straggler cannot keep it busy). */
export async function unmountVolume(target: string): Promise<void> {
  await unmount(target, { lazy: true });
}

/**
 * Copies `fromDir`'s content into the empty directory `volumeDir`, and `fromDir`'s owner, mode
 * and times onto it: ownership, modes, times, symlinks, hardlinks, special files, sparse files,
 * ACLs and xattrs where the file systems allow (`cp -a`; a failure to keep an xattr is not an
 * error). Symlinks in the content are copied as links, never followed; `fromDir` itself must
 * be a real directory (resolved inside the rootfs first: containers/scoped-path.ts).
 */
export async function copyUp(volumeDir: string, fromDir: string): Promise<void> {
  const st = fs.lstatSync(fromDir);
  if (!st.isDirectory()) throw new EngineError('invalid-argument', `copy-up source ${fromDir} is not a directory`);
  const r = await run('cp', ['-a', '-T', '--reflink=auto', '--', fromDir, volumeDir], 'coreutils');
  if (r.code !== 0) throw new EngineError('internal', `copying image content into the volume failed: ${r.stderr || `cp exited with ${r.code}`}`);
}

export function isEmptyDir(dir: string): boolean {
  const d = fs.opendirSync(dir);
  try {
    return d.readSync() === null;
  } finally {
    d.closeSync();
  }
}


/** Bytes of regular-file content under `dir` (each hardlinked file once); 0 when it is missing. */
export async function contentSize(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        await walk(p);
      } else if (e.isFile()) {
        try {
          const st = await fs.promises.lstat(p);
          if (st.nlink > 1) {
            const key = `${st.dev}:${st.ino}`;
            if (seen.has(key)) continue;
            seen.add(key);
          }
          total += st.size;
        } catch {
          /* gone meanwhile */
        }
      }
    }
  };
  await walk(dir);
  return total;
}
