// Image formats: OCI image spec and Docker schema 2 media types, manifests, indexes and
// configs, with the few conversions between them that load/save/import need.
import { EngineError } from '../errors.js';
import type { Compression } from '../storage/tar-reader.js';
import type { ImageRuntimeConfig } from './types.js';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANNOTATION_CONTAINERD_NAME = 'io.containerd.image.name';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

/** OCI image manifest or Docker schema 2 manifest (same shape). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** OCI image index or Docker manifest list. */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The image config blob (OCI, plus the Docker fields it may carry). */
export interface ImageConfigBlob {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  config?: ImageRuntimeConfig & { ArgsEscaped?: boolean; Hostname?: string; Domainname?: string; Image?: string };
  rootfs: { type: string; diff_ids: string[] };
  history?: HistoryEntry[];
  // Docker-only fields.
  container?: string;
  container_config?: Record<string, unknown>;
  docker_version?: string;
  comment?: string;
  parent?: string;
  [key: string]: unknown;
}

const bad = (what: string) => new EngineError('invalid-argument', what);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkDescriptor(d: unknown, where: string): Descriptor {
  if (!isObject(d) || typeof d.digest !== 'string' || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw bad(`${where}: invalid descriptor`);
  }
  if (!/^sha256:[0-9a-f]{64}$|^sha512:[0-9a-f]{128}$|^sha384:[0-9a-f]{96}$/.test(d.digest)) throw bad(`${where}: invalid digest ${JSON.stringify(d.digest)}`);
  return { ...(d as unknown as Descriptor), mediaType: typeof d.mediaType === 'string' ? d.mediaType : '' };
}

export function parseJson(data: Buffer | string, what: string): unknown {
  try {
    return JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch (e) {
    throw bad(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Whether a manifest blob is an index (OCI index or Docker list) rather than an image manifest. */
export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MT.ociIndex || mediaType === MT.dockerList;
}

/** Parses an image manifest (OCI or Docker schema 2); schema 1 is refused. */
export function parseManifest(data: Buffer, what = 'manifest'): ImageManifest {
  const m = parseJson(data, what);
  if (!isObject(m)) throw bad(`${what} is not an object`);
  if (m.schemaVersion !== 2) throw bad(`${what}: unsupported schema version ${JSON.stringify(m.schemaVersion)}`);
  if (isIndexMediaType(m.mediaType as string)) throw bad(`${what} is an index, not an image manifest`);
  if (!Array.isArray(m.layers)) throw bad(`${what} has no layers list`);
  return {
    ...(m as unknown as ImageManifest),
    config: checkDescriptor(m.config, `${what} config`),
    layers: m.layers.map((l, i) => checkDescriptor(l, `${what} layer ${i}`)),
  };
}

export function parseIndex(data: Buffer, what = 'index'): ImageIndex {
  const m = parseJson(data, what);
  if (!isObject(m) || !Array.isArray(m.manifests)) throw bad(`${what} has no manifests list`);
  return { ...(m as unknown as ImageIndex), manifests: m.manifests.map((d, i) => checkDescriptor(d, `${what} entry ${i}`)) };
}

/** Parses and checks an image config blob (rootfs.diff_ids must be sha256 digests). */
export function parseConfig(data: Buffer, what = 'image config'): ImageConfigBlob {
  const c = parseJson(data, what);
  if (!isObject(c)) throw bad(`${what} is not an object`);
  const rootfs = c.rootfs;
  if (!isObject(rootfs) || !Array.isArray(rootfs.diff_ids)) throw bad(`${what} has no rootfs.diff_ids`);
  for (const d of rootfs.diff_ids) {
    if (typeof d !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(d)) throw bad(`${what}: invalid diff ID ${JSON.stringify(d)}`);
  }
  if (c.config !== undefined && c.config !== null && !isObject(c.config)) throw bad(`${what}: config is not an object`);
  if (c.history !== undefined && c.history !== null && !Array.isArray(c.history)) throw bad(`${what}: history is not a list`);
  return {
    ...(c as unknown as ImageConfigBlob),
    architecture: typeof c.architecture === 'string' ? c.architecture : '',
    os: typeof c.os === 'string' ? c.os : '',
    config: (c.config as ImageConfigBlob['config']) ?? undefined,
    history: (c.history as HistoryEntry[] | null) ?? undefined,
  };
}

/** The layer media type for a compression, in the OCI or Docker vocabulary. */
export function layerMediaType(compression: Compression, oci: boolean): string {
  if (oci) {
    if (compression === 'gzip') return MT.ociLayerGzip;
    if (compression === 'zstd') return MT.ociLayerZstd;
    return MT.ociLayer;
  }
  if (compression === 'none') return MT.dockerLayer;
  // Docker schema 2 has no zstd type; gzip's is what registries and Docker accept.
  return MT.dockerLayerGzip;
}

/** The same layer type in the other vocabulary (Docker → OCI or back). */
export function convertLayerMediaType(mediaType: string, toOci: boolean): string {
  const gz = /gzip/.test(mediaType);
  const zst = /zstd/.test(mediaType);
  return layerMediaType(gz ? 'gzip' : zst ? 'zstd' : 'none', toOci);
}

/** An image manifest as `mediaType` (OCI or Docker schema 2), canonical JSON bytes. */
export function buildManifest(config: Descriptor, layers: Descriptor[], oci: boolean, annotations?: Record<string, string>): Buffer {
  const strip = (d: Descriptor): Descriptor => ({ mediaType: d.mediaType, digest: d.digest, size: d.size, ...(d.urls ? { urls: d.urls } : {}) });
  const m: ImageManifest = {
    schemaVersion: 2,
    mediaType: oci ? MT.ociManifest : MT.dockerManifest,
    config: { ...strip(config), mediaType: oci ? MT.ociConfig : MT.dockerConfig },
    layers: layers.map((l) => ({ ...strip(l), mediaType: convertLayerMediaType(l.mediaType, oci) })),
  };
  if (annotations && Object.keys(annotations).length > 0) m.annotations = annotations;
  return Buffer.from(JSON.stringify(m));
}

const ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', mips: 'mips', mipsel: 'mipsle', loong64: 'loong64' };

/** This host's platform as OCI names it. */
export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  const p: Platform = { architecture, os: 'linux' };
  if (architecture === 'arm64') p.variant = 'v8';
  return p;
}

/** Normalises an OCI architecture name (aarch64 → arm64, x86_64 → amd64). */
export function normalizeArch(arch: string): string {
  const a = arch.toLowerCase();
  if (a === 'x86_64' || a === 'x86-64') return 'amd64';
  if (a === 'aarch64') return 'arm64';
  if (a === 'i386' || a === 'i686') return '386';
  return a;
}
