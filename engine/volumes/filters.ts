// Volume list and prune filters, as Podman reads them: values of one key are OR-ed, except
// `label`, whose values must all match (Docker and Podman alike); keys are AND-ed. Unknown keys
// and malformed values fail before anything is listed or removed.
import { EngineError } from '../errors.js';
import { parseEventTime } from '../events/time.js';
import type { VolumeRecord } from './db.js';

export interface FilterContext {
  /** Every volume (for since/after, which name volumes). */
  records: VolumeRecord[];
  /** Whether a container uses the volume. */
  inUse(name: string): boolean;
}

export type VolumeFilter = (record: VolumeRecord) => boolean;

const LIST_KEYS = ['name', 'driver', 'scope', 'label', 'label!', 'opt', 'until', 'since', 'after', 'dangling', 'anonymous'];
const PRUNE_KEYS = ['label', 'label!', 'until', 'since', 'after', 'anonymous', 'all'];

const invalid = (message: string) => new EngineError('invalid-argument', message);

function regexOrLiteral(value: string): (s: string) => boolean {
  try {
    const re = new RegExp(value);
    return (s) => re.test(s);
  } catch {
    return (s) => s.includes(value);
  }
}

function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/** Podman's label match: every `key` or `key=value` must be present (keys may be globs). */
export function matchLabels(values: string[], labels: Record<string, string>): boolean {
  return values.every((v) => {
    const eq = v.indexOf('=');
    const key = eq < 0 ? v : v.slice(0, eq);
    const value = eq < 0 ? undefined : v.slice(eq + 1);
    const keyRe = /[*?]/.test(key) ? glob(key) : undefined;
    return Object.entries(labels).some(([k, lv]) => (keyRe ? keyRe.test(k) : k === key) && (value === undefined || value === '' || lv === value));
  });
}

function bool(key: string, v: string): boolean {
  switch (v.toLowerCase()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      throw invalid(`${JSON.stringify(v)} is not a valid value for the ${JSON.stringify(key)} filter: must be true or false`);
  }
}

function compileOne(key: string, values: string[], ctx: FilterContext): VolumeFilter {
  switch (key) {
    case 'name': {
      const matchers = values.map(regexOrLiteral);
      return (r) => matchers.some((m) => m(r.name));
    }
    case 'driver':
      return (r) => values.includes(r.driver);
    case 'scope':
      return () => values.includes('local');
    case 'label':
      return (r) => matchLabels(values, r.labels);
    case 'label!':
      return (r) => !matchLabels(values, r.labels);
    case 'opt':
      return (r) =>
        values.some((v) => {
          const eq = v.indexOf('=');
          const k = eq < 0 ? v : v.slice(0, eq);
          const want = eq < 0 ? '' : v.slice(eq + 1);
          return Object.entries(r.options).some(([ok, ov]) => ok === k && (want === '' || ov === want));
        });
    case 'until': {
      if (values.length !== 1) throw invalid('specify exactly one timestamp for the "until" filter');
      const until = parseEventTime(values[0]!);
      return (r) => BigInt(r.createdNs) < until;
    }
    case 'since':
    case 'after': {
      let since: bigint | undefined;
      for (const name of values) {
        const ref = ctx.records.find((r) => r.name === name);
        if (!ref) throw new EngineError('not-found', `no volume with name ${JSON.stringify(name)} found: no such volume`, undefined, 'no such volume');
        const ns = BigInt(ref.createdNs);
        if (since === undefined || ns < since) since = ns;
      }
      return (r) => since === undefined || BigInt(r.createdNs) > since;
    }
    case 'dangling': {
      const wanted = values.map((v) => bool(key, v));
      return (r) => wanted.includes(!ctx.inUse(r.name));
    }
    case 'anonymous': {
      const wanted = values.map((v) => bool(key, v));
      return (r) => wanted.includes(r.anonymous);
    }
    case 'all':
      values.forEach((v) => bool(key, v));
      return () => true;
    default:
      throw invalid(`${JSON.stringify(key)} is an invalid volume filter`);
  }
}

/** One predicate for all the filters; `kind` picks the keys allowed (prune takes fewer). */
export function compileVolumeFilters(filters: Record<string, string[]>, kind: 'list' | 'prune', ctx: FilterContext): VolumeFilter {
  const allowed = kind === 'list' ? LIST_KEYS : PRUNE_KEYS;
  const checks: VolumeFilter[] = [];
  for (const [key, values] of Object.entries(filters)) {
    if (!allowed.includes(key)) throw invalid(`${JSON.stringify(key)} is an invalid volume ${kind === 'prune' ? 'prune ' : ''}filter`);
    if (values.length === 0) continue;
    checks.push(compileOne(key, values, ctx));
  }
  return (r) => checks.every((c) => c(r));
}
