// Event records as the engine stores and streams them. The API layer converts them to the
// Docker/Libpod wire shape (handlers/convert/events.ts).
export type EventType = 'container' | 'image' | 'volume' | 'network' | 'pod' | 'secret' | 'system' | 'exec';

export interface EngineEvent {
  type: EventType;
  /** What happened: create, start, die, pull, remove, ... */
  action: string;
  /** ID of the object (container ID, image ID, volume name, ...). */
  id: string;
  /** Name of the object, when it has one. */
  name?: string;
  /** Image reference, for container and image events. */
  image?: string;
  /** Extra attributes (labels, exitCode, signal, ...). Copied to Actor.Attributes. */
  attributes: Record<string, string>;
  /** Unix time in seconds. */
  time: number;
  /** Unix time in nanoseconds (exceeds 2^53: kept as bigint). */
  timeNano: bigint;
}

export interface EventQuery {
  /** Only events at or after this time (ns). Without it, history is skipped. */
  since?: bigint;
  /** Only events at or before this time (ns); the stream ends when it is reached. */
  until?: bigint;
  /**
   * Docker/Podman filters, already parsed: type, event (action), container, image, volume,
   * network, pod, label (key or key=value). Values within a key are OR-ed, keys AND-ed.
   */
  filters: Record<string, string[]>;
  /** Keep streaming live events after the history (Libpod `stream`, Docker's default). */
  follow: boolean;
}
