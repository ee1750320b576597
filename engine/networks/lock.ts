// A lock shared by processes: the service and the short-lived cleanup processes of one tspod
// (and, for the host-wide claims, every tspod on the host). The lock is a file created with
// O_EXCL holding the owner's PID; a lock whose owner is gone is taken over. Within a process,
// waiters queue on a promise chain instead of polling.
import { mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const queues = new Map<string, Promise<unknown>>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function acquire(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        await mkdir(dirname(path), { recursive: true });
        continue;
      }
      if (code !== 'EEXIST') throw err;
    }
    const owner = Number(await readFile(path, 'utf8').catch(() => ''));
    // An empty file is a lock being written right now: only a stale one (no live owner) is broken.
    if (owner && !alive(owner)) {
      // Rename first so two processes breaking the same stale lock cannot both win.
      const stale = `${path}.stale.${process.pid}`;
      if (await rename(path, stale).then(() => true, () => false)) {
        const again = Number(await readFile(stale, 'utf8').catch(() => ''));
        if (again === owner) await unlink(stale).catch(() => {});
        else await rename(stale, path).catch(() => {}); // not the lock we judged: put it back
      }
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${path} (held by PID ${owner || 'unknown'})`);
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
}

/** Runs `fn` holding the lock file at `path`. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const prev = queues.get(path) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chained = prev.then(() => mine);
  queues.set(path, chained);
  await prev;
  try {
    await acquire(path, timeoutMs);
    try {
      return await fn();
    } finally {
      await unlink(path).catch(() => {});
    }
  } finally {
    release();
    if (queues.get(path) === chained) queues.delete(path);
  }
}

/** Writes a file atomically (temp file + rename). */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp.${process.pid}`;
  await writeFile(tmp, data, { mode: 0o644 });
  await rename(tmp, path);
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return undefined;
    throw err;
  }
}
