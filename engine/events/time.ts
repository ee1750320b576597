// Event timestamps: the clock events are stamped with, and parsing of the since/until values
// Docker and Podman clients send.
import { EngineError } from '../errors.js';

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;

// Wall clock anchored to the monotonic clock: Date.now() alone only has ms resolution, and
// several events stamped in the same ms must still be strictly ordered.
let anchorWallNs = BigInt(Date.now()) * NS_PER_MS;
let anchorHr = process.hrtime.bigint();
let lastNs = 0n;
// Re-anchor when the monotonic clock drifts this far from the wall clock (NTP steps, suspend).
const MAX_DRIFT_NS = 10n * NS_PER_MS;

/** Current Unix time in ns, strictly increasing within this process. */
export function eventClockNs(): bigint {
  const wall = BigInt(Date.now()) * NS_PER_MS;
  let ns = anchorWallNs + (process.hrtime.bigint() - anchorHr);
  const drift = ns - wall;
  if (drift > MAX_DRIFT_NS || drift < -MAX_DRIFT_NS) {
    anchorWallNs = wall;
    anchorHr = process.hrtime.bigint();
    ns = wall;
  }
  if (ns <= lastNs) ns = lastNs + 1n;
  lastNs = ns;
  return ns;
}

// Go's time.ParseDuration units, in ns.
const DURATION_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: NS_PER_MS,
  s: NS_PER_S,
  m: 60n * NS_PER_S,
  h: 3600n * NS_PER_S,
};
const DURATION_RE = /^([+-]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;
const DURATION_PART_RE = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/g;

/** Go duration (`1h30m`, `1.5s`, `-10m`) in ns, or undefined when `value` is not one. */
function parseGoDuration(value: string): bigint | undefined {
  const m = DURATION_RE.exec(value);
  if (!m) return undefined;
  let total = 0n;
  for (const [, whole, frac = '', unit] of m[2].matchAll(DURATION_PART_RE)) {
    const scale = DURATION_UNITS[unit];
    total += BigInt(whole || '0') * scale;
    if (frac) total += (BigInt(frac) * scale) / 10n ** BigInt(frac.length);
  }
  return m[1] === '-' ? -total : total;
}

// Seconds with an optional fraction: what `docker events --since` sends after parsing dates.
const UNIX_RE = /^(\d+)(?:\.(\d*))?$/;
// RFC 3339 and its common relaxations (date only, no seconds, space separator, no zone).
const DATE_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

function fractionToNs(frac: string | undefined): bigint {
  if (!frac) return 0n;
  // Beyond ns precision the digits are dropped, as Go does.
  return BigInt(frac.slice(0, 9).padEnd(9, '0'));
}

function parseDate(value: string): bigint | undefined {
  const m = DATE_RE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac, z, sign, oh, om] = m;
  const fields = [+y, +mo - 1, +d, +h, +mi, +s] as const;
  if (+mo < 1 || +mo > 12 || +d < 1 || +d > 31 || +h > 23 || +mi > 59 || +s > 59) return undefined;
  const zoned = Boolean(z || sign);
  // No zone: local time, like Docker's CLI.
  const date = zoned ? new Date(Date.UTC(...fields)) : new Date(...fields);
  // Reject dates the Date constructor silently rolled over (Feb 30 -> Mar 2).
  if (Number.isNaN(date.getTime()) || (zoned ? date.getUTCDate() : date.getDate()) !== +d) return undefined;
  let ms = date.getTime();
  if (sign) ms -= (+oh * 60 + +om) * (sign === '-' ? -1 : 1) * 60_000;
  return BigInt(ms) * NS_PER_MS + fractionToNs(frac);
}

/**
 * Parses a since/until value into Unix ns: Unix seconds (`1700000000`, `1700000000.123456789`),
 * RFC 3339 timestamps (with or without zone and fraction), or a Go duration meaning "that long
 * before `now`" (`10m`, `1h30m`). `now` is in ms, like Date.now().
 */
export function parseEventTime(value: string, now: number = Date.now()): bigint {
  const v = value.trim();
  const unix = UNIX_RE.exec(v);
  if (unix) return BigInt(unix[1]) * NS_PER_S + fractionToNs(unix[2]);
  const duration = parseGoDuration(v);
  if (duration !== undefined) return BigInt(Math.trunc(now)) * NS_PER_MS - duration;
  const date = parseDate(v);
  if (date !== undefined) return date;
  throw new EngineError(
    'invalid-argument',
    `invalid time value ${JSON.stringify(value)}: expected Unix seconds (1700000000[.123456789]), ` +
      'an RFC 3339 timestamp (2006-01-02T15:04:05Z) or a duration before now (10m, 1h30m)',
  );
}
