// From what a client typed to the registry references to try.
//
// Docker-compatible API: short names are docker.io names ("busybox" → docker.io/library/busybox).
// Libpod API: a short name resolves through the [aliases] of registries.conf, else through each
// unqualified-search registry in order; a reference naming a registry is used as is.
import { type RegistriesConf, shortNameCandidates } from '../config/registries-conf.js';
import { EngineError } from '../errors.js';
import { DEFAULT_REGISTRY, formatReference, type ImageReference, normalizePullReference, parseReference, type ParsedReference } from '../images/reference.js';

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

/** A name as c/image's reference.ParseNormalizedNamed gives it: docker.io gets library/, no tag is added. */
function normalizedName(r: ParsedReference & { domain: string }): string {
  const domain = r.domain === 'index.docker.io' ? DEFAULT_REGISTRY : r.domain;
  const path = domain === DEFAULT_REGISTRY && !r.path.includes('/') ? `library/${r.path}` : r.path;
  return `${domain}/${path}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/**
 * What a (short) name resolves to, as Podman's /libpod/images/{name}/resolve answers it
 * (c/image shortnames.Resolve with short-name-mode "disabled", so never a prompt or an
 * enforcing error): a name with a registry is itself; a short name is its alias, else one
 * candidate per unqualified-search registry. Unlike pull candidates no ":latest" is added: the
 * names are the user's input, qualified. Throws invalid-argument for a bad name and for a short
 * name nothing resolves.
 */
export function resolveShortName(name: string, conf: RegistriesConf): string[] {
  const fail = (detail: string) => new EngineError('invalid-argument', `resolving ${JSON.stringify(name)}: ${detail}`);
  let parsed: ParsedReference;
  try {
    parsed = parseReference(name);
  } catch (e) {
    throw fail(`cannot parse input: ${JSON.stringify(name)}: ${(e as Error).message}`);
  }
  if (parsed.domain !== undefined) return [normalizedName({ ...parsed, domain: parsed.domain })];
  const alias = conf.aliases[parsed.path];
  const suffix = { tag: parsed.tag, digest: parsed.digest };
  const withSuffix = (full: string, what: string): string => {
    let p: ParsedReference;
    try {
      p = parseReference(full);
    } catch {
      throw fail(`registries.conf: ${what} ${JSON.stringify(full)} is not a valid reference`);
    }
    if (p.domain === undefined) throw fail(`registries.conf: ${what} ${JSON.stringify(full)} names no registry`);
    return normalizedName({ domain: p.domain, path: p.path, ...(suffix.tag ? { tag: suffix.tag } : {}), ...(suffix.digest ? { digest: suffix.digest } : {}) });
  };
  if (alias) return [withSuffix(alias, 'alias')];
  if (conf.unqualifiedSearchRegistries.length === 0) {
    const where = conf.files.length ? `in ${JSON.stringify(conf.files[conf.files.length - 1])}` : 'and no containers-registries.conf(5) was found';
    throw fail(`short-name ${JSON.stringify(name)} did not resolve to an alias and no unqualified-search registries are defined ${where}`);
  }
  return conf.unqualifiedSearchRegistries.map((r) => withSuffix(`${r}/${parsed.path}`, 'search registry'));
}
