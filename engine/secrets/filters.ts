// Secret list filters, as Podman reads them: `name` and `id`, each value a regular expression
// (values of one key OR-ed; a value that is no valid expression matches nothing). Keys are
// AND-ed (Podman 5 lets the last key decide, a bug not worth copying). Any other key is refused
// before anything is listed.
import { EngineError } from '../errors.js';
import type { SecretRecord } from './db.js';

function matcher(values: string[]): (s: string) => boolean {
  const res = values.flatMap((v) => {
    try {
      return [new RegExp(v)];
    } catch {
      return [];
    }
  });
  return (s) => res.some((re) => re.test(s));
}

export function compileSecretFilters(filters: Record<string, string[]>): (r: SecretRecord) => boolean {
  const tests: Array<(r: SecretRecord) => boolean> = [];
  for (const [key, values] of Object.entries(filters)) {
    const m = matcher(values);
    switch (key.toLowerCase()) {
      case 'name':
        tests.push((r) => m(r.name));
        break;
      case 'id':
        tests.push((r) => m(r.id));
        break;
      default:
        throw new EngineError('invalid-argument', `invalid filter ${JSON.stringify(key)}`, undefined, 'invalid filter');
    }
  }
  return (r) => tests.every((t) => t(r));
}
