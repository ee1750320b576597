// Image references: parsing and normalisation as Podman does them.
//
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [ domain "/" ] path-component { "/" path-component }     (at most 255 chars)
//   domain    := host [ ":" port ]; host a DNS name (components of [A-Za-z0-9-], not starting or
//                ending with "-") or a bracketed IPv6 address
//   path-component := [a-z0-9]+ { separator [a-z0-9]+ }, separator one of . _ __ -+
//   tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//   digest    := algorithm ":" hex (sha256: 64, sha384: 96, sha512: 128 lowercase hex digits)
//
// The first component is the registry only when it looks like a host: it contains "." or ":",
// or is "localhost". Otherwise the name is short (unqualified): pulls resolve it to docker.io,
// adding "library/" to single-component names; locally created images (tag, commit, import,
// build) get "localhost/". A reference with neither tag nor digest means the tag "latest".
import { EngineError } from '../errors.js';

export const DEFAULT_REGISTRY = 'docker.io';
export const LOCAL_REGISTRY = 'localhost';
export const DEFAULT_TAG = 'latest';

/** A parsed reference, as written (no defaults applied). */
export interface ParsedReference {
  /** Registry host[:port] when the reference names one. */
  domain?: string;
  /** Repository path within the registry ("library/busybox", "busybox"). */
  path: string;
  tag?: string;
  digest?: string;
}

/** A fully qualified reference: registry, repository path, and tag and/or digest. */
export interface ImageReference {
  domain: string;
  path: string;
  tag?: string;
  digest?: string;
}

const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|-+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const PATH_RE = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(`^(?:${domainComponent}(?:\\.${domainComponent})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`);
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST_RE = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([0-9a-zA-Z]+)$/;
const DIGEST_HEX: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const NAME_MAX = 255;

const invalid = (detail?: string) => new EngineError('invalid-argument', detail ? `invalid reference format: ${detail}` : 'invalid reference format');

/** Whether a name's first component is a registry host (contains "." or ":", or is "localhost"). */
export function isDomainComponent(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === LOCAL_REGISTRY;
}

/** Splits `s` into name, tag and digest, validating each. Throws EngineError('invalid-argument'). */
export function parseReference(s: string): ParsedReference {
  if (typeof s !== 'string' || s === '') throw invalid('repository name must have at least one component');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const m = DIGEST_RE.exec(digest);
    if (!m) throw invalid('invalid digest format');
    const want = DIGEST_HEX[m[1]!];
    if (want === undefined) throw invalid(`unsupported digest algorithm ${m[1]}`);
    if (m[2]!.length !== want || !/^[0-9a-f]+$/.test(m[2]!)) throw invalid('invalid checksum digest format');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw invalid(tag === '' ? undefined : 'invalid tag format');
  }
  const name = rest;
  if (name === '') throw invalid('repository name must have at least one component');
  if (name.length > NAME_MAX) throw invalid(`repository name must not be more than ${NAME_MAX} characters`);
  let domain: string | undefined;
  let path = name;
  const slash = name.indexOf('/');
  if (slash !== -1 && isDomainComponent(name.slice(0, slash))) {
    domain = name.slice(0, slash);
    path = name.slice(slash + 1);
    if (!DOMAIN_RE.test(domain)) throw invalid();
  }
  if (!PATH_RE.test(path)) {
    if (PATH_RE.test(path.toLowerCase())) throw invalid('repository name must be lowercase');
    throw invalid();
  }
  const out: ParsedReference = { path };
  if (domain !== undefined) out.domain = domain;
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

function qualify(r: ParsedReference, defaultDomain: string, dropTagWhenDigested: boolean): ImageReference {
  let domain = r.domain ?? defaultDomain;
  if (domain === 'index.docker.io' || domain === 'registry-1.docker.io') domain = DEFAULT_REGISTRY;
  let path = r.path;
  if (domain === DEFAULT_REGISTRY && !path.includes('/')) path = `library/${path}`;
  if (r.domain === undefined && /^[a-f0-9]{64}$/.test(r.path)) {
    throw invalid(`invalid repository name (${r.path}), cannot specify 64-byte hexadecimal strings`);
  }
  const out: ImageReference = { domain, path };
  if (r.digest) {
    out.digest = r.digest;
    if (r.tag && !dropTagWhenDigested) out.tag = r.tag;
  } else {
    out.tag = r.tag ?? DEFAULT_TAG;
  }
  return out;
}

/**
 * A reference to pull, as the Docker-compatible API resolves it: short names on docker.io
 * (`busybox` → `docker.io/library/busybox:latest`). A tag beside a digest is dropped: the
 * digest decides. (Registry search lists for short names on the Libpod API are the caller's.)
 */
export function normalizePullReference(s: string): ImageReference {
  return qualify(parseReference(s), DEFAULT_REGISTRY, true);
}

/**
 * A name for an image created here (tag, commit, import, build): short names go under
 * `localhost/` (`myimage` → `localhost/myimage:latest`); docker.io names get `library/` as on pulls.
 */
export function normalizeLocalReference(s: string): ImageReference {
  return qualify(parseReference(s), LOCAL_REGISTRY, false);
}

/** Whether the reference names no registry. */
export function isShortName(s: string): boolean {
  return parseReference(s).domain === undefined;
}

/** "domain/path". */
export function repositoryName(r: { domain: string; path: string }): string {
  return `${r.domain}/${r.path}`;
}

/** "domain/path[:tag][@digest]". */
export function formatReference(r: ImageReference): string {
  return `${repositoryName(r)}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** Docker's familiar form: docker.io and library/ dropped ("busybox:latest", "quay.io/x/y:1"). */
export function familiarName(r: ImageReference): string {
  let name = repositoryName(r);
  if (r.domain === DEFAULT_REGISTRY) name = r.path.startsWith('library/') && r.path.split('/').length === 2 ? r.path.slice(8) : r.path;
  return `${name}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** A full image ID: 64 lowercase hex digits, optionally "sha256:"-prefixed. */
export function isFullImageId(s: string): boolean {
  return /^(sha256:)?[0-9a-f]{64}$/.test(s);
}

/** Could be an ID prefix (lookups try it against IDs before names). */
export function isImageIdPrefix(s: string): boolean {
  return /^(sha256:)?[0-9a-f]{1,64}$/.test(s);
}
