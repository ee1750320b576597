// What the registry side of the engine (pull, push, login, search, distribution) offers, and
// what it needs of the image store. Nothing here knows about HTTP serving.
import type { BlobStore } from '../images/blob-store.js';
import type { LayerStore } from '../storage/layer-store.js';

export const MediaType = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
} as const;

// The manifest shapes are the image store's (one definition of the OCI types).
import type { Descriptor, ImageIndex, ImageManifest, Platform } from '../images/oci.js';
export type { Descriptor, ImageManifest, Platform };
export type ManifestIndex = ImageIndex;

/** The parts of an image config the registry side reads. */
export interface ImageConfigFile {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  rootfs?: { type: string; diff_ids: string[] };
  [k: string]: unknown;
}

/** Registry credentials (from X-Registry-Auth, a login body, or auth.json). */
export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (Docker's identitytoken). */
  identityToken?: string;
  /** A registry token to use as is (Docker's registrytoken). */
  registryToken?: string;
}

/** Credentials for a request: one set for every registry, per registry host, or an X-Registry-Auth header as sent. */
export type AuthInput = Credentials | { perRegistry: Record<string, Credentials> } | { header: string } | undefined;

/** A local image, as the registry side needs to know it. */
export interface LocalImage {
  /** Hex sha256 of the config (no prefix). */
  id: string;
  names: string[];
  /** name@sha256:... */
  digests: string[];
}

/** An image the registry side has fetched, for the image store to record. */
export interface PulledImage {
  /** Hex sha256 of the config (the image ID). */
  id: string;
  configDigest: string;
  /** The config JSON as fetched (also in the blob store under configDigest). */
  config: Buffer;
  /** The image manifest as fetched (also in the blob store under manifestDigest). */
  manifest: Buffer;
  manifestDigest: string;
  manifestMediaType: string;
  /** The manifest list / index the manifest was chosen from, if any (stored in the blob store). */
  listDigest?: string;
  /** The fully qualified name to give it ("docker.io/library/busybox:latest"); none when pulled by digest only. */
  name?: string;
  /** Repo digests to record: "<repo>@<manifest digest>" (and "<repo>@<list digest>"). */
  repoDigests: string[];
  /** Its layers, bottom first (all in the layer store), with the blob each came from when the blob store has it. */
  layers: Array<{ chainID: string; diffID: string; blob?: { digest: string; size: number; mediaType: string } }>;
}

/** The layers and config of a local image, for pushing. */
export interface PushSource {
  id: string;
  names: string[];
  digests: string[];
  config: Buffer;
  configDigest: string;
  /** The manifest the image came with (pull or load), when kept. */
  manifest?: { data: Buffer; digest: string; mediaType: string };
  /** Bottom first. */
  layers: Array<{
    diffID: string;
    chainID: string;
    /** The compressed blob this layer was unpacked from, as LayerStore recorded it. */
    compressedDigest?: string;
    compressedSize?: number;
    compression?: string;
  }>;
}

/** Layers and blobs a pull in progress uses: kept from removal until released. */
export interface WorkLease {
  layer(chainID: string, created?: boolean): void;
  blob(digest: string, created?: boolean): void;
  /** The work is recorded (or needs nothing more): unpin. */
  release(): void;
  /** The work failed: unpin and remove what it created that no image uses. */
  abort(): Promise<void>;
}

/**
 * What the registry side needs of the image store. The image store implements it; until it is
 * wired, createRegistryDomain can be given any implementation (tests use a minimal one).
 */
export interface RegistryImageStore {
  readonly blobs: BlobStore;
  readonly layers: LayerStore;
  /** A local image by name, ID or name@digest; undefined when there is none. */
  lookup(ref: string): Promise<LocalImage | undefined>;
  /** Records a pulled image (its layers, config and manifest are stored already). */
  recordPulled(image: PulledImage): Promise<LocalImage>;
  /** What is needed to push a local image (not-found when there is no such image). */
  pushSource(ref: string): Promise<PushSource>;
  /** Records a push: the manifest the registry now has for the image under `repository`. */
  recordPushed(id: string, pushed: { repository: string; digest: string; manifest: Buffer; mediaType: string }): Promise<void>;
  /** The uncompressed tar of one layer (its diff), for pushing a layer whose blob is not kept (optional). */
  layerTar?(chainID: string, signal?: AbortSignal): AsyncIterable<Buffer>;
  /** Pins layers and blobs of work in progress (optional). */
  lease?(): WorkLease;
}

// ---- progress ---------------------------------------------------------------------------

