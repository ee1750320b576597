// Parsers for the small strings container options are written in: byte sizes ("512m"), signals,
// restart policies, bind specs ("/src:/dst:ro,z"), tmpfs options. Each throws invalid-argument
// naming the field it was given for.
import os from 'node:os';
import path from 'node:path';
import { EngineError } from '../errors.js';
import { parseSignal } from '../oci/runc.js';
import type { MountSpec, RestartPolicy, RestartPolicyName } from './types.js';

export const invalid = (field: string, message: string) =>
  new EngineError('invalid-argument', `invalid ${field}: ${message}`, undefined, 'invalid argument');

export type Obj = Record<string, unknown>;

/** A JSON object field of a create body (null or absent: empty). */
export const obj = (field: string, v: unknown): Obj => {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(field, 'expected an object');
  return v as Obj;
};

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };

/** Bytes from a number or a size string in binary units ("512m", "1.5g", "1024"). */
export function parseBytes(field: string, v: unknown): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || !Number.isInteger(v)) throw invalid(field, `${v} is not a whole number of bytes`);
    return v;
  }
  if (typeof v !== 'string') throw invalid(field, `expected a number of bytes or a size string, got ${JSON.stringify(v)}`);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw invalid(field, `invalid size: '${v}'`);
  return Math.trunc(Number(m[1]) * unit);
}

/** Optional non-negative integer field (null/undefined -> undefined). */
export function optInt(field: string, v: unknown, opts: { min?: number } = {}): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) v = Number(v);
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(field, `expected an integer, got ${JSON.stringify(v)}`);
  if (opts.min !== undefined && v < opts.min) throw invalid(field, `${v} is below the minimum ${opts.min}`);
  return v;
}

export function optString(field: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(field, `expected a string, got ${JSON.stringify(v)}`);
  return v;
}

export function stringList(field: string, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalid(field, 'expected a list of strings');
  return [...v];
}

/** null/undefined stays undefined (meaning "the image's"), a list is checked. */
export function optStringList(field: string, v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  return stringList(field, v);
}

export function stringMap(field: string, v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(field, 'expected an object of strings');
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') throw invalid(field, `value of ${JSON.stringify(k)} must be a string`);
    out[k] = x;
  }
  return out;
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(os.constants.signals).map(([name, n]) => [n, name]));

/** A signal number from a name or number; throws invalid-argument naming `field`. */
export function signalNumber(field: string, sig: string | number): number {
  try {
    return parseSignal(sig);
  } catch {
    throw invalid(field, `invalid signal: ${sig}`);
  }
}

/** "SIGTERM" for 15 (RTMIN+n for real-time signals). */
export function signalName(n: number): string {
  const name = SIGNAL_NAMES.get(n);
  if (name) return name;
  if (n >= 34 && n <= 64) return n - 34 <= 15 ? `SIGRTMIN+${n - 34}` : `SIGRTMAX-${64 - n}`;
  return String(n);
}

const POLICIES: RestartPolicyName[] = ['no', 'always', 'on-failure', 'unless-stopped'];

/** "on-failure:3", "always", "" (= no). */
export function parseRestartPolicy(field: string, name: string | undefined, retries?: number): RestartPolicy {
  let n = (name ?? '').trim();
  let max = retries ?? 0;
  const colon = n.indexOf(':');
  if (colon >= 0) {
    const count = n.slice(colon + 1);
    n = n.slice(0, colon);
    if (!/^\d+$/.test(count)) throw invalid(field, `invalid restart retry count "${count}"`);
    max = Number(count);
  }
  if (n === '') n = 'no';
  if (!POLICIES.includes(n as RestartPolicyName)) {
    throw invalid(field, `invalid restart policy "${n}": must be one of no, always, on-failure, unless-stopped`);
  }
  if (max < 0 || !Number.isInteger(max)) throw invalid(field, `invalid restart retry count ${max}`);
  if (max > 0 && n !== 'on-failure') throw invalid(field, 'restart retries can only be used with the on-failure restart policy');
  return { name: n as RestartPolicyName, maxRetries: max };
}

const PROPAGATIONS = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);

