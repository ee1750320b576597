// Secrets in containers, as Podman has them:
// - mount secrets are resolved at create, and their data is copied then into the container's
//   own dir (userdata/secrets/<n>-<name>, owned by the given UID/GID, with the given mode), so a
//   later change or removal of the secret does not touch the container; at each start the copy
//   is bind-mounted (read-only) at /run/secrets/<target or name>, or at an absolute target;
//   /run/secrets itself is an empty directory of the container's, so the image's content there
//   is hidden and the mount points are not made in the image's layers;
// - env secrets are resolved at create too, and read again by name at each start (a secret
//   removed since makes the start fail with "no such secret").
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../errors.js';
import type { OciRunDirFile } from '../oci/runtime-spec.js';
import type { SecretRecord } from '../secrets/index.js';
import type { ContainerCreateOptions } from './create-options.js';
import type { Layout } from './layout.js';
import type { ContainerSpec, SecretMountSpec } from './types.js';

export const SECRETS_DIR_IN_CONTAINER = '/run/secrets';

/** What the containers domain needs of the secrets domain. */
export interface SecretSource {
  secretLookup(nameOrId: string): SecretRecord;
  secretData(nameOrId: string): Promise<{ record: SecretRecord; data: Buffer }>;
}

/**
 * The copy of the container's n-th mounted secret. One per mount, not per secret: Podman's one
 * file per name gives every mount of a secret the owner and mode of the last.
 */
function copyPath(layout: Layout, id: string, n: number, s: SecretMountSpec): string {
  return path.join(layout.secretsDir(id), `${n}-${s.name}`);
}

/** Where a mounted secret appears in the container. */
export function secretDestination(s: Pick<SecretMountSpec, 'name' | 'target'>): string {
  return path.posix.resolve(SECRETS_DIR_IN_CONTAINER, s.target || s.name);
}

/** The create options' secrets, resolved (throws not-found "no such secret" before anything is made). */
export function resolveSecrets(o: ContainerCreateOptions, source: SecretSource | undefined): Pick<ContainerSpec, 'secrets' | 'envSecrets'> {
  const out: Pick<ContainerSpec, 'secrets' | 'envSecrets'> = {};
  if (!o.secrets?.length && !Object.keys(o.envSecrets ?? {}).length) return out;
  if (!source) throw new EngineError('not-implemented', 'secrets need the secrets domain');
  if (o.secrets?.length) {
    out.secrets = o.secrets.map((req) => {
      const rec = source.secretLookup(req.source);
      const s: SecretMountSpec = { name: rec.name, id: rec.id, target: req.target, uid: req.uid, gid: req.gid, mode: req.mode };
      const dest = secretDestination(s);
      if (dest === '/' || dest === SECRETS_DIR_IN_CONTAINER) throw new EngineError('invalid-argument', `secret ${rec.name}: target ${JSON.stringify(req.target)} is not a file path`);
      return s;
    });
    const dests = out.secrets.map(secretDestination);
    const dup = dests.find((d, i) => dests.indexOf(d) !== i);
    if (dup) throw new EngineError('invalid-argument', `two secrets are mounted at ${dup}`);
  }
  if (o.envSecrets && Object.keys(o.envSecrets).length) {
    out.envSecrets = Object.fromEntries(Object.entries(o.envSecrets).map(([k, ref]) => [k, source.secretLookup(ref).name]));
  }
  return out;
}

/** Copies the mounted secrets' data into the container's dir (at create). */
export async function writeSecretFiles(layout: Layout, id: string, spec: ContainerSpec, source: SecretSource | undefined): Promise<void> {
  if (!spec.secrets?.length) return;
  if (!source) throw new EngineError('not-implemented', 'secrets need the secrets domain');
  const dir = layout.secretsDir(id);
  await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  await fsp.mkdir(layout.secretsMountDir(id), { recursive: true, mode: 0o755 });
  await fsp.chmod(layout.secretsMountDir(id), 0o755); // whatever the umask: the container's users list it
  for (const [n, s] of spec.secrets.entries()) {
    const { data } = await source.secretData(s.id);
    const file = copyPath(layout, id, n, s);
    await fsp.rm(file, { force: true });
    const fh = await fsp.open(file, 'wx', 0o600);
    try {
      await fh.writeFile(data);
      await fh.chown(s.uid, s.gid);
      await fh.chmod(s.mode);
    } finally {
      await fh.close();
    }
  }
}

/** The bind mounts of a container's secrets: /run/secrets (when used), then each file, read-only. */
export function secretRunDirFiles(layout: Layout, id: string, spec: ContainerSpec): OciRunDirFile[] {
  if (!spec.secrets?.length) return [];
  const files = spec.secrets.map((s, n) => ({ source: copyPath(layout, id, n, s), destination: secretDestination(s), readonly: true }));
  const underRun = files.some((f) => f.destination.startsWith(`${SECRETS_DIR_IN_CONTAINER}/`));
  return [...(underRun ? [{ source: layout.secretsMountDir(id), destination: SECRETS_DIR_IN_CONTAINER }] : []), ...files];
}

/** NAME=value of each env secret, read now (at start). */
export async function secretEnv(spec: ContainerSpec, source: SecretSource | undefined): Promise<string[]> {
  const entries = Object.entries(spec.envSecrets ?? {});
  if (!entries.length) return [];
  if (!source) throw new EngineError('not-implemented', 'secrets need the secrets domain');
  const out: string[] = [];
  for (const [name, secret] of entries) out.push(`${name}=${(await source.secretData(secret)).data.toString()}`);
  return out;
}
