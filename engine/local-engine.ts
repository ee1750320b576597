// The local engine: tspod's own implementation of the engine interface, on this host.
import { join } from 'node:path';
import type { Engine, EngineEvent, EventQuery, HostInfo, VersionReport } from './api.js';
import { EventLog, type EventInput } from './events/event-log.js';
import { compileFilters } from './events/filters.js';
import type { ContainersConf } from './config/containers-conf.js';
import { HostFacts } from './system/host-info.js';

export interface LocalEngineOptions {
  /** Storage root (images, layers, volumes, container state). */
  root: string;
  /** Run root (runtime state that does not survive a reboot: event log, sockets). */
  runroot: string;
  rootless: boolean;
  /** containers.conf as loaded (files and settings). */
  conf: ContainersConf;
  remoteSocket?: string;
}

export async function createLocalEngine(opts: LocalEngineOptions): Promise<Engine> {
  const events = new EventLog(join(opts.runroot, 'events', 'events.log'));
  const host = new HostFacts({
    graphRoot: opts.root,
    runRoot: opts.runroot,
    volumePath: join(opts.root, 'volumes'),
    eventsLogPath: events.path,
    rootless: opts.rootless,
    configFiles: opts.conf.files,
    conf: opts.conf,
    remoteSocket: opts.remoteSocket,
  });

  return {
    async systemInfo(): Promise<HostInfo> {
      // Object stores (images, containers, volumes) report their counts here as they arrive.
      return host.info({ images: 0, containers: { total: 0, running: 0, paused: 0, stopped: 0 }, volumes: 0 });
    },
    systemVersion(): Promise<VersionReport> {
      return host.version();
    },
    eventsStream(query: EventQuery, signal: AbortSignal): AsyncIterable<EngineEvent> {
      compileFilters(query.filters); // unknown filter keys fail now, before a stream starts
      return events.stream(query, signal);
    },
    async eventsEmit(event: EventInput): Promise<void> {
      await events.append(event);
    },
    warm: () => host.warm(),
    async close() {},
  };
}
