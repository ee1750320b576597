// The networks domain: the engine methods behind the network endpoints, and the calls the
// containers domain makes to set up, change and tear down a container's network.
import { join } from 'node:path';
import { containersConfDefaults } from '../config/containers-conf.js';
import type { EngineContext } from '../context.js';
import { EngineError } from '../errors.js';
import { compileNetworkFilters, type FilterSubject } from './filters.js';
import { claimsDir } from './host.js';
import { enclosingCidr, formatCidr, hostRange, parseAddr, parseCidr } from './ip.js';
import { Ipam } from './ipam.js';
import { findHelper, type NetavarkTools } from './netavark.js';
import { NetworkRegistry } from './registry.js';
import { Sandboxes } from './sandbox.js';
import { NetworkStore } from './store.js';
import type {
  NetworkAttachment,
  NetworkConfig,
  NetworkConnectOptions,
  NetworkContainerHooks,
  NetworkContainerReport,
  NetworkCreateOptions,
  NetworkCreateReport,
  NetworkInspectReport,
  NetworkRemoveReport,
  NetworksEngine,
  NetworkUser,
  PerNetworkRequest,
  SetupContainerNetworkOptions,
  SetupContainerNetworkReport,
  SetupContainerNetworkStages,
} from './types.js';

export interface NetworksDomainOptions {
  /** Host-wide claims directory (tests); default /run/tspod/network-claims. */
  claimsDir?: string;
  /** Podman's network files; default containers.conf network_config_dir or /etc/containers/networks. */
  podmanDir?: string;
}

export class NetworksDomain implements NetworksEngine {
  readonly store: NetworkStore;
  readonly registry: NetworkRegistry;
  readonly sandboxes: Sandboxes;
  private hooks?: NetworkContainerHooks;
  private toolsCache?: NetavarkTools;

  constructor(private readonly ctx: EngineContext, opts: NetworksDomainOptions = {}) {
    const net = ctx.conf.network;
    const stateDir = join(ctx.runroot, 'networks');
    this.store = new NetworkStore(join(ctx.root, 'networks'));
    this.registry = new NetworkRegistry({
      store: this.store,
      claimsDir: opts.claimsDir ?? claimsDir(ctx.rootless),
      podmanDir: opts.podmanDir ?? net.networkConfigDir ?? '/etc/containers/networks',
      pools: net.defaultSubnetPools ?? [...containersConfDefaults.network.defaultSubnetPools],
      defaultName: net.defaultNetwork ?? containersConfDefaults.network.defaultNetwork,
      defaultSubnet: net.defaultSubnet ?? containersConfDefaults.network.defaultSubnet,
    });
    this.sandboxes = new Sandboxes({
      store: this.store,
      registry: this.registry,
      ipam: new Ipam(join(stateDir, 'ipam')),
      tools: () => this.tools(),
      stateDir,
      netnsDir: join(ctx.runroot, 'netns'),
      lockFile: join(stateDir, '.lock'),
    });
  }

  private tools(): NetavarkTools {
    if (this.toolsCache) return this.toolsCache;
    const dirs = this.ctx.conf.engine.helperBinariesDir ?? containersConfDefaults.engine.helperBinariesDir;
    const netavark = findHelper(dirs, 'netavark');
    const aardvark = findHelper(dirs, 'aardvark-dns');
    if (!netavark) throw new EngineError('unavailable', `netavark not found in ${dirs.join(', ')} (containers.conf helper_binaries_dir)`);
    if (this.ctx.rootless) throw new EngineError('not-implemented', 'bridge networks need root: rootless networking is not supported by tspod');
    this.toolsCache = { netavark, aardvark: aardvark ?? '/usr/libexec/podman/aardvark-dns', configDir: join(this.ctx.runroot, 'networks') };
    return this.toolsCache;
  }

  // ---- what the containers domain calls ----

  /** Registers the containers domain's side (see types.ts NetworkContainerHooks). */
  setContainerHooks(hooks: NetworkContainerHooks): void {
    this.hooks = hooks;
  }

  /** `stages.namespaceReady` learns the namespace path before netavark is done (see sandbox.ts). */
  setupContainerNetwork(opts: SetupContainerNetworkOptions, stages?: SetupContainerNetworkStages): Promise<SetupContainerNetworkReport> {
    return this.sandboxes.setup(opts, stages);
  }

  /** With `lingerMs` (the service, at an exit), the teardown may happen that much later (see sandbox.ts). */
  teardownContainerNetwork(containerId: string, opts?: { lingerMs?: number }): Promise<void> {
    return this.sandboxes.teardown(containerId, opts);
  }

