// Opens SQLite databases with better-sqlite3, handing it its native addon: left to itself it
// finds the addon through the `bindings` package, which tries a dozen paths and parses a stack
// trace on first use (~2 ms of a cold start). The service's bundled pipeline carries
// better-sqlite3's JavaScript; the addon always stays a file of its own.
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';

let addon: object | null | undefined;

function nativeAddon(): object | null {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)('better-sqlite3/build/Release/better_sqlite3.node') as object;
    } catch {
      addon = null; // built elsewhere: better-sqlite3's own lookup finds it
    }
  }
  return addon;
}

export function openDatabase(file: string, options: Database.Options = {}): Database.Database {
  const native = nativeAddon();
  // (the addon object is accepted at run time; the types only know a path)
  return new Database(file, native ? { ...options, nativeBinding: native as unknown as string } : options);
}
