// Network list and prune filters (Docker's and Podman's keys). Pure.
import { EngineError } from '../errors.js';
import { parseEventTime } from '../events/time.js';
import type { NetworkConfig } from './types.js';

export interface FilterSubject {
  network: NetworkConfig;
  isDefault: boolean;
  inUse: boolean;
  /** Name shown on the API asked (compat shows the default network as "bridge"). */
  shownName: string;
}

const LIST_KEYS = new Set(['name', 'id', 'driver', 'label', 'label!', 'dangling', 'type', 'until', 'scope']);
const PRUNE_KEYS = new Set(['label', 'label!', 'until']);

function labelMatch(labels: Record<string, string> | undefined, spec: string): boolean {
  const eq = spec.indexOf('=');
  const key = eq < 0 ? spec : spec.slice(0, eq);
  if (!labels || !(key in labels)) return false;
  return eq < 0 || labels[key] === spec.slice(eq + 1);
}

function boolValue(key: string, v: string): boolean {
  if (['true', '1'].includes(v.toLowerCase())) return true;
  if (['false', '0'].includes(v.toLowerCase())) return false;
  throw new EngineError('invalid-argument', `invalid filter "${key}=${v}": expected true or false`);
}

/** A predicate for the filters; throws invalid-argument for unknown keys or bad values. */
export function compileNetworkFilters(filters: Record<string, string[]>, kind: 'list' | 'prune'): (s: FilterSubject) => boolean {
  const allowed = kind === 'list' ? LIST_KEYS : PRUNE_KEYS;
  const checks: Array<(s: FilterSubject) => boolean> = [];
  for (const [key, values] of Object.entries(filters)) {
    if (!allowed.has(key)) throw new EngineError('invalid-argument', `invalid filter "${key}"`);
    if (values.length === 0) continue;
    switch (key) {
      case 'name': {
        const res = values.map((v) => {
          try {
            return new RegExp(v);
          } catch {
            throw new EngineError('invalid-argument', `invalid name filter "${v}"`);
          }
        });
        checks.push((s) => res.some((re) => re.test(s.shownName) || re.test(s.network.name)));
        break;
      }
      case 'id':
        checks.push((s) => values.some((v) => s.network.id.startsWith(v)));
        break;
      case 'driver':
        checks.push((s) => values.includes(s.network.driver));
        break;
      case 'scope':
        checks.push(() => values.includes('local'));
        break;
      case 'label':
        checks.push((s) => values.every((v) => labelMatch(s.network.labels, v)));
        break;
      case 'label!':
        checks.push((s) => values.every((v) => !labelMatch(s.network.labels, v)));
        break;
      case 'dangling': {
        const want = values.map((v) => boolValue(key, v));
        checks.push((s) => want.some((w) => w === !s.inUse));
        break;
      }
      case 'type': {
        for (const v of values) if (v !== 'custom' && v !== 'builtin') throw new EngineError('invalid-argument', `invalid filter "type=${v}": expected custom or builtin`);
        checks.push((s) => values.includes(s.isDefault ? 'builtin' : 'custom'));
        break;
      }
      case 'until': {
        const limits = values.map((v) => parseEventTime(v));
        checks.push((s) => limits.every((ns) => createdNs(s.network.created) <= ns));
        break;
      }
    }
  }
  return (s) => checks.every((c) => c(s));
}

export function createdNs(created: string): bigint {
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(created);
  if (!m) return BigInt(Date.parse(created) || 0) * 1_000_000n;
  return BigInt(Date.parse(`${m[1]}${m[3]}`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}
