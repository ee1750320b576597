// The images part of the engine interface: options in, reports out. The handlers convert the
// reports to the Docker and Libpod shapes (handlers/convert/images.ts).
import type { HistoryEntry, ImageConfigBlob } from './oci.js';

export type { HistoryEntry, ImageConfigBlob } from './oci.js';

/**
 * How new names are qualified. `docker`: short names go to docker.io (the compat API, as
 * Podman's compat_api_enforce_docker_hub does); `podman`: short names go to localhost/.
 */
export type NameStyle = 'docker' | 'podman';

export interface ImageListOptions {
  /** Include intermediate images (untagged parents of other images). */
  all?: boolean;
  filters?: Record<string, string[]>;
}

export interface ImageSummaryReport {
  /** Hex ID. */
  id: string;
  parentId: string;
  /** Every name (tags, and repo@digest names of digest pulls). */
  names: string[];
  /** Tagged names only. */
  repoTags: string[];
  repoDigests: string[];
  /** Digest of the stored manifest. */
  digest: string;
  /** Unix seconds. */
  created: number;
  size: number;
  sharedSize: number;
  virtualSize: number;
  labels: Record<string, string>;
  containers: number;
  dangling: boolean;
  readOnly: boolean;
  namesHistory: string[];
  architecture: string;
  os: string;
}

export interface ImageInspectReport {
  id: string;
  digest: string;
  names: string[];
  repoTags: string[];
  repoDigests: string[];
  parent: string;
  comment: string;
  /** RFC 3339. */
  created: string;
  author: string;
  architecture: string;
  os: string;
  variant?: string;
  osVersion?: string;
  dockerVersion: string;
  /** The config's `config` block (empty object when the image has none). */
  config: NonNullable<ImageConfigBlob['config']>;
  /** The Docker config's container_config, when it carries one. */
  containerConfig?: Record<string, unknown>;
  container?: string;
  size: number;
  virtualSize: number;
  graphDriver: { name: string; data: Record<string, string> };
  rootFS: { type: string; layers: string[] };
  labels: Record<string, string>;
  annotations: Record<string, string>;
  manifestType: string;
  history: HistoryEntry[];
  namesHistory: string[];
  lastTagTime?: string;
}

export interface ImageHistoryReport {
  /** Hex image ID for entries that are a local image, else "<missing>". */
  id: string;
  /** Unix seconds. */
  created: number;
  createdBy: string;
  tags: string[] | null;
  size: number;
  comment: string;
}

export interface ImageRemoveOptions {
  force?: boolean;
  noprune?: boolean;
  ignore?: boolean;
  /** Remove every image. */
  all?: boolean;
  /** A forced removal also removes the containers using the image (Libpod; not compat). */
  removeContainers?: boolean;
}

export interface ImageRemoveReport {
  /** Names untagged (full names). */
  untagged: string[];
  /** IDs removed (hex). */
  deleted: string[];
  /** One message per failed name. */
  errors: Array<{ kind: string; message: string }>;
  /** Podman's exit code: 0 ok, 1 no such image, 2 in use, 125 other. */
  exitCode: number;
}

export interface ImagePruneOptions {
  /** Remove all unused images, not only dangling ones. */
  all?: boolean;
  filters?: Record<string, string[]>;
}

export interface ImagePruneReport {
  removed: Array<{ id: string; size: number }>;
  untagged: string[];
  spaceReclaimed: number;
}

export interface ImageLoadOptions {
  signal?: AbortSignal;
}

export interface ImageLoadReport {
  images: Array<{ id: string; names: string[] }>;
}

export type ImageSaveFormat = 'docker-archive' | 'oci-archive' | 'oci-dir' | 'docker-dir';

export interface ImageSaveOptions {
  format?: ImageSaveFormat;
  compress?: boolean;
  /** Several images in one archive (docker-archive, oci-archive). */
  multiImage?: boolean;
  nameStyle?: NameStyle;
  signal?: AbortSignal;
}

export interface ImageImportOptions {
  /** Where to download the root filesystem tar from when no input stream is given (http, https). */
  url?: string;
  /** Name to give the image (normalised by nameStyle). */
  reference?: string;
  changes?: string[];
  message?: string;
  os?: string;
  architecture?: string;
  variant?: string;
  nameStyle?: NameStyle;
  signal?: AbortSignal;
}

export interface ImageImportReport {
  /** Hex ID. */
  id: string;
  names: string[];
}

export interface ImageChange {
  /** Absolute path in the image ("/etc/motd"). */
  path: string;
  /** 0 modified, 1 added, 2 deleted. */
  kind: 0 | 1 | 2;
}

export interface ImagesEngine {
  imageList(options: ImageListOptions): Promise<ImageSummaryReport[]>;
  /** not-found when the image does not exist. */
  imageInspect(nameOrId: string): Promise<ImageInspectReport>;
  imageExists(nameOrId: string): Promise<boolean>;
  /** Newest entry first. */
  imageHistory(nameOrId: string): Promise<ImageHistoryReport[]>;
  /** Adds `target` (normalised by `style`) to the image. */
  imageTag(nameOrId: string, target: string, style: NameStyle): Promise<void>;
  /** Removes one name, or every name when `target` is undefined. */
  imageUntag(nameOrId: string, target: string | undefined, style: NameStyle): Promise<void>;
  imageRemove(names: string[], options: ImageRemoveOptions): Promise<ImageRemoveReport>;
  imagePrune(options: ImagePruneOptions): Promise<ImagePruneReport>;
  /** Reads an archive (docker-archive or oci-archive, compressed or not) and stores its images. */
  imageLoad(input: AsyncIterable<Buffer>, options: ImageLoadOptions): Promise<ImageLoadReport>;
  /** Checks the images and returns the archive (a tar) as a stream of chunks. */
  imageSave(names: string[], options: ImageSaveOptions): Promise<AsyncIterable<Buffer>>;
  /** Creates a one-layer image from a root filesystem tar (compressed or not), given or at options.url. */
  imageImport(input: AsyncIterable<Buffer> | undefined, options: ImageImportOptions): Promise<ImageImportReport>;
  /**
   * The changes of an image's file system against the layers below its top layer, or against
   * the image `parent` (engine/images/image-changes.ts), depth first.
   */
  imageChanges(nameOrId: string, parent?: string): Promise<ImageChange[]>;
  /** Podman's `image tree` text. */
  imageTree(nameOrId: string, whatRequires: boolean): Promise<string>;
  /** Bytes of all layers the images use, each layer counted once (system df). */
  imageLayersSize(): Promise<number>;
}
