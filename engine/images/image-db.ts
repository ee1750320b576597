// Persistent image records: one SQLite database under <storage root>/images/images.db, one row
// per image holding its record as JSON. SQLite (WAL) makes every change atomic and lets other
// tspod processes (cleanup processes, a second service on the same root) read while the service
// writes; writers serialise on its lock. The records are cached in memory and re-read only when
// PRAGMA data_version says another connection committed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { openDatabase } from '../sqlite.js';

/** A layer of an image: its DiffID, chain ID, and the blob it is kept as (for save and push). */
export interface ImageLayerRef {
  diffID: string;
  chainID: string;
  /** The blob in the blob store this layer came from (compressed or not); absent if not kept. */
  blob?: { digest: string; mediaType: string; size: number };
}

export interface ImageRecord {
  /** Hex sha256 of the config blob. */
  id: string;
  /** Full names: "docker.io/library/busybox:latest", possibly "repo@sha256:..." for digest pulls. */
  names: string[];
  /** Manifest digests this image is known by; the first is the stored manifest's. */
  digests: string[];
  /** Every name the image ever had, most recent first (Podman's NamesHistory). */
  namesHistory: string[];
  /** The config's `created` (RFC 3339), or the time it was stored when the config has none. */
  created: string;
  /** When it was stored here. */
  stored: string;
  lastTagTime?: string;
  manifest: { digest: string; mediaType: string; size: number };
  config: { digest: string; size: number };
  layers: ImageLayerRef[];
  /** Bytes of the unpacked layers (sum of the layer sizes). */
  size: number;
  architecture: string;
  os: string;
  variant?: string;
  labels: Record<string, string>;
  /**
   * Cumulative fingerprints of the config's history entries (entry i covers entries 0..i): an
   * image is another's parent when its chain is a prefix of the other's (Podman's rule).
   */
  historyChain: string[];
  readOnly?: boolean;
}


export class ImageDb {
  private readonly db: BetterSqlite3.Database;
  private readonly stmts: {
    all: BetterSqlite3.Statement<[], { record: string }>;
    put: BetterSqlite3.Statement<[string, string]>;
    del: BetterSqlite3.Statement<[string]>;
    version: BetterSqlite3.Statement<[], number>;
  };
  private cache = new Map<string, ImageRecord>();
  private seenVersion = -1;
  /** Bumped on every change this process sees (its own writes and reloads). */
  generation = 0;

  private constructor(readonly file: string) {
    this.db = openDatabase(file, { timeout: 10_000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS images (id TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL) WITHOUT ROWID');
    this.stmts = {
      all: this.db.prepare('SELECT record FROM images'),
      put: this.db.prepare('INSERT OR REPLACE INTO images (id, record) VALUES (?, ?)'),
      del: this.db.prepare('DELETE FROM images WHERE id = ?'),
      version: this.db.prepare('PRAGMA data_version').pluck() as unknown as BetterSqlite3.Statement<[], number>,
    };
  }

  static open(storageRoot: string): ImageDb {
    const dir = path.join(path.resolve(storageRoot), 'images');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new ImageDb(path.join(dir, 'images.db'));
  }

  /** Re-reads the records when another connection changed them. */
  private refresh(): void {
    const v = this.stmts.version.get() as number;
    if (v === this.seenVersion) return;
    const next = new Map<string, ImageRecord>();
    for (const row of this.stmts.all.all()) {
      try {
        const rec = JSON.parse(row.record) as ImageRecord;
        next.set(rec.id, rec);
      } catch {
        /* a corrupt row: skipped (it can still be overwritten or removed) */
      }
    }
    this.cache = next;
    this.seenVersion = v;
    this.generation++;
  }

  /** Every record (cached; do not modify them). */
  all(): Map<string, ImageRecord> {
    this.refresh();
    return this.cache;
  }

  /**
   * Runs `fn` in a write transaction on fresh records; the records it returns are written,
   * the IDs it lists removed, atomically.
   */
  update<T>(fn: (records: Map<string, ImageRecord>) => { put?: ImageRecord[]; remove?: string[]; result: T }): T {
    const tx = this.db.transaction(() => {
      this.refresh();
      const out = fn(this.cache);
      for (const rec of out.put ?? []) this.stmts.put.run(rec.id, JSON.stringify(rec));
      for (const id of out.remove ?? []) this.stmts.del.run(id);
      return out;
    });
    const out = tx.immediate();
    for (const id of out.remove ?? []) this.cache.delete(id);
    for (const rec of out.put ?? []) this.cache.set(rec.id, rec);
    this.generation++;
    return out.result;
  }

  close(): void {
    this.db.close();
  }
}
