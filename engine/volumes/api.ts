// The volumes part of the engine interface: options in, reports out. The handlers convert the
// reports to the Docker and Libpod shapes (handlers/convert/volumes.ts). The containers domain
// does not go through this interface: it uses the VolumeDomain of ./index.ts.

export interface VolumeCreateOptions {
  /** Empty or absent: a generated 64-hex name. */
  name?: string;
  /** Only `local` (the default) exists. */
  driver?: string;
  labels?: Record<string, string>;
  /** Local driver options: type, device, o (mount(8)'s -t, device and -o), nocopy. */
  options?: Record<string, string>;
  /**
   * What an existing name means: `error` (Libpod: a conflict), `return` (Docker: the existing
   * volume is the answer, unless its driver differs).
   */
  ifExists?: 'error' | 'return';
}

export interface VolumeCreateReport {
  volume: VolumeInspectReport;
  /** False when the name existed and the existing volume was returned. */
  created: boolean;
}

export interface VolumeInspectReport {
  name: string;
  driver: string;
  /** Host path containers see: <root>/volumes/<name>/_data. */
  mountpoint: string;
  /** RFC 3339 with nanoseconds, UTC. */
  createdAt: string;
  scope: 'local';
  labels: Record<string, string>;
  /** The driver options as given at create. */
  options: Record<string, string>;
  /** Owner of the volume root (o=uid=,gid= or the copied-up image directory's). */
  uid: number;
  gid: number;
  anonymous: boolean;
  /** Holders of a mount of this volume (containers using it now, exports, imports). */
  mountCount: number;
  /** The next container mount copies the image's content in (unless the volume is not empty). */
  needsCopyUp: boolean;
  needsChown: boolean;
  lockNumber: number;
  /** Only when asked (listing with usage, system df). */
  usage?: VolumeUsageData;
}

export interface VolumeUsageData {
  /** Bytes of file content (-1 when it cannot be known: a mounted volume that is not mounted). */
  size: number;
  /** Containers that use the volume. */
  refCount: number;
}

export interface VolumeListOptions {
  /**
   * name (regexp), driver, label / label! (key, key=value), dangling (true/false), until,
   * since/after (volume name), opt (key or key=value of the driver options), scope,
   * anonymous (true/false).
   */
  filters?: Record<string, string[]>;
  /** Compute usage (size, refCount) for each volume. */
  usage?: boolean;
}

export interface VolumeRemoveOptions {
  /** Libpod: remove the containers using it first (when the containers domain offers it). */
  force?: boolean;
  /** Docker's `force`: a missing volume is not an error. */
  ignoreMissing?: boolean;
}

export interface VolumePruneOptions {
  /** label / label! (key, key=value), until, since/after, anonymous, all (accepted, ignored: API 1.40 prunes all unused). */
  filters?: Record<string, string[]>;
}

export interface VolumePruneReport {
  name: string;
  /** Bytes freed (file content). */
  size: number;
  /** Why this one was not removed. */
  error?: string;
}

export interface VolumesEngine {
  volumeCreate(options: VolumeCreateOptions): Promise<VolumeCreateReport>;
  volumeList(options: VolumeListOptions): Promise<VolumeInspectReport[]>;
  /** Throws not-found "no such volume". */
  volumeInspect(name: string): Promise<VolumeInspectReport>;
  volumeExists(name: string): Promise<boolean>;
  /** Throws not-found, or conflict while containers use the volume. */
  volumeRemove(name: string, options: VolumeRemoveOptions): Promise<void>;
  /** Removes every unused volume that matches; one report per volume tried. */
  volumePrune(options: VolumePruneOptions): Promise<VolumePruneReport[]>;
  /**
   * The volume's content as an uncompressed tar stream. Resolves once the volume is found and
   * mounted (errors before the first byte); the mount is held until the stream ends or is
   * dropped.
   */
  volumeExport(name: string, signal?: AbortSignal): Promise<AsyncIterable<Buffer>>;
  /** Unpacks a tar (plain, gzip, zstd, xz, bzip2) into the volume; hostile entries are refused. */
  volumeImport(name: string, tar: AsyncIterable<Buffer>, signal?: AbortSignal): Promise<void>;
}
