// Secret metadata: one SQLite database (<root>/secrets/secrets.db, WAL, 0600) shared by every
// tspod process on the same storage root. The data itself is not in it: the file driver keeps
// it in one file per secret (./file-driver.ts).
//
// Writes run in BEGIN IMMEDIATE (SQLite's write lock, which other processes wait for) through an
// in-process queue; waiting for another process's lock is an async retry, never a busy wait
// that blocks the event loop. The unique name column is what makes "name in use" exact across
// processes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { openDatabase, WriteQueue } from '../sqlite.js';

export interface SecretRecord {
  id: string;
  name: string;
  driver: string;
  driverOptions: Record<string, string>;
  labels: Record<string, string>;
  /** RFC 3339 with nanoseconds, UTC. */
  createdAt: string;
  updatedAt: string;
}

/** What a write transaction may do (synchronous: it runs inside BEGIN IMMEDIATE ... COMMIT). */
export interface SecretTx {
  byName(name: string): SecretRecord | undefined;
  byId(id: string): SecretRecord | undefined;
  insert(record: SecretRecord): void;
  delete(id: string): void;
  all(): SecretRecord[];
}


type Row = { record: string };

export class SecretDb {
  private readonly writer: BetterSqlite3.Database;
  private readonly reader: BetterSqlite3.Database;
  private readonly writes: WriteQueue;
  private readonly tx: SecretTx;
  private readonly read: { all: BetterSqlite3.Statement<[], Row>; count: BetterSqlite3.Statement<[], number> };

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // Created 0600 whatever the umask: names and labels are nobody else's business either.
    fs.closeSync(fs.openSync(file, 'a', 0o600));
    this.writer = openDatabase(file, { timeout: 10_000 });
    this.writer.pragma('journal_mode = WAL');
    this.writer.pragma('synchronous = NORMAL');
    this.writer.exec(
      'CREATE TABLE IF NOT EXISTS secrets (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL UNIQUE, record TEXT NOT NULL) WITHOUT ROWID;',
    );
    this.writer.pragma('busy_timeout = 0'); // from here on, write() retries asynchronously
    this.reader = openDatabase(file, { timeout: 10_000, readonly: true });
    this.writes = new WriteQueue(this.writer, 'the secrets database');
    this.read = {
      all: this.reader.prepare('SELECT record FROM secrets ORDER BY name'),
      count: this.reader.prepare('SELECT count(*) FROM secrets').pluck() as unknown as BetterSqlite3.Statement<[], number>,
    };
    const w = {
      byName: this.writer.prepare<[string], Row>('SELECT record FROM secrets WHERE name = ?'),
      byId: this.writer.prepare<[string], Row>('SELECT record FROM secrets WHERE id = ?'),
      insert: this.writer.prepare<[string, string, string]>('INSERT INTO secrets (id, name, record) VALUES (?, ?, ?)'),
      del: this.writer.prepare<[string]>('DELETE FROM secrets WHERE id = ?'),
      all: this.writer.prepare<[], Row>('SELECT record FROM secrets ORDER BY name'),
    };
    this.tx = {
      byName: (name) => parse(w.byName.get(name)),
      byId: (id) => parse(w.byId.get(id)),
      insert: (r) => void w.insert.run(r.id, r.name, JSON.stringify(r)),
      delete: (id) => void w.del.run(id),
      all: () => w.all.all().map((r) => parse(r)!),
    };
  }

  /** Every secret, by name (committed state). */
  all(): SecretRecord[] {
    return this.read.all.all().map((r) => parse(r)!);
  }

  count(): number {
    return this.read.count.get() ?? 0;
  }

  /** Runs `fn` holding the write lock; a throw rolls back what it wrote. */
  write<T>(fn: (tx: SecretTx) => T): Promise<T> {
    return this.writes.run(() => fn(this.tx));
  }

  close(): void {
    this.reader.close();
    this.writer.close();
  }
}

function parse(row: Row | undefined): SecretRecord | undefined {
  return row === undefined ? undefined : (JSON.parse(row.record) as SecretRecord);
}
