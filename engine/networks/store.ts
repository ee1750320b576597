// Network definitions: one JSON file per network under <root>/networks/, in Podman's shape.
// The files are read on every lookup (there are few, and the service is not their only reader:
// cleanup processes and other instances' staleness checks read them too).
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError } from '../errors.js';
import { readJson, writeFileAtomic } from './lock.js';
import type { NetworkConfig } from './types.js';

export const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class NetworkStore {
  constructor(readonly dir: string) {}

  fileOf(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  async list(): Promise<NetworkConfig[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const all = await Promise.all(names.filter((n) => n.endsWith('.json')).map((n) => readJson<NetworkConfig>(join(this.dir, n)).catch(() => undefined)));
    return all.filter((n): n is NetworkConfig => !!n && typeof n.id === 'string' && typeof n.name === 'string').sort((a, b) => a.name.localeCompare(b.name));
  }

  async byName(name: string): Promise<NetworkConfig | undefined> {
    if (!NAME_RE.test(name)) return undefined;
    const n = await readJson<NetworkConfig>(this.fileOf(name));
    return n && n.name === name ? n : undefined;
  }

  /** By exact name, full ID, or unique ID prefix (as Podman). */
  async find(ref: string): Promise<NetworkConfig | undefined> {
    const named = await this.byName(ref);
    if (named) return named;
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    const hits = (await this.list()).filter((n) => n.id.startsWith(ref));
    if (hits.length > 1) throw new EngineError('conflict', `more than one network matches "${ref}"`);
    return hits[0];
  }

  async get(ref: string): Promise<NetworkConfig> {
    const n = await this.find(ref);
    if (!n) throw new EngineError('not-found', `unable to find network with name or ID ${ref}: network not found`, undefined, 'network not found');
    return n;
  }

  async write(n: NetworkConfig): Promise<void> {
    await writeFileAtomic(this.fileOf(n.name), `${JSON.stringify(n, null, 2)}\n`);
  }

  async remove(n: NetworkConfig): Promise<void> {
    await unlink(this.fileOf(n.name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}
