// The `file` secrets driver: each secret's data in its own file, <dir>/<id>, mode 0600 in a
// 0700 directory, readable by the service's user only. Podman's file driver keeps all data in
// one JSON file; one file per secret lets a write be atomic (temp file, fsync, rename) without
// rewriting the others, and a remove is one unlink.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

export class FileDriver {
  constructor(readonly dir: string) {}

  private file(id: string): string {
    if (!/^[0-9a-f]+$/.test(id)) throw new Error(`invalid secret ID ${JSON.stringify(id)}`);
    return path.join(this.dir, id);
  }

  async store(id: string, data: Buffer): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(this.dir, `.tmp-${id}-${randomBytes(4).toString('hex')}`);
    const fh = await fsp.open(tmp, 'wx', 0o600);
    try {
      await fh.chmod(0o600); // whatever the umask
      await fh.writeFile(data);
      await fh.sync();
    } catch (err) {
      await fh.close();
      await fsp.rm(tmp, { force: true });
      throw err;
    } finally {
      await fh.close().catch(() => {});
    }
    await fsp.rename(tmp, this.file(id));
  }

  /** The data, or undefined when the secret has none (removed meanwhile). */
  async lookup(id: string): Promise<Buffer | undefined> {
    try {
      return await fsp.readFile(this.file(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async delete(id: string): Promise<void> {
    await fsp.rm(this.file(id), { force: true });
  }
}
