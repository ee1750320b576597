// Container and exec-session state in SQLite (<root>/containers/state.db, WAL), shared by the
// service and the short-lived `tspod container cleanup` processes conmon starts. Every row
// carries a version (`seq`) bumped on each write; the service keeps all rows in memory and, when
// SQLite says another connection committed (PRAGMA data_version), reloads only the rows whose
// version changed. Reads are then map lookups, and list costs no query at all.
//
// Writes that depend on the current state (claiming an exit, a state transition) go through
// `mutate`, a read-modify-write in one BEGIN IMMEDIATE transaction, so two processes never both
// act on the same transition.
import type Database from 'better-sqlite3';
import { openDatabase } from '../sqlite.js';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../errors.js';
import type { ContainerRecord, ContainerSpec, ContainerState, ExecRecord } from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS containers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created TEXT NOT NULL,
  spec TEXT NOT NULL,
  state TEXT NOT NULL,
  seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS exec_sessions (
  id TEXT PRIMARY KEY,
  container_id TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS exec_by_container ON exec_sessions(container_id);
`;

interface Row {
  id: string;
  name: string;
  created: string;
  spec: string;
  state: string;
  seq: number;
}

interface Cached {
  rec: ContainerRecord;
  seq: number;
  specText: string;
}

export class ContainerStore {
  private readonly db: Database.Database;
  private readonly byId = new Map<string, Cached>();
  private readonly byName = new Map<string, string>();
  private dataVersion = -1;
  private readonly stmts;

  constructor(readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.db = openDatabase(file, { timeout: 15_000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.stmts = {
      versions: this.db.prepare<[], { id: string; seq: number }>('SELECT id, seq FROM containers'),
      one: this.db.prepare<[string], Row>('SELECT * FROM containers WHERE id = ?'),
      all: this.db.prepare<[], Row>('SELECT * FROM containers'),
      insert: this.db.prepare('INSERT INTO containers (id, name, created, spec, state, seq) VALUES (?, ?, ?, ?, ?, 1)'),
      update: this.db.prepare('UPDATE containers SET name = ?, spec = ?, state = ?, seq = seq + 1 WHERE id = ?'),
      nameOwner: this.db.prepare<[string], { id: string }>('SELECT id FROM containers WHERE name = ?'),
      remove: this.db.prepare('DELETE FROM containers WHERE id = ?'),
      execInsert: this.db.prepare('INSERT OR REPLACE INTO exec_sessions (id, container_id, data) VALUES (?, ?, ?)'),
      execGet: this.db.prepare<[string], { data: string }>('SELECT data FROM exec_sessions WHERE id = ?'),
      execOf: this.db.prepare<[string], { data: string }>('SELECT data FROM exec_sessions WHERE container_id = ?'),
      execRemove: this.db.prepare('DELETE FROM exec_sessions WHERE id = ?'),
      execRemoveOf: this.db.prepare('DELETE FROM exec_sessions WHERE container_id = ?'),
    };
    this.refresh(true);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Reloads rows other processes changed since the last look (cheap when nothing changed). */
  refresh(force = false): void {
    const dv = this.db.pragma('data_version', { simple: true }) as number;
    if (!force && dv === this.dataVersion) return;
    this.dataVersion = dv;
    const seen = new Set<string>();
    for (const { id, seq } of this.stmts.versions.all()) {
      seen.add(id);
      const cached = this.byId.get(id);
      if (cached && cached.seq === seq) continue;
      const row = this.stmts.one.get(id);
      if (row) this.cache(row);
    }
    for (const id of [...this.byId.keys()]) if (!seen.has(id)) this.uncache(id);
  }

  private cache(row: Row): ContainerRecord {
    const old = this.byId.get(row.id);
    if (old && old.rec.name !== row.name) this.byName.delete(old.rec.name);
    const rec: ContainerRecord = {
      id: row.id,
      name: row.name,
      created: row.created,
      // The spec changes rarely (rename, update): reuse the parsed one when the text is the same.
      spec: old && old.specText === row.spec ? old.rec.spec : (JSON.parse(row.spec) as ContainerSpec),
      state: JSON.parse(row.state) as ContainerState,
    };
    this.byId.set(row.id, { rec, seq: row.seq, specText: row.spec });
    this.byName.set(row.name, row.id);
    return rec;
  }

  private uncache(id: string): void {
    const old = this.byId.get(id);
    if (!old) return;
    this.byId.delete(id);
    if (this.byName.get(old.rec.name) === id) this.byName.delete(old.rec.name);
  }

  /** Every container (from memory; call refresh() first to see other processes' writes). */
  list(): ContainerRecord[] {
    return [...this.byId.values()].map((c) => c.rec);
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): ContainerRecord | undefined {
    return this.byId.get(id)?.rec;
  }

  idOfName(name: string): string | undefined {
    return this.byName.get(name);
  }

  /**
   * Finds a container by full ID, name, or unique ID prefix (Podman's order). Throws not-found,
   * or invalid-argument when a prefix matches several.
   */
  lookup(nameOrId: string): ContainerRecord {
    const ref = nameOrId.startsWith('/') ? nameOrId.slice(1) : nameOrId;
    const exact = this.byId.get(ref) ?? this.byId.get(this.byName.get(ref) ?? '');
    if (exact) return exact.rec;
    if (/^[0-9a-f]{1,63}$/.test(ref)) {
      const matches = [...this.byId.keys()].filter((id) => id.startsWith(ref));
      if (matches.length === 1) return this.byId.get(matches[0]!)!.rec;
      if (matches.length > 1) throw new EngineError('invalid-argument', `more than one result for container ID ${ref}: ${matches.length} containers match`);
    }
    throw new EngineError('not-found', `no container with name or ID "${nameOrId}" found: no such container`, undefined, 'no such container');
  }

  /** Inserts a new container; conflict when the name is taken. */
  insert(rec: ContainerRecord): void {
    try {
      this.stmts.insert.run(rec.id, rec.name, rec.created, JSON.stringify(rec.spec), JSON.stringify(rec.state));
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' || (err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        const owner = this.stmts.nameOwner.get(rec.name);
        throw new EngineError(
          'conflict',
          `creating container storage: the container name "${rec.name}" is already in use by ${owner?.id ?? 'another container'}. You have to remove that container to be able to reuse that name: that name is already in use`,
          undefined,
          'that name is already in use',
        );
      }
      throw err;
    }
    const row = this.stmts.one.get(rec.id);
    if (row) this.cache(row);
  }

  /**
   * Read-modify-write of one container in a single immediate transaction: `fn` gets the current
   * record (fresh from the database) and returns the new one, or undefined to change nothing.
   * Returns the record after the call (undefined if the container is gone).
   */
  mutate(id: string, fn: (rec: ContainerRecord) => ContainerRecord | undefined): ContainerRecord | undefined {
    const tx = this.db.transaction((): ContainerRecord | undefined => {
      const row = this.stmts.one.get(id);
      if (!row) return undefined;
      const cur = this.cache(row);
      const next = fn(structuredClone(cur));
      if (!next) return cur;
      try {
        this.stmts.update.run(next.name, JSON.stringify(next.spec), JSON.stringify(next.state), id);
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new EngineError('conflict', `the container name "${next.name}" is already in use: that name is already in use`, undefined, 'that name is already in use');
        }
        throw err;
      }
      return this.cache(this.stmts.one.get(id)!);
    });
    const rec = tx.immediate();
    if (!rec) this.uncache(id);
    return rec;
  }

  /** Shorthand: changes the state fields in `patch` (whatever the current state is). */
  patchState(id: string, patch: Partial<ContainerState>): ContainerRecord | undefined {
    return this.mutate(id, (rec) => ({ ...rec, state: { ...rec.state, ...patch } }));
  }

  remove(id: string): void {
    this.db.transaction(() => {
      this.stmts.remove.run(id);
      this.stmts.execRemoveOf.run(id);
    }).immediate();
    this.uncache(id);
  }

  // Exec sessions: few, short-lived, always read from the database.

  putExec(rec: ExecRecord): void {
    this.stmts.execInsert.run(rec.id, rec.containerId, JSON.stringify(rec));
  }

  getExec(id: string): ExecRecord | undefined {
    const row = this.stmts.execGet.get(id);
    return row ? (JSON.parse(row.data) as ExecRecord) : undefined;
  }

  execsOf(containerId: string): ExecRecord[] {
    return this.stmts.execOf.all(containerId).map((r) => JSON.parse(r.data) as ExecRecord);
  }

  removeExec(id: string): void {
    this.stmts.execRemove.run(id);
  }

  /** Forgets every exec session of a container (they end with it). */
  removeExecsOf(containerId: string): void {
    this.stmts.execRemoveOf.run(containerId);
  }
}
