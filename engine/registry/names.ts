// From what a client typed to the registry references to try.
//
// Docker-compatible API: short names are docker.io names ("busybox" → docker.io/library/busybox).
// Libpod API: a short name resolves through the [aliases] of registries.conf, else through each
// unqualified-search registry in order; a reference naming a registry is used as is.
import { type RegistriesConf, shortNameCandidates } from '../config/registries-conf.js';
import { EngineError } from '../errors.js';
import { formatReference, type ImageReference, normalizePullReference, parseReference } from '../images/reference.js';

/** Candidates for a pull, in the order to try them. */
export function pullCandidates(reference: string, mode: 'docker' | 'libpod', conf: RegistriesConf): ImageReference[] {
  const trimmed = reference.replace(/^docker:\/\//, '');
  if (mode === 'docker') return [normalizePullReference(trimmed)];
  const parsed = parseReference(trimmed);
  if (parsed.domain !== undefined) return [normalizePullReference(trimmed)];
  const { candidates, alias } = shortNameCandidates(conf, parsed.path);
  if (candidates.length === 0) {
    const files = conf.files.length ? conf.files.map((f) => JSON.stringify(f)).join(', ') : '"/etc/containers/registries.conf"';
    throw new EngineError(
      'invalid-argument',
      `short-name "${trimmed}" did not resolve to an alias and no unqualified-search registries are defined in ${files}`,
      undefined,
      'short-name resolution failed',
    );
  }
  const out: ImageReference[] = [];
  for (const c of candidates) {
    let full: ImageReference;
    try {
      const p = parseReference(c);
      // An alias may carry a tag of its own; the reference's tag or digest wins.
      full = normalizePullReference(`${p.domain ? `${p.domain}/` : ''}${p.path}${parsed.tag ? `:${parsed.tag}` : p.tag ? `:${p.tag}` : ''}${parsed.digest ? `@${parsed.digest}` : ''}`);
    } catch {
      throw new EngineError('invalid-argument', `registries.conf: ${alias ? 'alias' : 'search registry'} ${JSON.stringify(c)} is not a valid reference`);
    }
    if (!out.some((o) => formatReference(o) === formatReference(full))) out.push(full);
  }
  return out;
}
