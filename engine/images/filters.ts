// Image list/prune filters as Podman's libimage applies them (Docker's are a subset):
//   dangling=true|false, intermediate=true|false, readonly=true|false, containers=true|false,
//   label=key[=value], label!=key[=value], before|since|after=image, until=time, reference=pattern,
//   id=prefix, digest=sha256:..., manifest=true|false.
// Values of one key are OR-ed (label and label! are AND-ed, as Podman does), keys AND-ed.
import { EngineError } from '../errors.js';
import { parseEventTime } from '../events/time.js';
import type { ImageRecord } from './image-db.js';
import { type ImageIndex, isDangling, isIntermediate } from './image-index.js';
import type { ImageStore } from './image-store.js';
import { splitName } from './image-store.js';
import { DEFAULT_REGISTRY } from './reference.js';

export type ImageFilter = (rec: ImageRecord) => boolean;

export interface FilterContext {
  store: ImageStore;
  index: ImageIndex;
  /** Container counts per image (for the containers filter). */
  containers: Map<string, string[]>;
}

const bad = (message: string) => new EngineError('invalid-argument', message);

function parseBool(key: string, v: string): boolean {
  if (/^(1|t|T|true|TRUE|True)$/.test(v)) return true;
  if (/^(0|f|F|false|FALSE|False)$/.test(v)) return false;
  throw bad(`invalid filter ${key}=${v}: expected true or false`);
}

/** Glob match as Go's path.Match: * and ? never match "/", [...] classes. */
export function globMatch(pattern: string, s: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end === -1) throw bad(`invalid reference filter ${JSON.stringify(pattern)}: unterminated [`);
      let cls = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) {
      re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(re + '$').test(s);
}

/** The forms a name can be matched in: full, and without docker.io/ and library/. */
function nameForms(repo: string): string[] {
  const forms = [repo];
  if (repo.startsWith(`${DEFAULT_REGISTRY}/`)) {
    const short = repo.slice(DEFAULT_REGISTRY.length + 1);
    forms.push(short);
    if (short.startsWith('library/') && short.split('/').length === 2) forms.push(short.slice(8));
  }
  return forms;
}

function referenceMatches(rec: ImageRecord, pattern: string): boolean {
  const at = pattern.indexOf('@');
  const slash = pattern.lastIndexOf('/');
  const colon = pattern.lastIndexOf(':');
  let repoPat = pattern;
  let tagPat: string | undefined;
  let digest: string | undefined;
  if (at !== -1) {
    repoPat = pattern.slice(0, at);
    digest = pattern.slice(at + 1);
  } else if (colon > slash) {
    repoPat = pattern.slice(0, colon);
    tagPat = pattern.slice(colon + 1);
  }
  for (const n of rec.names) {
    const parts = splitName(n);
    if (!parts) continue;
    if (!nameForms(parts.repo).some((f) => globMatch(repoPat, f) || (!repoPat.includes('/') && globMatch(repoPat, f.split('/').pop()!)))) continue;
    if (digest !== undefined) {
      if (rec.digests.includes(digest) || parts.digest === digest) return true;
      continue;
    }
    if (tagPat === undefined || (parts.tag !== undefined && globMatch(tagPat, parts.tag))) return true;
  }
  return false;
}

function labelMatches(rec: ImageRecord, spec: string): boolean {
  const eq = spec.indexOf('=');
  if (eq === -1) return Object.prototype.hasOwnProperty.call(rec.labels, spec);
  const key = spec.slice(0, eq);
  return Object.prototype.hasOwnProperty.call(rec.labels, key) && rec.labels[key] === spec.slice(eq + 1);
}

function timeOf(rec: ImageRecord): number {
  const t = Date.parse(rec.created);
  return Number.isNaN(t) ? 0 : t;
}

/**
 * Compiles filters (key → values) into one predicate. Unknown keys and bad values are
 * invalid-argument errors, raised here, before anything is listed or removed.
 */
export function compileImageFilters(filters: Record<string, string[]>, ctx: FilterContext): ImageFilter {
  const preds: ImageFilter[] = [];
  const any = (values: string[], f: (v: string) => ImageFilter) => {
    const fs = values.map(f);
    preds.push((r) => fs.some((p) => p(r)));
  };
  for (const [key, values] of Object.entries(filters)) {
    if (values.length === 0) continue;
    switch (key) {
      case 'dangling':
        any(values, (v) => {
          const want = parseBool(key, v);
          return (r) => isDangling(ctx.index, r) === want;
        });
        break;
      case 'intermediate':
        any(values, (v) => {
          const want = parseBool(key, v);
          return (r) => isIntermediate(ctx.index, r) === want;
        });
        break;
      case 'readonly':
        any(values, (v) => {
          const want = parseBool(key, v);
          return (r) => Boolean(r.readOnly) === want;
        });
        break;
      case 'containers':
        any(values, (v) => {
          if (v === 'external') return () => false;
          const want = parseBool(key, v);
          return (r) => (ctx.containers.get(r.id)?.length ?? 0) > 0 === want;
        });
        break;
      case 'label':
        for (const v of values) preds.push((r) => labelMatches(r, v));
        break;
      case 'label!':
        for (const v of values) preds.push((r) => !labelMatches(r, v));
        break;
      case 'before':
      case 'since':
      case 'after':
        any(values, (v) => {
          const other = ctx.store.lookup(v).record;
          const t = timeOf(other);
          return key === 'before' ? (r) => timeOf(r) < t : (r) => timeOf(r) > t;
        });
        break;
      case 'until':
        any(values, (v) => {
          let ns: bigint;
          try {
            ns = parseEventTime(v);
          } catch {
            throw bad(`invalid filter until=${v}: not a time`);
          }
          const ms = Number(ns / 1_000_000n);
          return (r) => timeOf(r) < ms;
        });
        break;
      case 'reference':
        any(values, (v) => (r) => referenceMatches(r, v));
        break;
      case 'id':
        any(values, (v) => {
          const hex = v.replace(/^sha256:/, '');
          return (r) => r.id.startsWith(hex);
        });
        break;
      case 'digest':
        any(values, (v) => (r) => r.digests.includes(v));
        break;
      case 'manifest':
        any(values, (v) => {
          const want = parseBool(key, v);
          return () => want === false;
        });
        break;
      default:
        throw bad(`unsupported image filter ${JSON.stringify(key)}`);
    }
  }
  return (r) => preds.every((p) => p(r));
}