/** What a pull reports as it goes (the handlers render Docker's or Libpod's stream from it). */
export type PullProgress =
  | { type: 'trying'; reference: string }
  | { type: 'resolved'; reference: string; repository: string; tagOrDigest: string; manifestDigest: string }
  | { type: 'layer'; id: string; digest: string; status: LayerStatus; current?: number; total?: number }
  | { type: 'config'; digest: string }
  | { type: 'writing-manifest' }
  | { type: 'done'; reference: string; id: string; digest: string; upToDate: boolean };

export type LayerStatus =
  | 'Pulling fs layer'
  | 'Waiting'
  | 'Downloading'
  | 'Verifying Checksum'
  | 'Download complete'
  | 'Extracting'
  | 'Pull complete'
  | 'Already exists';

export type PushProgress =
  | { type: 'preparing'; repository: string; tag: string }
  | { type: 'layer'; id: string; digest: string; status: PushLayerStatus; current?: number; total?: number; from?: string }
  | { type: 'config'; digest: string }
  | { type: 'manifest'; tag: string; digest: string; size: number }
  | { type: 'done'; reference: string; digest: string; size: number };

export type PushLayerStatus = 'Preparing' | 'Waiting' | 'Pushing' | 'Pushed' | 'Layer already exists' | 'Mounted from';

// ---- the engine methods --------------------------------------------------------------------

export type PullPolicy = 'always' | 'missing' | 'never' | 'newer';

export interface PullOptions {
  /** The reference as given ("busybox", "busybox:1.36", "127.0.0.1:5000/x@sha256:..."). */
  reference: string;
  /**
   * How short names resolve: 'docker' sends them to docker.io (the compat API); 'libpod' goes
   * through registries.conf aliases and unqualified-search-registries.
   */
  shortNames: 'docker' | 'libpod';
  auth?: AuthInput;
  /** false: skip TLS verification and allow plain HTTP. undefined: registries.conf decides. */
  tlsVerify?: boolean;
  /** "os/arch[/variant]" pieces; unset parts default to this host's. */
  platform?: Partial<Platform>;
  policy?: PullPolicy;
  /** Pull every tag of the repository (libpod allTags). */
  allTags?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: PullProgress) => void;
}

export interface PullResult {
  /** Image IDs pulled (one unless allTags). */
  images: string[];
  /** The fully qualified reference of the (last) image pulled. */
  reference: string;
  /** Manifest digest the reference resolved to (the list's, when it was a list). */
  digest: string;
  upToDate: boolean;
}

export interface PushOptions {
  /** The local image (name or ID). */
  source: string;
  /** Where to push it (a fully qualified reference; default: the source name). */
  destination?: string;
  auth?: AuthInput;
  tlsVerify?: boolean;
  /** Manifest format: 'v2s2' (Docker) or 'oci'; default keeps the image's own, else Docker's. */
  format?: 'v2s2' | 'oci';
  /** Names without a registry (compat API) are docker.io names; else localhost/ names (Libpod). */
  shortNames: 'docker' | 'libpod';
  signal?: AbortSignal;
  onProgress?: (p: PushProgress) => void;
}

export interface PushResult {
  reference: string;
  digest: string;
  size: number;
}

export interface LoginOptions {
  serverAddress?: string;
  username?: string;
  password?: string;
  identityToken?: string;
  tlsVerify?: boolean;
}

export interface SearchOptions {
  term: string;
  limit?: number;
  filters?: { isOfficial?: boolean; isAutomated?: boolean; stars?: number };
  tlsVerify?: boolean;
  auth?: AuthInput;
  listTags?: boolean;
  shortNames: 'docker' | 'libpod';
}

export interface SearchResult {
  /** Registry host. */
  index: string;
  /** Full name ("docker.io/library/busybox" or "127.0.0.1:5000/busybox"). */
  name: string;
  description: string;
  stars: number;
  official: boolean;
  automated: boolean;
  tag?: string;
}

export interface DistributionInfo {
  descriptor: Descriptor;
  platforms: Platform[];
}

/** The registry methods of the engine. */
export interface RegistryEngine {
  imagePull(options: PullOptions): Promise<PullResult>;
  imagePush(options: PushOptions): Promise<PushResult>;
  /** Checks credentials against a registry; throws unauthorized when they are refused. */
  registryLogin(options: LoginOptions): Promise<{ status: string; identityToken?: string }>;
  imageSearch(options: SearchOptions): Promise<SearchResult[]>;
  distributionInspect(reference: string, options: { auth?: AuthInput; tlsVerify?: boolean }): Promise<DistributionInfo>;
  /** The fully qualified names a (short) name resolves to per registries.conf; invalid-argument when none. */
  imageResolve(name: string): Promise<string[]>;
}
