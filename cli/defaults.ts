// Default endpoint and storage locations, as Podman chooses them for root and for users.
import { join } from 'node:path';

export interface Defaults {
  rootless: boolean;
  socketPath: string;
  root: string;
  runroot: string;
}

export function defaults(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): Defaults {
  if (uid === 0) return { rootless: false, socketPath: '/run/podman/podman.sock', root: '/var/lib/tspod', runroot: '/run/tspod' };
  const runtimeDir = env.XDG_RUNTIME_DIR || `/run/user/${uid}`;
  const dataHome = env.XDG_DATA_HOME || join(env.HOME || '/', '.local', 'share');
  return { rootless: true, socketPath: join(runtimeDir, 'podman', 'podman.sock'), root: join(dataHome, 'tspod'), runroot: join(runtimeDir, 'tspod') };
}
