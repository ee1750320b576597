// Persistent volume state: one SQLite database (<storage root>/volumes.db, WAL) shared by the
// service and the short-lived cleanup processes that release a stopped container's volumes.
//
// - `volumes`: one row per volume, its record as JSON.
// - `holders`: who holds a mount of a volume now (a container, an export or import) and how many
//   times; the volume's mount count is their sum. Rows name the boot they were made in: after a
//   reboot every mount is gone, so rows of another boot are dropped when the database is opened.
//
// Writers go through write(): an in-process queue, then BEGIN IMMEDIATE (SQLite's write lock,
// which other processes wait for), the caller's work (which may await a mount or umount, so the
// count and the mount table change together), then COMMIT. Waiting for another process's lock
// is an async retry, never a blocking busy wait on the event loop. Reads use a second
// connection, which sees only committed state.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { openDatabase, WriteQueue } from '../sqlite.js';

export interface VolumeRecord {
  name: string;
  driver: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** RFC 3339 with nanoseconds, UTC. */
  created: string;
  /** Unix ns, decimal (for until/since comparisons). */
  createdNs: string;
  anonymous: boolean;
  /** The container an anonymous volume was made for. */
  owner?: string;
  uid: number;
  gid: number;
  needsCopyUp: boolean;
  needsChown: boolean;
  lockNumber: number;
}

export interface Holder {
  holder: string;
  count: number;
}

/** What a write transaction may do. Synchronous: it runs inside BEGIN IMMEDIATE ... COMMIT. */
export interface VolumeTx {
  get(name: string): VolumeRecord | undefined;
  put(record: VolumeRecord): void;
  delete(name: string): void;
  holders(name: string): Holder[];
  /** Adds one hold; returns the volume's new mount count. */
  addHolder(name: string, holder: string): number;
  /** Drops one hold (all of them with `all`); returns the new mount count, undefined when `holder` held none. */
  removeHolder(name: string, holder: string, all?: boolean): number | undefined;
  /** Volumes `holder` holds (with how many holds). */
  heldBy(holder: string): Holder[];
  nextLockNumber(): number;
}


function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}


export class VolumeDb {
  private readonly writer: BetterSqlite3.Database;
  private readonly reader: BetterSqlite3.Database;
  private readonly writes: WriteQueue;
  private readonly tx: VolumeTx;
  private readonly read: {
    all: BetterSqlite3.Statement<[], { record: string }>;
    get: BetterSqlite3.Statement<[string], { record: string }>;
    holders: BetterSqlite3.Statement<[], { volume: string; holder: string; count: number }>;
    count: BetterSqlite3.Statement<[], number>;
  };