  /** Runs lingering teardowns now and waits for every teardown under way in this process. */
  settleTeardowns(): Promise<void> {
    return this.sandboxes.settleAll();
  }

  /** Containers with a network record: set up, lingering, or left by a process that died. */
  containersWithNetwork(): Promise<string[]> {
    return this.sandboxes.containerIds();
  }

  async connectContainerNetwork(containerId: string, network: string, opts: PerNetworkRequest = {}): Promise<NetworkAttachment> {
    return this.sandboxes.connect(containerId, await this.resolveNetwork(network), opts);
  }

  async disconnectContainerNetwork(containerId: string, network: string): Promise<void> {
    const n = await this.store.find(network);
    return this.sandboxes.disconnect(containerId, n?.name ?? network);
  }

  /** The network set up for a running container (undefined when none is). */
  containerNetworkStatus(containerId: string): Promise<SetupContainerNetworkReport | undefined> {
    return this.sandboxes.status(containerId);
  }

  /** A network by name, ID or ID prefix; "bridge" and "default" are the default network. Not-found otherwise. */
  async resolveNetwork(ref: string): Promise<NetworkConfig> {
    if (ref === this.registry.defaultName || ref === 'bridge' || ref === 'default') return this.registry.ensureDefault();
    return this.store.get(ref);
  }

  get defaultNetworkName(): string {
    return this.registry.defaultName;
  }

  // ---- engine methods ----

  async networkCreate(opts: NetworkCreateOptions): Promise<NetworkCreateReport> {
    if (opts.name === this.registry.defaultName) {
      const def = await this.registry.ensureDefault();
      if (opts.ignoreIfExists) return { network: def, existed: true };
      throw new EngineError('conflict', `network name ${opts.name} already used: network already exists`, undefined, 'network already exists');
    }
    const report = await this.registry.create(opts);
    if (!report.existed) await this.event('create', report.network);
    return report;
  }

  private async users(n: NetworkConfig): Promise<NetworkUser[]> {
    const out = new Map<string, NetworkUser>();
    for (const u of (await this.hooks?.containersUsing(n.name)) ?? []) out.set(u.id, u);
    for (const r of await this.sandboxes.all()) if (Object.values(r.networks).some((x) => x.network.id === n.id)) out.set(r.containerId, { id: r.containerId, name: r.name });
    return [...out.values()];
  }

  private async attached(): Promise<Map<string, NetworkContainerReport[]>> {
    const byNetwork = new Map<string, NetworkContainerReport[]>();
    for (const r of await this.sandboxes.all()) {
      if (!r.ready) continue;
      for (const x of Object.values(r.networks)) {
        if (!x.attachment) continue;
        const list = byNetwork.get(x.network.id) ?? [];
        list.push({ id: r.containerId, name: r.name, interfaceName: x.attachment.interfaceName, macAddress: x.attachment.macAddress, addresses: x.attachment.addresses });
        byNetwork.set(x.network.id, list);
      }
    }
    return byNetwork;
  }

  private async reports(filter?: (s: FilterSubject) => boolean, compat = false, needUse = false): Promise<NetworkInspectReport[]> {
    await this.registry.ensureDefault();
    const [all, attached] = await Promise.all([this.store.list(), this.attached()]);
    const out: NetworkInspectReport[] = [];
    for (const network of all) {
      const isDefault = this.registry.isDefault(network);
      const containers = attached.get(network.id) ?? [];
      if (filter) {
        const inUse = needUse ? containers.length > 0 || (await this.users(network)).length > 0 : containers.length > 0;
        if (!filter({ network, isDefault, inUse, shownName: compat && isDefault ? 'bridge' : network.name })) continue;
      }
      out.push({ network, isDefault, containers, ipRanges: ipRanges(network) });
    }
    return out;
  }

  async networkList(filters: Record<string, string[]>, opts: { compat?: boolean } = {}): Promise<NetworkInspectReport[]> {
    const f = compileNetworkFilters(filters, 'list');
    return this.reports(f, opts.compat, 'dangling' in filters);
  }

  private async lookup(ref: string, compat?: boolean): Promise<NetworkConfig> {
    if (ref === this.registry.defaultName || (compat && ref === 'bridge')) return this.registry.ensureDefault();
    return this.store.get(ref);
  }

