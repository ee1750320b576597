// Builds a minimal container root filesystem from the host's static busybox (busybox-static):
// /bin/busybox plus one symlink per applet in /bin, /etc/passwd, /etc/group, and the empty
// directories the runtime mounts over (/proc, /sys, /dev, /tmp, ...). Tests only.
import { execFileSync } from 'node:child_process';
import { promises as fsp, existsSync } from 'node:fs';
import path from 'node:path';

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

export function findBusybox(): string | undefined {
  return BUSYBOX_CANDIDATES.find((p) => existsSync(p));
}

export interface BusyboxRootfsOptions {
  /** Extra files to write, relative path inside the rootfs -> content. */
  files?: Record<string, string>;
}

/** Creates `dir` (which must not exist or be empty) as a busybox rootfs and returns `dir`. */
export async function buildBusyboxRootfs(dir: string, opts: BusyboxRootfsOptions = {}): Promise<string> {
  const busybox = findBusybox();
  if (!busybox) throw new Error('busybox not found: apt-get install -y busybox-static');
  await fsp.mkdir(dir, { recursive: true });
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'home', 'var', 'run', 'usr/bin', 'usr/sbin', 'sbin']) {
    await fsp.mkdir(path.join(dir, d), { recursive: true });
  }
  await fsp.chmod(path.join(dir, 'tmp'), 0o1777);
  await fsp.copyFile(busybox, path.join(dir, 'bin/busybox'));
  await fsp.chmod(path.join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'busybox' && !s.includes('/'));
  for (const applet of applets) {
    await fsp.symlink('busybox', path.join(dir, 'bin', applet)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
  await fsp.writeFile(
    path.join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n',
  );
  await fsp.writeFile(path.join(dir, 'etc/group'), 'root:x:0:\ndaemon:x:1:\ntty:x:5:\nnogroup:x:65534:\n');
  for (const [rel, content] of Object.entries(opts.files ?? {})) {
    const p = path.join(dir, rel);
    await fsp.mkdir(path.dirname(p), { recursive: true });
    await fsp.writeFile(p, content);
  }
  return dir;
}
