// The `filters` query parameter: JSON, either Docker's map of sets {"label":{"a=b":true}} or
// Podman's map of lists {"label":["a=b"]}. Both become key -> values.
import { invalidArgument } from '../engine/errors.js';

export type Filters = Record<string, string[]>;

export function parseFilters(raw: string | undefined): Filters {
  if (raw === undefined || raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalidArgument(`invalid filters: not JSON: ${raw}`);
  }
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidArgument('invalid filters: expected a JSON object');
  const filters: Filters = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) filters[key] = value as string[];
    else if (value && typeof value === 'object' && !Array.isArray(value)) filters[key] = Object.entries(value).filter(([, on]) => on === true).map(([v]) => v);
    else if (typeof value === 'string') filters[key] = [value];
    else throw invalidArgument(`invalid filters: values of ${JSON.stringify(key)} must be a list or a set of strings`);
  }
  return filters;
}