function checkDestination(field: string, d: string): string {
  if (!d) throw invalid(field, 'mount destination is empty');
  if (!path.isAbsolute(d)) throw invalid(field, `mount destination "${d}" is not an absolute path`);
  const n = path.posix.normalize(d);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/** Applies bind options ("ro", "rw", "z", "Z", propagation, "nosuid", ...) to `m`. */
function applyBindOptions(field: string, m: MountSpec, opts: string[]): void {
  for (const o of opts) {
    if (!o) continue;
    if (o === 'ro' || o === 'readonly') m.readonly = true;
    else if (o === 'rw') m.readonly = false;
    else if (o === 'z' || o === 'Z') m.relabel = o;
    else if (PROPAGATIONS.has(o)) m.propagation = o as MountSpec['propagation'];
    else if (o === 'bind') m.nonRecursive = true;
    else if (o === 'rbind') m.nonRecursive = false;
    else if (o === 'nocopy') m.nocopy = true;
    else if (['nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'copy', 'consistent', 'cached', 'delegated', 'U', 'O', 'idmap'].includes(o)) continue;
    else throw invalid(field, `invalid mount option "${o}"`);
  }
}

/**
 * A Binds / volumes entry: "/host:/ctr[:opts]" (bind), "name:/ctr[:opts]" (named volume),
 * "/ctr" (anonymous volume).
 */
export function parseBind(field: string, spec: string): MountSpec {
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p, i) => p === '' && i < parts.length)) {
    throw invalid(field, `invalid volume specification: '${spec}'`);
  }
  let source = '';
  let dest: string;
  let opts: string[] = [];
  if (parts.length === 1) dest = parts[0]!;
  else if (parts.length === 2) {
    // "/ctr:ro" is an anonymous volume with options only when the second part is not a path.
    if (!parts[1]!.startsWith('/') && parts[0]!.startsWith('/') && /^[a-zA-Z,]+$/.test(parts[1]!)) {
      dest = parts[0]!;
      opts = parts[1]!.split(',');
    } else {
      [source, dest] = parts as [string, string];
    }
  } else {
    [source, dest] = parts as [string, string];
    opts = parts[2]!.split(',');
  }
  const isPath = source.includes('/') || source.startsWith('.') || source.startsWith('~');
  if (source && isPath && !path.isAbsolute(source)) throw invalid(field, `bind mount source "${source}" must be an absolute path`);
  if (source && !isPath && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(source)) throw invalid(field, `invalid volume name "${source}"`);
  const m: MountSpec = {
    type: source && isPath ? 'bind' : 'volume',
    source: source && isPath ? path.posix.normalize(source) : source,
    destination: checkDestination(field, dest),
    readonly: false,
    options: opts.filter(Boolean),
    origin: 'binds',
  };
  applyBindOptions(field, m, opts);
  return m;
}

/** A Tmpfs map entry: destination -> "size=64m,mode=1777,noexec". */
export function parseTmpfs(field: string, dest: string, options: string): MountSpec {
  const m: MountSpec = { type: 'tmpfs', source: '', destination: checkDestination(field, dest), readonly: false, options: [], origin: 'tmpfs' };
  for (const o of options.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [k, v] = o.split('=', 2) as [string, string | undefined];
    if (k === 'size' && v !== undefined) m.tmpfsSize = parseBytes(`${field} size`, v);
    else if (k === 'mode' && v !== undefined) {
      if (!/^[0-7]{1,4}$/.test(v)) throw invalid(field, `invalid tmpfs mode "${v}"`);
      m.tmpfsMode = parseInt(v, 8);
    } else if (k === 'ro') m.readonly = true;
    else if (k === 'rw') m.readonly = false;
    else m.options.push(o);
  }
  return m;
}

/** Checks a destination path; exported for the Mounts objects of both APIs. */
export function mountDestination(field: string, d: unknown): string {
  if (typeof d !== 'string') throw invalid(field, 'mount destination must be a string');
  return checkDestination(field, d);
}

export { applyBindOptions };

/** Nanosecond durations may come as numbers or Go duration strings ("30s"). */
export function parseDurationNs(field: string, v: unknown): number {
  if (v === undefined || v === null || v === '') return 0;
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) throw invalid(field, `invalid duration ${v}`);
    return v;
  }
  if (typeof v !== 'string') throw invalid(field, `invalid duration ${JSON.stringify(v)}`);
  const units: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of v.matchAll(re)) {
    total += Number(m[1]) * units[m[2]!]!;
    consumed += m[0].length;
  }
  if (consumed !== v.length || consumed === 0) throw invalid(field, `invalid duration "${v}"`);
  return Math.round(total);
}
