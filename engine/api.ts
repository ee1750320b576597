// The engine interface: everything the HTTP handlers may ask of tspod's engine. Options in,
// reports out; streams are async iterables. Nothing here knows about HTTP.
import type { ContainersEngine } from './containers/api.js';
import type { EngineEvent, EventQuery } from './events/types.js';
import type { ImageChange, ImagesEngine } from './images/api.js';
import type { NetworksEngine } from './networks/types.js';
import type { RegistryEngine } from './registry/types.js';
import type { SecretsEngine } from './secrets/api.js';
import type { DataUsageReport, HostInfo, SystemPruneOptions, SystemPruneReport, VersionReport } from './system/types.js';
import type { VolumesEngine } from './volumes/api.js';

export type { EngineEvent, EventQuery } from './events/types.js';
export type { DataUsageReport, HostInfo, SystemPruneOptions, SystemPruneReport, VersionReport } from './system/types.js';

export interface SystemEngine {
  /** Facts about this host and this tspod (kernel, OS, CPUs, memory, runtime, storage, counts). */
  systemInfo(): Promise<HostInfo>;
  /** Versions of tspod and the parts it drives. */
  systemVersion(): Promise<VersionReport>;
  /** Every image, container and volume with the space it takes (system df). */
  systemDataUsage(): Promise<DataUsageReport>;
  /** Removes what nothing uses: stopped containers, images, networks, optionally volumes. */
  systemPrune(options: SystemPruneOptions): Promise<SystemPruneReport>;
}

export interface EventsEngine {
  /**
   * Events from the persistent log matching the query. Without `until` and with `follow`, the
   * iterable goes on with live events until `signal` aborts.
   */
  eventsStream(query: EventQuery, signal: AbortSignal): AsyncIterable<EngineEvent>;
  /** Appends one event to the log (the engine's own modules call this on each state change). */
  eventsEmit(event: Omit<EngineEvent, 'time' | 'timeNano' | 'attributes'> & { attributes?: Record<string, string>; timeNano?: bigint }): Promise<void>;
}

/** What Podman's changes endpoints (images and containers alike) look a name up as. */
export type DiffType = 'all' | 'image' | 'container';

export interface ChangesOptions {
  /** An image to compare with instead of the layers below (images only). */
  parent?: string;
  /** `image`: images only; `container`: containers only; `all` (default): an image, else a container. */
  diffType?: DiffType;
}

export interface Engine extends SystemEngine, EventsEngine, ImagesEngine, RegistryEngine, VolumesEngine, ContainersEngine, NetworksEngine, SecretsEngine {
  /**
   * File system changes of an image or a container, looked up as Podman's GetDiff does
   * (libpod/diff.go getLayerID: an image first, then a container, narrowed by diffType).
   */
  changes(nameOrId: string, options: ChangesOptions): Promise<ImageChange[]>;
  /** Fills caches of facts that do not change while the service runs (called after listen). */
  warm(): Promise<void>;
  /** Releases what the engine holds (database handles, watchers). */
  close(): Promise<void>;
}
