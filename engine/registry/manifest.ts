// Manifests: what kind a fetched manifest is, and which entry of a list fits a platform.
import { EngineError } from '../errors.js';
import { type Descriptor, type ImageManifest, type ManifestIndex, MediaType, type Platform } from './types.js';

/** The Accept header for manifest GETs: the formats tspod can pull. */
export const MANIFEST_ACCEPT = [MediaType.dockerManifestList, MediaType.ociIndex, MediaType.dockerManifest, MediaType.ociManifest].join(', ');

export type ParsedManifest =
  | { kind: 'image'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; index: ManifestIndex };

/** Parses a manifest by its Content-Type (or its own mediaType field when the header is generic). */
export function parseManifest(data: Buffer, contentType: string | undefined, what: string): ParsedManifest {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new EngineError('internal', `${what}: the manifest is not valid JSON`);
  }
  let mt = (contentType ?? '').split(';')[0]!.trim();
  if (!mt || mt === 'application/json' || mt === 'text/plain' || mt === 'application/octet-stream') {
    mt = typeof j['mediaType'] === 'string' ? (j['mediaType'] as string) : Array.isArray(j['manifests']) ? MediaType.ociIndex : j['config'] ? MediaType.ociManifest : '';
  }
  if (j['schemaVersion'] === 1 || mt === MediaType.dockerSchema1 || mt === MediaType.dockerSchema1Signed) {
    throw new EngineError('invalid-argument', `${what}: Docker schema 1 manifests are not supported`);
  }
  if (mt === MediaType.dockerManifestList || mt === MediaType.ociIndex) {
    if (!Array.isArray(j['manifests'])) throw new EngineError('internal', `${what}: the index has no manifests`);
    return { kind: 'index', mediaType: mt, index: j as unknown as ManifestIndex };
  }
  if (mt === MediaType.dockerManifest || mt === MediaType.ociManifest) {
    const m = j as unknown as ImageManifest;
    if (!m.config || typeof m.config.digest !== 'string' || !Array.isArray(m.layers)) throw new EngineError('internal', `${what}: the manifest has no config or layers`);
    return { kind: 'image', mediaType: mt, manifest: m };
  }
  throw new EngineError('invalid-argument', `${what}: unsupported manifest type ${JSON.stringify(mt)}`);
}

const ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', mips64el: 'mips64le', loong64: 'loong64' };

/** This host's platform, as image indexes name them. */
export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  const p: Platform = { os: 'linux', architecture };
  if (architecture === 'arm') {
    const v = (process.config.variables as Record<string, unknown>)['arm_version'];
    p.variant = `v${typeof v === 'string' || typeof v === 'number' ? v : '7'}`;
  }
  if (architecture === 'arm64') p.variant = 'v8';
  return p;
}

/** Normalises a platform the way containerd's platforms package does (aarch64 → arm64, ...). */
export function normalizePlatform(p: Partial<Platform>): Partial<Platform> {
  const out: Partial<Platform> = { ...p };
  const a = (p.architecture ?? '').toLowerCase();
  const aliases: Record<string, [string, string?]> = {
    x86_64: ['amd64'],
    'x86-64': ['amd64'],
    aarch64: ['arm64'],
    armhf: ['arm', 'v7'],
    armel: ['arm', 'v6'],
    i386: ['386'],
    i686: ['386'],
  };
  if (aliases[a]) {
    out.architecture = aliases[a]![0];
    if (aliases[a]![1] && !out.variant) out.variant = aliases[a]![1];
  } else if (a) out.architecture = a;
  if (out.os) out.os = out.os.toLowerCase();
  if (out.architecture === 'arm64' && (out.variant === 'v8' || out.variant === '8')) out.variant = undefined;
  if (out.architecture === 'amd64' && out.variant === 'v1') out.variant = undefined;
  if (out.variant === '') out.variant = undefined;
  return out;
}

/** Parses "os/arch[/variant]" (Docker's `platform` parameter). */
export function parsePlatform(s: string): Partial<Platform> {
  const parts = s.split('/').map((x) => x.trim());
  if (parts.length > 3 || parts.some((x) => x === '')) throw new EngineError('invalid-argument', `invalid platform ${JSON.stringify(s)}: expected os/arch[/variant]`);
  const p: Partial<Platform> = { os: parts[0] };
  if (parts[1]) p.architecture = parts[1];
  if (parts[2]) p.variant = parts[2];
  return p;
}

/** The wanted platform: the request's pieces, the rest from this host. */
export function wantedPlatform(req: Partial<Platform> | undefined): Platform {
  const host = hostPlatform();
  const r = normalizePlatform(req ?? {});
  const p: Platform = { os: r.os || host.os, architecture: r.architecture || host.architecture };
  if (r.variant) p.variant = r.variant;
  else if (!r.architecture || r.architecture === host.architecture) {
    if (host.variant) p.variant = host.variant;
  }
  return normalizePlatform(p) as Platform;
}

export function formatPlatform(p: Partial<Platform>): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Whether an image's platform satisfies the wanted one (a wanted variant must match). */
export function platformMatches(have: Partial<Platform>, want: Platform): boolean {
  const h = normalizePlatform(have);
  if ((h.os ?? '') !== want.os || (h.architecture ?? '') !== want.architecture) return false;
  if (want.variant && h.variant && h.variant !== want.variant) {
    // arm: a v7 host runs v6 and v5 images; prefer the exact one (see selectManifest).
    if (want.architecture !== 'arm') return false;
    return Number(h.variant.slice(1)) <= Number(want.variant.slice(1));
  }
  return true;
}

/** The entry of an index for a platform: an exact variant first, then a compatible one. */
export function selectManifest(index: ManifestIndex, want: Platform, what: string): Descriptor {
  const images = index.manifests.filter((d) => d.mediaType !== 'application/vnd.in-toto+json' && d.platform?.architecture !== 'unknown');
  const candidates = images.filter((d) => d.platform && platformMatches(d.platform, want));
  const exact = candidates.find((d) => (normalizePlatform(d.platform!).variant ?? '') === (want.variant ?? ''));
  const best = exact ?? candidates.sort((a, b) => (b.platform?.variant ?? '').localeCompare(a.platform?.variant ?? ''))[0];
  if (!best) {
    const have = images.map((d) => formatPlatform(d.platform ?? {})).filter(Boolean);
    throw new EngineError('not-found', `${what}: no image found in manifest list for architecture ${want.architecture}, variant ${JSON.stringify(want.variant ?? '')}, OS ${want.os}${have.length ? ` (available: ${have.join(', ')})` : ''}`);
  }
  return best;
}

/** Media types of layers tspod can unpack. */
export function isLayerMediaType(mt: string): boolean {
  return (
    mt === MediaType.dockerLayerGzip ||
    mt === MediaType.dockerForeignLayerGzip ||
    mt === MediaType.ociLayer ||
    mt === MediaType.ociLayerGzip ||
    mt === MediaType.ociLayerZstd ||
    mt === MediaType.ociLayerNondistributableGzip ||
    mt === 'application/vnd.oci.image.layer.nondistributable.v1.tar' ||
    mt === 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd' ||
    mt === 'application/vnd.docker.image.rootfs.diff.tar'
  );
}
