// Secrets as Podman's secrets manager (containers/common pkg/secrets) has them: 25-hex IDs,
// unique names, data of 1 to 511999 bytes, lookups by name, ID or unique ID prefix, replace
// (a new ID and new data under the same name, CreatedAt kept) and ignore-if-exists.
//
// Storage under <root>/secrets (0700): secrets.db for the metadata (./db.ts), filedriver/<id>
// for the data (./file-driver.ts). A create writes the data first and commits the record
// second, so a record never points at missing data; a failed create removes its data file,
// and a remove drops the record before the data.
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { EngineError } from '../errors.js';
import { eventClockNs } from '../events/time.js';
import type { SecretCreateOptions } from './api.js';
import { SecretDb, type SecretRecord } from './db.js';
import { FileDriver } from './file-driver.js';

/** Data must be more than 0 and less than this many bytes (Podman's maxSecretSize). */
export const MAX_SECRET_SIZE = 512_000;
export const SECRET_ID_LENGTH = 25;

const invalid = (message: string) => new EngineError('invalid-argument', message, undefined, 'invalid argument');

export function noSuchSecret(nameOrId: string): EngineError {
  return new EngineError('not-found', `no secret with name or id ${JSON.stringify(nameOrId)}: no such secret`, undefined, 'no such secret');
}

export function checkSecretName(name: string): void {
  if (name.length === 0 || name.length > 253 || /[,/=\0]/.test(name)) {
    throw invalid(`secret name ${JSON.stringify(name)} can not include '=', '/', ',', or the '\\0' (NULL) and be between 1 and 253 characters: invalid secret name`);
  }
}

function nowRfc3339Nano(): string {
  const ns = eventClockNs();
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

export class SecretStore {
  readonly db: SecretDb;
  readonly driver: FileDriver;

  constructor(readonly dir: string) {
    this.db = new SecretDb(path.join(dir, 'secrets.db'));
    this.driver = new FileDriver(path.join(dir, 'filedriver'));
  }

  /**
   * The driver options a `file` secret is recorded with: the given ones (Podman records options
   * the driver does not know, and so does tspod) and the data path, which Podman lets a client
   * choose but tspod does not: a secret's data stays in the store's own 0700 directory.
   */
  private fileOptions(given: Record<string, string> | undefined): Record<string, string> {
    const p = given?.path;
    if (p !== undefined && path.resolve(p) !== this.driver.dir) throw invalid(`path ${JSON.stringify(p)}: the file driver keeps data in ${this.driver.dir} only: invalid driver option`);
    return { ...given, path: this.driver.dir };
  }

  /** Returns the ID, and whether a secret was stored (false: an existing one was answered). */
  async create(o: SecretCreateOptions): Promise<{ id: string; created: boolean; replaced?: string }> {
    checkSecretName(o.name);
    if (!(o.data.length > 0 && o.data.length < MAX_SECRET_SIZE)) throw invalid(`secret data must be larger than 0 and less than ${MAX_SECRET_SIZE} bytes`);
    if (o.replace && o.ignoreIfExists) throw invalid('ignoreIfExists and replace cannot be used together');
    const driver = o.driver || 'file';
    if (driver !== 'file') throw invalid(`driver ${JSON.stringify(driver)}: only the file driver is supported: invalid driver`);
    const driverOptions = this.fileOptions(o.driverOptions);
    const id = randomBytes(16).toString('hex').slice(0, SECRET_ID_LENGTH);
    await this.driver.store(id, o.data);
    let outcome: { id: string; created: boolean; replaced?: string };
    try {
      outcome = await this.db.write((tx) => {
        const existing = tx.byName(o.name);
        if (existing && o.ignoreIfExists) return { id: existing.id, created: false };
        if (existing && !o.replace) throw new EngineError('conflict', `${o.name}: secret name in use`, undefined, 'secret name in use');
        if (tx.byId(id)) throw new EngineError('internal', `secret ID ${id} collides with an existing one`);
        const now = nowRfc3339Nano();
        if (existing) tx.delete(existing.id);
        tx.insert({ id, name: o.name, driver, driverOptions, labels: { ...o.labels }, createdAt: existing?.createdAt ?? now, updatedAt: now });
        return { id, created: true, ...(existing ? { replaced: existing.id } : {}) };
      });
    } catch (err) {
      await this.driver.delete(id);
      throw err;
    }
    if (!outcome.created) await this.driver.delete(id);
    if (outcome.replaced) await this.driver.delete(outcome.replaced);
    return outcome;
  }

  /** By exact ID, exact name, then unique ID prefix (as Podman). */
  lookup(nameOrId: string): SecretRecord {
    return resolve(this.db.all(), nameOrId);
  }

  /** The secret's data; not-found when the secret (or its data) is gone. */
  async data(nameOrId: string): Promise<{ record: SecretRecord; data: Buffer }> {
    const record = this.lookup(nameOrId);
    const data = await this.driver.lookup(record.id);
    if (!data) throw noSuchSecret(nameOrId);
    return { record, data };
  }

  /** Removes the secret named (resolved in the write lock), or all of them; returns those removed. */
  async remove(nameOrId: string | undefined): Promise<SecretRecord[]> {
    const removed = await this.db.write((tx) => {
      const victims = nameOrId === undefined ? tx.all() : [resolve(tx.all(), nameOrId)];
      for (const r of victims) tx.delete(r.id);
      return victims;
    });
    for (const r of removed) await this.driver.delete(r.id);
    return removed;
  }

  close(): void {
    this.db.close();
  }
}

function resolve(all: SecretRecord[], nameOrId: string): SecretRecord {
  const exact = all.find((r) => r.id === nameOrId) ?? all.find((r) => r.name === nameOrId);
  if (exact) return exact;
  if (nameOrId.length === 0 || nameOrId.length > SECRET_ID_LENGTH) throw noSuchSecret(nameOrId);
  const matches = all.filter((r) => r.id.startsWith(nameOrId));
  if (matches.length > 1) throw new EngineError('conflict', `more than one result secret with prefix ${nameOrId}: secret is ambiguous`, undefined, 'secret is ambiguous');
  if (matches.length === 0) throw noSuchSecret(nameOrId);
  return matches[0]!;
}
