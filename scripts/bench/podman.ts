// Podman's service as the reference side: its own --root, --runroot and --tmpdir under the run's
// temp dir (so nothing is shared with the host's Podman state in /var/lib/containers or
// /run/libpod), the default storage driver, and vfs if that cannot start.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { mountsUnder } from './cleanup.js';
import type { Side } from './services.js';
import { which } from './services.js';

export type PodmanSide = Side | { unavailable: string };

export function podmanSide(ctx: { tempDir(name: string): string }): PodmanSide {
  const bin = which('podman');
  if (!bin) return { unavailable: 'podman is not installed (scripts/setup.sh --test installs it as root)' };
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  const version = /version\s+(\S+)/.exec(v.stdout ?? '')?.[1];
  if (v.status !== 0 || !version) return { unavailable: `podman --version failed: ${(v.stderr ?? '').trim() || v.error?.message}` };
  if (process.getuid?.() !== 0) return { unavailable: 'Podman is compared as root; run the benchmark as root' };
  const dir = ctx.tempDir('podman');
  let driver: string | undefined; // undefined: Podman's default (overlay here)
  const side: Side = {
    name: 'podman',
    label: `Podman ${version}`,
    dir,
    facts: { version, binary: bin },
    argv: (socket) => [
      bin,
      '--root',
      join(dir, 'root'),
      '--runroot',
      join(dir, 'runroot'),
      '--tmpdir',
      join(dir, 'tmp'),
      ...(driver ? ['--storage-driver', driver] : []),
      'system',
      'service',
      '--time',
      '0',
      ...(socket ? [`unix://${socket}`] : []),
    ],
    fallback(reason) {
      if (driver === 'vfs') return false;
      driver = 'vfs';
      side.facts.storageDriverFallback = reason;
      for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m]);
      for (const d of ['root', 'runroot', 'tmp']) rmSync(join(dir, d), { recursive: true, force: true });
      side.label = `Podman ${version} (vfs)`;
      return true;
    },
    describe(info) {
      const d = typeof info.Driver === 'string' ? info.Driver : driver ?? 'unknown';
      side.facts.storageDriver = d;
      side.label = `Podman ${version} (storage driver ${d})`;
    },
  };
  return side;
}
