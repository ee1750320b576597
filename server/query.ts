// Normalises raw query strings before validation, the way Go clients and Podman expect:
// booleans as Go's strconv.ParseBool reads them (docker sends all=1, docker-py all=True),
// integers from their decimal text, repeated keys as arrays, unknown parameters dropped
// (podman-remote 4.x sends parameters the 5.1 spec no longer lists; Podman ignores them).

/** Per-parameter type from the generated route table: "boolean", "integer", "string", "array:string", ... */
export type QuerySpec = Record<string, string>;

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);
const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function convert(type: string, raw: string): unknown {
  switch (type) {
    case 'boolean':
      if (TRUE.has(raw)) return true;
      if (FALSE.has(raw)) return false;
      return raw; // left for the validator to reject with a clear message
    case 'integer':
      return INTEGER.test(raw) ? Number(raw) : raw;
    case 'number':
      return NUMBER.test(raw) ? Number(raw) : raw;
    default:
      return raw;
  }
}

export function normalizeQuery(spec: QuerySpec, search: URLSearchParams): Record<string, unknown> {
  const query: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(spec)) {
    if (!search.has(name)) continue;
    if (type.startsWith('array:')) {
      const itemType = type.slice(6);
      query[name] = search.getAll(name).map((v) => convert(itemType, v));
      continue;
    }
    const raw = search.get(name)!;
    // An empty value means "not given" to Go's form decoding (all= is all=false).
    if (raw === '' && type !== 'string') continue;
    query[name] = convert(type, raw);
  }
  return query;
}
