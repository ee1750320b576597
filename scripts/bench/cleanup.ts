// Everything a run starts is registered here and removed at the end, on errors and on Ctrl-C:
// child processes (SIGTERM, then SIGKILL), mounts left under the temp dir (Podman's overlay
// driver bind-mounts <root>/overlay), and the temp dir itself.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class Cleanup {
  readonly root: string;
  private readonly children = new Set<ChildProcess>();
  private done = false;

  constructor(prefix = 'tspod-bench-') {
    this.root = mkdtempSync(join(tmpdir(), prefix));
  }

  track(child: ChildProcess): ChildProcess {
    if (child.exitCode !== null || child.signalCode !== null) return child;
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Stops a child: SIGTERM, SIGKILL after graceMs; resolves when it has exited. */
  async stop(child: ChildProcess, graceMs = 5000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Graceful end of a run. */
  async close(): Promise<void> {
    await Promise.all([...this.children].map((c) => this.stop(c, 3000)));
    this.removeFiles();
  }

  /** Last resort (process exit, signals): kill what is left, unmount, remove. Synchronous. */
  closeSync(): void {
    for (const c of this.children) {
      try {
        c.kill('SIGKILL');
      } catch {
        // gone
      }
    }
    // Give killed processes a moment to release their mounts' files.
    if (this.children.size) spawnSync('sleep', ['0.2']);
    this.removeFiles();
  }

  private removeFiles(): void {
    if (this.done) return;
    this.done = true;
    for (const mount of mountsUnder(this.root)) {
      if (spawnSync('umount', [mount], { stdio: 'ignore' }).status !== 0) spawnSync('umount', ['-l', mount], { stdio: 'ignore' });
    }
    try {
      rmSync(this.root, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      process.stderr.write(`bench: could not remove ${this.root}: ${(err as Error).message}\n`);
    }
  }
}

/** Mount points at or below dir, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const points = text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}
