// The local engine: tspod's own implementation of the engine interface, on this host. Each
// domain (images, containers, ...) is created from the shared EngineContext and contributes
// its methods; this module only composes them.
import { join } from 'node:path';
import type { Engine, EngineEvent, EventQuery, HostInfo, VersionReport } from './api.js';
import type { ContainersConf } from './config/containers-conf.js';
import { openContainersDomain } from './containers/domain.js';
import type { DomainCounts, EngineContext } from './context.js';
import { EngineError } from './errors.js';
import { EventLog, type EventInput } from './events/event-log.js';
import { compileFilters } from './events/filters.js';
import { openImageDomain } from './images/domain.js';
import { openNetworkDomain } from './networks/index.js';
import { openRegistryDomain } from './registry/domain.js';
import { openSecretsDomain } from './secrets/index.js';
import { HostFacts } from './system/host-info.js';
import { dataUsage, systemPrune } from './system/maintenance.js';
import { openVolumeDomain } from './volumes/index.js';

export interface LocalEngineOptions {
  root: string;
  runroot: string;
  rootless: boolean;
  conf: ContainersConf;
  remoteSocket?: string;
}

export async function createLocalEngine(opts: LocalEngineOptions): Promise<Engine> {
  const events = new EventLog(join(opts.runroot, 'events', 'events.log'));
  const ctx: EngineContext = { root: opts.root, runroot: opts.runroot, rootless: opts.rootless, conf: opts.conf, events };
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
  // Domains register here: each provides its engine methods, its /info counts and a close.
  const domains: Array<{ counts?(): Promise<DomainCounts>; close?(): Promise<void> }> = [];
  void ctx;
  const images = await openImageDomain(ctx); domains.push(images);
  const network = openNetworkDomain(ctx);
  const volumes = openVolumeDomain(ctx); domains.push(volumes);
  const secrets = openSecretsDomain(ctx); domains.push(secrets);
  const containers = await openContainersDomain(ctx, { images: images.resolver, commit: images.committer, networks: network.networks, volumes, secrets }); domains.push(containers); images.setUsage(containers.usage);
  const registry = await openRegistryDomain(ctx, images.store); domains.push(registry);

  async function counts() {
    const all: DomainCounts[] = await Promise.all(domains.map((d) => d.counts?.() ?? {}));
    const containers = { total: 0, running: 0, paused: 0, stopped: 0 };
    for (const c of all) {
      if (!c.containers) continue;
      containers.total += c.containers.total;
      containers.running += c.containers.running;
      containers.paused += c.containers.paused;
      containers.stopped += c.containers.stopped;
    }
    return {
      images: all.reduce((n, c) => n + (c.images ?? 0), 0),
      containers,
      volumes: all.reduce((n, c) => n + (c.volumes ?? 0), 0),
    };
  }

  const engine: Engine = {
    ...images.engine,
    ...network.engine,
    ...containers.engine,
    ...volumes.engine,
    ...secrets.engine,
    ...registry.engine,
    async changes(name, options) {
      const type = options.diffType ?? 'all';
      const asContainer = type === 'container' || (type === 'all' && !(await images.engine.imageExists(name)) && (await containers.engine.containerExists(name)));
      if (!asContainer) return images.engine.imageChanges(name, options.parent);
      if (options.parent) throw new EngineError('invalid-argument', `comparing container ${name} with ${options.parent}: only a container's own changes can be listed`);
      return containers.engine.containerChanges(name);
    },
    async systemInfo(): Promise<HostInfo> {
      return host.info(await counts());
    },
    systemVersion(): Promise<VersionReport> {
      return host.version();
    },
    systemDataUsage: () => dataUsage(engine),
    systemPrune: (options) => systemPrune(engine, options),
    eventsStream(query: EventQuery, signal: AbortSignal): AsyncIterable<EngineEvent> {
      compileFilters(query.filters); // unknown filter keys fail now, before a stream starts
      return events.stream(query, signal);
    },
    async eventsEmit(event: EventInput): Promise<void> {
      await events.append(event);
    },
    warm: () => host.warm(),
    async close() {
      await Promise.all(domains.map((d) => d.close?.()));
    },
  };
  return engine;
}
