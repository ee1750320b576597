// Docker/Podman event filters. Values of one key are OR-ed, keys are AND-ed.
import { EngineError } from '../errors.js';
import type { EngineEvent } from './types.js';

type ValueMatcher = (event: EngineEvent, value: string) => boolean;

/** Name, or ID prefix (short IDs), of an object of the given event type. */
const nameOrIdPrefix =
  (...types: EngineEvent['type'][]): ValueMatcher =>
  (e, v) =>
    types.includes(e.type) && (e.name === v || e.id.startsWith(v));

/** `docker.io/library/alpine:3.20` -> `docker.io/library/alpine`; digests are dropped too. */
function stripTag(ref: string): string {
  const at = ref.indexOf('@');
  const bare = at >= 0 ? ref.slice(0, at) : ref;
  const colon = bare.lastIndexOf(':');
  return colon > bare.lastIndexOf('/') ? bare.slice(0, colon) : bare;
}

// `alpine`, `alpine:latest` and `library/alpine` all name `docker.io/library/alpine:latest`:
// the value must equal the reference (tag optional) or be a trailing run of its path components.
function refMatches(ref: string | undefined, value: string): boolean {
  if (!ref || !value) return false;
  if (ref === value) return true;
  const bare = stripTag(ref);
  return bare === value || ref.endsWith('/' + value) || bare.endsWith('/' + value);
}

const stripDigestAlgo = (id: string) => (id.startsWith('sha256:') ? id.slice(7) : id);

const matchImage: ValueMatcher = (e, v) =>
  refMatches(e.image, v) ||
  (e.type === 'image' && (refMatches(e.name, v) || (v !== '' && stripDigestAlgo(e.id).startsWith(stripDigestAlgo(v)))));

const splitLabel = (v: string): [string, string | undefined] => {
  const eq = v.indexOf('=');
  return eq < 0 ? [v, undefined] : [v.slice(0, eq), v.slice(eq + 1)];
};

const matchLabel: ValueMatcher = (e, v) => {
  const [key, value] = splitLabel(v);
  if (!Object.hasOwn(e.attributes, key)) return false;
  return value === undefined || e.attributes[key] === value;
};

const MATCHERS: Record<string, ValueMatcher> = {
  type: (e, v) => e.type === v,
  // Docker's `health_status` and `exec_start` actions carry a suffix (`exec_start: sh -c ...`),
  // so the bare action name matches them too.
  event: (e, v) => e.action === v || (e.action.startsWith(v) && e.action.charCodeAt(v.length) === 0x3a),
  // Exec events are about a container: their id/name are the container's.
  container: nameOrIdPrefix('container', 'exec'),
  image: matchImage,
  volume: nameOrIdPrefix('volume'),
  network: nameOrIdPrefix('network'),
  pod: nameOrIdPrefix('pod'),
  label: matchLabel,
};

/** The string every stored line matching `value` of filter `key` must contain. */
const NEEDLES: Record<string, (value: string) => string> = {
  image: stripDigestAlgo,
  label: (v) => splitLabel(v)[0],
};

export interface CompiledFilters {
  /** Whether the event passes every filter. */
  match(event: EngineEvent): boolean;
  /**
   * Cheap pre-check on a stored JSON line: false means the event cannot match, so the line
   * need not be parsed. True means "maybe".
   */
  mightMatch(line: string): boolean;
}

/** Validates the filters once (unknown keys throw) and returns a reusable matcher. */
export function compileFilters(filters: Record<string, string[]>): CompiledFilters {
  const checks: Array<{ matcher: ValueMatcher; values: string[] }> = [];
  const needleGroups: string[][] = [];
  for (const [key, values] of Object.entries(filters)) {
    const matcher = MATCHERS[key];
    if (!matcher) {
      throw new EngineError(
        'invalid-argument',
        `invalid filter ${JSON.stringify(key)} for events: supported filters are ${Object.keys(MATCHERS).join(', ')}`,
      );
    }
    if (values.length === 0) continue;
    checks.push({ matcher, values });
    const needles = values.map(NEEDLES[key] ?? ((v: string) => v));
    // A needle is only found verbatim in the JSON line when JSON.stringify leaves it unescaped.
    if (needles.every((n) => JSON.stringify(n) === `"${n}"`)) needleGroups.push(needles);
  }
  return {
    match: (event) => checks.every(({ matcher, values }) => values.some((v) => matcher(event, v))),
    mightMatch: (line) => needleGroups.every((needles) => needles.some((n) => line.includes(n))),
  };
}

/** Whether `event` passes `filters`. Throws EngineError('invalid-argument') on unknown keys. */
export function matchesFilters(event: EngineEvent, filters: Record<string, string[]>): boolean {
  return compileFilters(filters).match(event);
}
