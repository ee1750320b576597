// Persistent network namespaces, one file per container under <runroot>/netns/.
//
// How: Node cannot unshare(2) or setns(2), so util-linux `unshare --net=FILE` does what
// `ip netns add` does, at a path of our choosing: it creates a network namespace and bind-mounts
// it onto FILE (an empty file we create first), which keeps the namespace alive after unshare
// exits; the command it runs inside (`ip link set lo up`) brings loopback up on the way, in the
// same process. Removal is umount(8) then unlink: with the last reference gone the kernel frees
// the namespace, and with it every interface still inside (the container end of each veth).
//
// Why not `ip netns add`: its directory (/run/netns) is fixed at build time, so instances could
// not keep theirs apart, and names there would be host-wide. Why the directory is not itself
// made a shared bind mount, as `ip netns` does with /run/netns: such a mount would outlive the
// service and keep its runroot from being removed. Nothing needs the propagation: runc joins
// the namespace by path before it pivots, and a copy of the bind mount that another mount
// namespace may hold does not keep the namespace alive past our unlink (since Linux 3.18,
// unlinking a file detaches the mounts on it in every mount namespace).
import { execFile } from 'node:child_process';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Creates the namespace file at `path` (which must not exist) with loopback up. */
export async function createNetns(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const fh = await open(path, 'wx', 0o444);
  await fh.close();
  try {
    await run('unshare', [`--net=${path}`, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (err) {
    await removeNetns(path).catch(() => {});
    const e = err as { stderr?: string; message: string };
    throw new Error(`creating the network namespace ${path}: ${(e.stderr || e.message).trim()}`);
  }
}

const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Whether `path` is a mount point in this mount namespace. */
export async function isMounted(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((line) => unescapeMount(line.split(' ')[4] ?? '') === path);
}

/** Unmounts and removes a namespace file; nothing to do when it is gone already. */
export async function removeNetns(path: string): Promise<void> {
  // A namespace file can carry several stacked mounts if something mounted it twice.
  for (let i = 0; i < 8 && (await isMounted(path)); i++) {
    try {
      await run('umount', [path]);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      if (!(await isMounted(path))) break;
      throw new Error(`unmounting the network namespace ${path}: ${(e.stderr || e.message).trim()}`);
    }
  }
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