  async networkInspect(ref: string, opts: { compat?: boolean } = {}): Promise<NetworkInspectReport> {
    const network = await this.lookup(ref, opts.compat);
    const attached = await this.attached();
    return { network, isDefault: this.registry.isDefault(network), containers: attached.get(network.id) ?? [], ipRanges: ipRanges(network) };
  }

  async networkExists(ref: string): Promise<boolean> {
    if (ref === this.registry.defaultName) return true;
    return (await this.store.find(ref).catch(() => undefined)) !== undefined;
  }

  async networkRemove(ref: string, opts: { force?: boolean; compat?: boolean } = {}): Promise<NetworkRemoveReport> {
    const n = await this.lookup(ref, opts.compat);
    if (this.registry.isDefault(n)) throw new EngineError('forbidden', `default network ${opts.compat ? 'bridge' : n.name} cannot be removed`);
    const users = await this.users(n);
    if (users.length) {
      if (!opts.force) {
        throw new EngineError('conflict', `network ${n.name} is being used by container(s) ${users.map((u) => u.name).join(', ')}: network is being used`, undefined, 'network is being used');
      }
      if (this.hooks?.removeContainers) await this.hooks.removeContainers(users.map((u) => u.id));
      // What is still attached (no hooks, or a container the hooks did not remove) is disconnected.
      for (const r of await this.sandboxes.all()) {
        const hit = Object.values(r.networks).find((x) => x.network.id === n.id);
        if (hit) await this.sandboxes.disconnect(r.containerId, hit.network.name);
      }
    }
    await this.registry.remove(n);
    await this.event('remove', n);
    return { name: n.name, id: n.id };
  }

  async networkPrune(filters: Record<string, string[]>): Promise<NetworkRemoveReport[]> {
    const f = compileNetworkFilters(filters, 'prune');
    const out: NetworkRemoveReport[] = [];
    for (const { network, isDefault, containers } of await this.reports()) {
      if (isDefault || containers.length) continue;
      if (!f({ network, isDefault, inUse: false, shownName: network.name })) continue;
      if ((await this.users(network)).length) continue;
      try {
        await this.registry.remove(network);
        await this.event('remove', network);
        out.push({ name: network.name, id: network.id });
      } catch (err) {
        out.push({ name: network.name, id: network.id, error: (err as Error).message });
      }
    }
    return out;
  }

  async networkConnect(ref: string, opts: NetworkConnectOptions, flags: { compat?: boolean } = {}): Promise<void> {
    const n = await this.lookup(ref, flags.compat);
    const { container, ...req } = opts;
    let user: NetworkUser;
    if (this.hooks) {
      user = await this.hooks.connect(container, n.name, req);
    } else {
      const rec = await this.sandboxes.findContainer(container);
      if (!rec) throw new EngineError('not-found', `no container with name or ID "${container}" found: no such container`, undefined, 'no such container');
      await this.sandboxes.connect(rec.containerId, n, req);
      user = { id: rec.containerId, name: rec.name };
    }
    await this.event('connect', n, user.id);
  }

  async networkDisconnect(ref: string, opts: { container: string; force?: boolean }, flags: { compat?: boolean } = {}): Promise<void> {
    const n = await this.lookup(ref, flags.compat);
    let user: NetworkUser;
    if (this.hooks) {
      user = await this.hooks.disconnect(opts.container, n.name, Boolean(opts.force));
    } else {
      const rec = await this.sandboxes.findContainer(opts.container);
      if (!rec) throw new EngineError('not-found', `no container with name or ID "${opts.container}" found: no such container`, undefined, 'no such container');
      await this.sandboxes.disconnect(rec.containerId, n.name);
      user = { id: rec.containerId, name: rec.name };
    }
    await this.event('disconnect', n, user.id);
  }

  private async event(action: string, n: NetworkConfig, container?: string): Promise<void> {
    const attributes: Record<string, string> = { type: n.driver };
    if (container) attributes.container = container;
    await this.ctx.events.append({ type: 'network', action, id: n.id, name: n.name, attributes });
  }
}

function ipRanges(n: NetworkConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of n.subnets) {
    const c = parseCidr(s.subnet);
    if (!c || !s.lease_range) continue;
    const { first, last } = hostRange(c);
    const a = s.lease_range.start_ip ? parseAddr(s.lease_range.start_ip) : undefined;
    const b = s.lease_range.end_ip ? parseAddr(s.lease_range.end_ip) : undefined;
    const r = enclosingCidr(a ?? { family: c.family, value: first }, b ?? { family: c.family, value: last });
    if (r) out[s.subnet] = formatCidr(r);
  }
  return out;
}
