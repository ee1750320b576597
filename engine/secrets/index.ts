// The secrets domain: Podman's secrets with the `file` driver (./store.ts), the SecretsEngine
// methods, and what the containers domain needs to use secrets.
//
// ─── API for the containers domain ──────────────────────────────────────────────────────────
// `const secrets = openSecretsDomain(ctx)` (local-engine.ts does it once; pass `secrets` on):
//   secrets.secretLookup(nameOrId) -> SecretRecord        at create: not-found "no such secret"
//   secrets.secretData(nameOrId)  -> { record, data }    at create (mounts), at init (env)
// Removing a secret does not look at containers (as Podman).
// ─────────────────────────────────────────────────────────────────────────────────────────────
import * as path from 'node:path';
import type { DomainCounts, EngineContext } from '../context.js';
import { EngineError } from '../errors.js';
import type { SecretInspectReport, SecretsEngine } from './api.js';
import type { SecretRecord } from './db.js';
import { compileSecretFilters } from './filters.js';
import { SecretStore } from './store.js';

export type { SecretsEngine } from './api.js';
export type { SecretRecord } from './db.js';

export interface SecretsDomain {
  engine: SecretsEngine;
  counts(): Promise<DomainCounts>;
  close(): Promise<void>;
  secretLookup(nameOrId: string): SecretRecord;
  secretData(nameOrId: string): Promise<{ record: SecretRecord; data: Buffer }>;
}

function report(r: SecretRecord, data?: Buffer): SecretInspectReport {
  return {
    id: r.id,
    name: r.name,
    driver: r.driver,
    driverOptions: r.driverOptions,
    labels: r.labels,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    ...(data ? { data } : {}),
  };
}

export function openSecretsDomain(ctx: EngineContext): SecretsDomain {
  // Opened on first use: a service that never touches secrets pays nothing for them at start.
  let opened: SecretStore | undefined;
  const store = () => (opened ??= new SecretStore(path.join(ctx.root, 'secrets')));
  const emit = async (action: 'create' | 'remove', id: string) => {
    // As Podman: the event names the secret by ID only.
    await ctx.events.append({ type: 'secret', action, id });
  };

  const engine: SecretsEngine = {
    async secretCreate(options) {
      const { id, created } = await store().create(options);
      if (created) await emit('create', id);
      return { id };
    },
    async secretList(options) {
      const match = compileSecretFilters(options.filters ?? {});
      return store().db.all().filter(match).map((r) => report(r));
    },
    async secretInspect(nameOrId, options = {}) {
      if (!options.showSecret) return report(store().lookup(nameOrId));
      const { record, data } = await store().data(nameOrId);
      return report(record, data);
    },
    async secretExists(nameOrId) {
      try {
        store().lookup(nameOrId);
        return true;
      } catch (err) {
        if (err instanceof EngineError && err.kind === 'not-found') return false;
        throw err;
      }
    },
    async secretRemove(nameOrId, options = {}) {
      const removed = await store().remove(options.all ? undefined : nameOrId);
      for (const r of removed) await emit('remove', r.id);
      return removed.map((r) => ({ id: r.id, name: r.name }));
    },
  };

  return {
    engine,
    async counts() {
      return {};
    },
    async close() {
      opened?.close();
    },
    secretLookup: (nameOrId) => store().lookup(nameOrId),
    secretData: (nameOrId) => store().data(nameOrId),
  };
}
