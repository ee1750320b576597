// What every engine domain (images, containers, volumes, networks, ...) is built from.
import type { ContainersConf } from './config/containers-conf.js';
import type { EventLog } from './events/event-log.js';

export interface EngineContext {
  /** Storage root (images, layers, volumes, container state). */
  root: string;
  /** Run root (runtime state that does not survive a reboot: event log, sockets, runc state). */
  runroot: string;
  rootless: boolean;
  /** containers.conf as loaded (files and settings). */
  conf: ContainersConf;
  /** The persistent event log every domain appends its state changes to. */
  events: EventLog;
}

/** Object counts a domain contributes to /info. */
export interface DomainCounts {
  images?: number;
  containers?: { total: number; running: number; paused: number; stopped: number };
  volumes?: number;
}
