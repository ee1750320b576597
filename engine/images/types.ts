// What other engine domains (containers, commit, volumes) need to know of an image. The image
// store (engine/images/) resolves references to this; the containers domain builds a rootfs
// from `layerChain` and defaults from `config`.

/** The OCI image config's `config` block (Docker's ContainerConfig subset an image carries). */
export interface ImageRuntimeConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  OnBuild?: string[] | null;
  Shell?: string[];
}

export interface ResolvedImage {
  /** Image ID: the hex sha256 of its config blob (no "sha256:" prefix). */
  id: string;
  /** Full names (docker.io/library/busybox:latest, localhost/x:tag). */
  names: string[];
  /** Repo digests (name@sha256:...). */
  digests: string[];
  /** The name the caller asked for, normalised, when it was a name (for Config.Image). */
  requestedName?: string;
  config: ImageRuntimeConfig;
  /** Chain IDs of the layers, bottom first; the last is the top layer (empty: no layers). */
  layerChain: string[];
  architecture: string;
  os: string;
  created: string;
}

/** How the containers domain reaches images (implemented by the image store). */
export interface ImageResolver {
  /** Resolves a name, full or short ID, or name@digest; throws EngineError('not-found', 'No such image: ...'). */
  resolveImage(ref: string): Promise<ResolvedImage>;
  /** Lower directories (top first) for an overlay rootfs of the image's layers. */
  lowerDirs(image: ResolvedImage): string[];
}

/** A commit: the container's changes as a new layer on its image, and the new config. */
export interface CommitImageOptions {
  /** Image ID (hex) of the container's image. */
  parentId: string;
  /** The container's changes as a layer tar (uncompressed). */
  layer: AsyncIterable<Buffer>;
  /** The configuration the container runs with, before `changes`. */
  config: ImageRuntimeConfig;
  /** Dockerfile instructions applied on top of `config`. */
  changes: string[];
  author?: string;
  comment?: string;
  createdBy: string;
  containerId: string;
  /** The full name to give the image (already normalised), if any. */
  name?: string;
  /** Docker schema 2 (default) or OCI manifest and config. */
  format?: 'oci' | 'docker';
  signal?: AbortSignal;
}

/** What the containers domain's commit needs from the images domain. */
export interface ImageCommitter {
  /** The full name a reference gets; throws invalid-argument for a bad one. */
  newName(reference: string, style: 'docker' | 'podman'): string;
  commit(options: CommitImageOptions): Promise<{ id: string }>;
}