  private constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.writer = openDatabase(file, { timeout: 10_000 });
    this.writer.pragma('journal_mode = WAL');
    this.writer.pragma('synchronous = NORMAL');
    this.writer.exec(`
      CREATE TABLE IF NOT EXISTS volumes (name TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS holders (volume TEXT NOT NULL, holder TEXT NOT NULL, count INTEGER NOT NULL, boot TEXT NOT NULL,
        PRIMARY KEY (volume, holder)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;`);
    const boot = bootId();
    this.writer.transaction(() => {
      this.writer.prepare('DELETE FROM holders WHERE boot <> ?').run(boot);
    }).immediate();
    this.writer.pragma('busy_timeout = 0'); // from here on, write() retries asynchronously
    this.reader = openDatabase(file, { timeout: 10_000, readonly: true });
    this.writes = new WriteQueue(this.writer, 'the volume database');
    this.read = {
      all: this.reader.prepare('SELECT record FROM volumes ORDER BY name'),
      get: this.reader.prepare('SELECT record FROM volumes WHERE name = ?'),
      holders: this.reader.prepare('SELECT volume, holder, count FROM holders'),
      count: this.reader.prepare('SELECT count(*) FROM volumes').pluck() as unknown as BetterSqlite3.Statement<[], number>,
    };
    const w = {
      get: this.writer.prepare<[string], { record: string }>('SELECT record FROM volumes WHERE name = ?'),
      put: this.writer.prepare<[string, string]>('INSERT OR REPLACE INTO volumes (name, record) VALUES (?, ?)'),
      del: this.writer.prepare<[string]>('DELETE FROM volumes WHERE name = ?'),
      delHolders: this.writer.prepare<[string]>('DELETE FROM holders WHERE volume = ?'),
      holders: this.writer.prepare<[string], Holder>('SELECT holder, count FROM holders WHERE volume = ? ORDER BY holder'),
      heldBy: this.writer.prepare<[string], Holder>('SELECT volume AS holder, count FROM holders WHERE holder = ?'),
      add: this.writer.prepare<[string, string, string]>(
        'INSERT INTO holders (volume, holder, count, boot) VALUES (?, ?, 1, ?) ON CONFLICT (volume, holder) DO UPDATE SET count = count + 1',
      ),
      one: this.writer.prepare<[string, string], { count: number }>('SELECT count FROM holders WHERE volume = ? AND holder = ?'),
      setCount: this.writer.prepare<[number, string, string]>('UPDATE holders SET count = ? WHERE volume = ? AND holder = ?'),
      drop: this.writer.prepare<[string, string]>('DELETE FROM holders WHERE volume = ? AND holder = ?'),
      total: this.writer.prepare<[string], number>('SELECT coalesce(sum(count), 0) FROM holders WHERE volume = ?').pluck() as unknown as BetterSqlite3.Statement<[string], number>,
      meta: this.writer.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: this.writer.prepare<[string, string]>('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
    };
    this.tx = {
      get: (name) => parse(w.get.get(name)?.record),
      put: (record) => void w.put.run(record.name, JSON.stringify(record)),
      delete: (name) => {
        w.del.run(name);
        w.delHolders.run(name);
      },
      holders: (name) => w.holders.all(name),
      addHolder: (name, holder) => {
        w.add.run(name, holder, boot);
        return w.total.get(name) ?? 0;
      },
      removeHolder: (name, holder, all = false) => {
        const row = w.one.get(name, holder);
        if (!row) return undefined;
        if (all || row.count <= 1) w.drop.run(name, holder);
        else w.setCount.run(row.count - 1, name, holder);
        return w.total.get(name) ?? 0;
      },
      heldBy: (holder) => w.heldBy.all(holder),
      nextLockNumber: () => {
        const n = Number(w.meta.get('nextLock')?.value ?? '0');
        w.setMeta.run('nextLock', String(n + 1));
        return n;
      },
    };
  }

  static open(file: string): VolumeDb {
    return new VolumeDb(file);
  }

  all(): VolumeRecord[] {
    return this.read.all.all().map((r) => parse(r.record)!);
  }

  get(name: string): VolumeRecord | undefined {
    return parse(this.read.get.get(name)?.record);
  }

  count(): number {
    return this.read.count.get() ?? 0;
  }

  /** volume -> its holders. */
  holders(): Map<string, Holder[]> {
    const out = new Map<string, Holder[]>();
    for (const r of this.read.holders.all()) {
      let list = out.get(r.volume);
      if (!list) out.set(r.volume, (list = []));
      list.push({ holder: r.holder, count: r.count });
    }
    return out;
  }

  /**
   * Runs `fn` holding the write lock (this process's queue, then SQLite's). A throw rolls back
   * everything `fn` wrote to the database; what it did on the host is its own to undo.
   */
  write<T>(fn: (tx: VolumeTx) => Promise<T> | T): Promise<T> {
    return this.writes.run(() => fn(this.tx));
  }

  close(): void {
    this.reader.close();
    this.writer.close();
  }
}

function parse(text: string | undefined): VolumeRecord | undefined {
  return text === undefined ? undefined : (JSON.parse(text) as VolumeRecord);
}
