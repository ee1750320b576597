// A container's network: its namespace, netavark setup on each network, addresses and
// published ports, and the reverse. Everything needed to undo a setup is written to
// <runroot>/networks/sandboxes/<container id>.json before the first change is made, so a
// teardown works from a record alone: in a cleanup process while the service is down, or after
// a crash halfway through a setup. What other containers share (netavark on a network: its
// bridge, firewall rules, addresses) changes only under the instance lock. A container's own
// namespace and record are its alone: they are made and removed outside the lock, so that runc
// can create the container in its namespace while an earlier teardown or its own netavark setup
// still runs.
//
// The service may let the network of an exited container linger (teardown with lingerMs): the
// teardown runs a moment later, unless something needs it done first. A container started in
// the meantime finds the bridge up; netavark would otherwise remove the bridge and the network's
// firewall rules when the last container leaves, and create them again for the next one, which
// costs more than the rest of a start. Only networks nothing else can see linger: no published
// ports, no DNS (aardvark-dns), no static addresses; the sandbox is marked not ready at once, so
// that inspect and network inspect show the container as gone.
import { existsSync } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError } from '../errors.js';
import { scanRoutes } from './host.js';
import { overlaps, parseCidr, parseIpNet, formatAddr, normalizeAddr, normalizeMac } from './ip.js';
import { AddressesExhausted, type Ipam } from './ipam.js';
import { readJson, withFileLock, writeFileAtomic } from './lock.js';
import { dropEmptyChains, netavarkNetwork, netavarkSetup, netavarkTeardown, type NetavarkOptions, type NetavarkPerNetwork, type NetavarkStatus, type NetavarkTools } from './netavark.js';
import { createNetns, isMounted, removeNetns } from './netns.js';
import { portRequestsFromDocker, resolvePorts } from './ports.js';
import { PendingTeardowns } from './teardowns.js';
import type { NetworkRegistry } from './registry.js';
import type { NetworkStore } from './store.js';
import type { NetworkAttachment, NetworkConfig, PerNetworkRequest, PublishedPort, SetupContainerNetworkOptions, SetupContainerNetworkReport, SetupContainerNetworkStages } from './types.js';

interface SandboxNetwork {
  network: NetworkConfig;
  perNetwork: NetavarkPerNetwork;
  request: PerNetworkRequest;
  attachment?: NetworkAttachment;
}

export interface SandboxRecord {
  containerId: string;
  name: string;
  mode: 'bridge' | 'none' | 'host' | 'container' | 'ns';
  netnsPath: string;
  ownsNetns: boolean;
  /** Container mode: whose namespace. */
  joined?: string;
  ports: PublishedPort[];
  dnsServers?: string[];
  /** By network name. */
  networks: Record<string, SandboxNetwork>;
  ready: boolean;
}

export interface SandboxDeps {
  store: NetworkStore;
  registry: NetworkRegistry;
  ipam: Ipam;
  tools: () => NetavarkTools;
  stateDir: string;
  netnsDir: string;
  lockFile: string;
}

const ID_RE = /^[0-9a-f]{64}$/;

/** Whether the network of an exited container may linger: nothing else can see it (see above). */
function mayLinger(rec: SandboxRecord): boolean {
  const nets = Object.values(rec.networks);
  return rec.mode === 'bridge' && rec.ready && rec.ports.length === 0 && nets.length > 0 && nets.every((n) => !n.network.dns_enabled && !n.request.staticIPs?.length && !n.perNetwork.static_mac);
}

const wantsStaticIPs = (reqs: Record<string, PerNetworkRequest> | undefined) => Object.values(reqs ?? {}).some((r) => r.staticIPs?.length);

export class Sandboxes {
  private readonly pending = new PendingTeardowns();

  constructor(private readonly d: SandboxDeps) {}

  private file(id: string) {
    return join(this.d.stateDir, 'sandboxes', `${id}.json`);
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return withFileLock(this.d.lockFile, fn);
  }

  async read(containerId: string): Promise<SandboxRecord | undefined> {
    return readJson<SandboxRecord>(this.file(containerId));
  }

  private async save(r: SandboxRecord): Promise<void> {
    await writeFileAtomic(this.file(r.containerId), JSON.stringify(r));
  }

  async all(): Promise<SandboxRecord[]> {
    const names = await readdir(join(this.d.stateDir, 'sandboxes')).catch(() => [] as string[]);
    const recs = await Promise.all(names.filter((n) => n.endsWith('.json')).map((n) => readJson<SandboxRecord>(join(this.d.stateDir, 'sandboxes', n)).catch(() => undefined)));
    return recs.filter((r): r is SandboxRecord => !!r);
  }

  /** Finds a set-up container by full ID, unique ID prefix or name. */
  async findContainer(ref: string): Promise<SandboxRecord | undefined> {
    const all = await this.all();
    const exact = all.find((r) => r.containerId === ref) ?? all.find((r) => r.name === ref);
    if (exact) return exact;
    const prefixed = all.filter((r) => r.containerId.startsWith(ref));
    return prefixed.length === 1 ? prefixed[0] : undefined;
  }

  async setup(o: SetupContainerNetworkOptions, stages: SetupContainerNetworkStages = {}): Promise<SetupContainerNetworkReport> {
    if (!ID_RE.test(o.containerId)) throw new EngineError('invalid-argument', `invalid container ID "${o.containerId}"`);
    // This container's own earlier teardown first; all lingering ones when an address they may hold is asked for.
    await this.pending.settle(o.containerId);
    if (wantsStaticIPs(o.networks)) await this.settleAll();
    if (o.mode === 'bridge' || o.mode === 'none') return this.setupOwn(o, stages);
    const report = await this.locked(async () => {
      const old = await this.read(o.containerId);
      if (old) await this.teardownLocked(old);
      const rec: SandboxRecord = { containerId: o.containerId, name: o.name, mode: 'bridge', netnsPath: '', ownsNetns: false, ports: [], networks: {}, ready: false };
      const mode = o.mode;
      if (mode === 'host') {
        rec.mode = 'host';
      } else if (typeof mode === 'object' && 'ns' in mode) {
        if (!mode.ns.startsWith('/') || !existsSync(mode.ns)) throw new EngineError('invalid-argument', `network namespace path ${mode.ns} does not exist`);
        rec.mode = 'ns';
        rec.netnsPath = mode.ns;
      } else if (typeof mode === 'object' && 'container' in mode) {
        const other = await this.read(mode.container);
        if (!other?.ready) throw new EngineError('invalid-argument', `container ${mode.container} has no network set up (is it running?)`);
        // Joining a container that uses the host's network is using the host's network.
        rec.mode = other.mode === 'host' ? 'host' : 'container';
        rec.netnsPath = other.netnsPath;
        rec.joined = other.containerId;
      }
      rec.ready = true;
      await this.save(rec);
      return this.report(rec);
    });
    stages.namespaceReady?.(report.netnsPath);
    return report;
  }

  /** Bridge and none modes: the container's own namespace (outside the lock), then netavark (under it). */
  private async setupOwn(o: SetupContainerNetworkOptions, stages: SetupContainerNetworkStages): Promise<SetupContainerNetworkReport> {
    if (await this.read(o.containerId)) await this.teardown(o.containerId);
    const rec: SandboxRecord = { containerId: o.containerId, name: o.name, mode: o.mode === 'none' ? 'none' : 'bridge', netnsPath: join(this.d.netnsDir, o.containerId), ownsNetns: true, ports: [], networks: {}, ready: false };
    if (rec.mode === 'bridge') rec.dnsServers = o.dnsServers?.map((s) => normalizeAddr(s) ?? s);
    const failed = (err: unknown) => (err instanceof EngineError ? err : new EngineError('internal', `setting up the network of container ${o.name}: ${(err as Error).message}`, err));
    await this.save(rec);
    try {
      if (existsSync(rec.netnsPath)) await removeNetns(rec.netnsPath);
      await createNetns(rec.netnsPath);
    } catch (err) {
      await unlink(this.file(rec.containerId)).catch(() => {});
      throw failed(err);
    }
    stages.namespaceReady?.(rec.netnsPath);
    if (rec.mode === 'none') {
      rec.ready = true;
      await this.save(rec);
      return this.report(rec);
    }
    // The namespace is the caller's now (runc may be in it): a failure undoes netavark and the
    // addresses under the lock, and the namespace only once no retry will use it.
    const attachLocked = () =>
      this.locked(async () => {
        try {
          await this.prepareBridge(rec, o);
          await this.attach(rec, Object.keys(rec.networks), rec.ports);
          rec.ready = true;
          await this.save(rec);
          return this.report(rec);
        } catch (err) {
          await this.releaseLocked(rec).catch(() => {});
          rec.networks = {};
          rec.ports = [];
          throw err;
        }
      });
    try {
      return await attachLocked();
    } catch (err) {
      let last = err;
      // Addresses held by lingering teardowns are freed, once, before giving up.
      if (err instanceof AddressesExhausted && this.pending.size) {
        await this.settleAll();
        try {
          return await attachLocked();
        } catch (e2) {
          last = e2;
        }
      }
      await this.removeOwn(rec);
      throw failed(last);
    }
  }

  /** Resolves networks, interface names and ports into the record (nothing changed on the host yet). */
  private async prepareBridge(rec: SandboxRecord, o: SetupContainerNetworkOptions): Promise<void> {
    const wanted = Object.entries(o.networks ?? {});
    if (wanted.length === 0) wanted.push([(await this.d.registry.ensureDefault()).name, {}]);
    const used = new Set(wanted.map(([, r]) => r.interfaceName).filter((n): n is string => !!n));
    let next = 0;
    for (const [ref, req] of wanted) {
      const network = [this.d.registry.defaultName, 'bridge', 'default'].includes(ref) ? await this.d.registry.ensureDefault() : await this.d.store.get(ref);
      if (rec.networks[network.name]) throw new EngineError('invalid-argument', `network ${network.name} is given twice`);
      let ifname = req.interfaceName;
      while (!ifname) {
        const candidate = `eth${next++}`;
        if (!used.has(candidate)) ifname = candidate;
      }
      used.add(ifname);
      rec.networks[network.name] = { network, perNetwork: perNetwork(ifname, req), request: req };
    }
    const requests = [...(o.portMappings ?? []), ...(o.publishAll ? portRequestsFromDocker({}, o.exposedPorts ?? [], true) : [])];
    // -P skips ports that are published explicitly.
    const explicit = new Set((o.portMappings ?? []).map((p) => `${p.containerPort}/${p.protocol}`));
    rec.ports = await resolvePorts(requests.filter((r, i) => i < (o.portMappings?.length ?? 0) || !explicit.has(`${r.containerPort}/${r.protocol}`)));
  }

  /** Allocates addresses and runs netavark setup for `names` (already in rec.networks). */
  private async attach(rec: SandboxRecord, names: string[], ports: PublishedPort[]): Promise<void> {
    for (const name of names) {
      const n = rec.networks[name]!;
      const addrs = await this.d.ipam.allocate(n.network, rec.containerId, n.request.staticIPs ?? []);
      n.perNetwork.static_ips = addrs.map((a) => a.address);
    }
    await this.save(rec);
    await this.checkLiveSubnets(names.map((n) => rec.networks[n]!.network));
    const status = await netavarkSetup(this.d.tools(), rec.netnsPath, this.options(rec, names, ports));
    for (const name of names) {
      const n = rec.networks[name]!;
      n.attachment = attachment(n, status[n.network.id]);
    }
  }

  /**
   * Before the first container brings a network's bridge up: its subnets must not be routed
   * elsewhere on the host by now (a Podman or another program may have taken them since the
   * network was created).
   */
  private async checkLiveSubnets(networks: NetworkConfig[]): Promise<void> {
    const cold = networks.filter((n) => !existsSync(`/sys/class/net/${n.network_interface}`));
    if (cold.length === 0) return;
    const families = [...new Set(cold.flatMap((n) => n.subnets.map((s) => parseCidr(s.subnet)!.family)))];
    const used = await scanRoutes(families);
    for (const n of cold) {
      for (const s of n.subnets) {
        const c = parseCidr(s.subnet)!;
        const hit = used.find((u) => u.dev !== n.network_interface && overlaps(u.cidr, c));
        if (hit) throw new EngineError('conflict', `subnet ${s.subnet} of network ${n.name} is in use on the host now (${formatAddr({ family: hit.cidr.family, value: hit.cidr.network })}/${hit.cidr.prefix} on ${hit.dev || 'an interface'}): remove that or recreate the network`);
      }
    }
  }

  private options(rec: SandboxRecord, names: string[], ports: PublishedPort[]): NetavarkOptions {
    const opts: NetavarkOptions = { container_id: rec.containerId, container_name: rec.name, networks: {}, network_info: {} };
    for (const name of names) {
      const n = rec.networks[name]!;
      opts.networks[n.network.id] = n.perNetwork;
      opts.network_info[n.network.id] = netavarkNetwork(n.network);
    }
    if (ports.length) {
      opts.port_mappings = ports.map((p) => ({ host_ip: p.hostIP, container_port: p.containerPort, host_port: p.hostPort, range: p.range, protocol: p.protocol }));
    }
    if (rec.dnsServers?.length) opts.dns_servers = rec.dnsServers;
    return opts;
  }

  /**
   * Tears the container's network down (idempotent). With `lingerMs`, a network that may linger
   * (see above) is torn down that much later, or as soon as something needs it done; the
   * promise resolves when the teardown is done either way. A teardown already pending for the
   * container is started now and waited for.
   */
  teardown(containerId: string, opts: { lingerMs?: number } = {}): Promise<void> {
    const lingerMs = opts.lingerMs ?? 0;
    return this.pending.schedule(
      containerId,
      () => this.teardownNow(containerId),
      lingerMs > 0
        ? async () => {
            const rec = await this.read(containerId);
            if (!rec || !mayLinger(rec)) return 0;
            // Not ready any more: the container is gone for whoever asks (status, network inspect).
            await this.save({ ...rec, ready: false });
            return lingerMs;
          }
        : undefined,
    );
  }

  /** Starts every lingering teardown now and waits for all those under way. */
  settleAll(): Promise<void> {
    return this.pending.settleAll();
  }

  /** IDs of the containers that have a network record (set up, lingering, or left by a crash). */
  async containerIds(): Promise<string[]> {
    const names = await readdir(join(this.d.stateDir, 'sandboxes')).catch(() => [] as string[]);
    return names.filter((n) => ID_RE.test(n.slice(0, -5)) && n.endsWith('.json')).map((n) => n.slice(0, -5));
  }

  private async teardownNow(containerId: string): Promise<void> {
    const { rec, errors } = await this.locked(async () => {
      const r = await this.read(containerId);
      return { rec: r, errors: r ? await this.releaseLocked(r) : [] };
    });
    if (rec) errors.push(...(await this.removeOwn(rec)));
    // No record: a namespace file left by a crash before the record was written.
    else if (ID_RE.test(containerId)) await removeNetns(join(this.d.netnsDir, containerId));
    if (errors.length) throw new EngineError('internal', `tearing down the network of container ${rec?.name ?? containerId}: ${errors.join('; ')}`);
  }

  /** Under the lock: netavark teardown and the addresses; the record then names only what is the container's own. */
  private async releaseLocked(rec: SandboxRecord): Promise<string[]> {
    const names = Object.keys(rec.networks);
    if (rec.mode !== 'bridge' || !names.length) return [];
    const errors = await this.netavarkDown(rec, names);
    for (const n of Object.values(rec.networks)) await this.d.ipam.release(n.network.id, rec.containerId);
    await this.save({ ...rec, networks: {}, ports: [], ready: false });
    return errors;
  }

  /** The container's own namespace, then its record (no lock needed: nothing else uses them). */
  private async removeOwn(rec: SandboxRecord): Promise<string[]> {
    const errors: string[] = [];
    if (rec.ownsNetns) await removeNetns(rec.netnsPath).catch((e: Error) => errors.push(e.message));
    await unlink(this.file(rec.containerId)).catch(() => {});
    return errors;
  }

  private async teardownLocked(rec: SandboxRecord): Promise<void> {
    const errors = [...(await this.releaseLocked(rec)), ...(await this.removeOwn(rec))];
    if (errors.length) throw new EngineError('internal', `tearing down the network of container ${rec.name}: ${errors.join('; ')}`);
  }

  /**
   * netavark teardown of `names`. Without the namespace (lost to a crash) an empty one stands
   * in, so the firewall rules and DNS entries still go.
   */
  private async netavarkDown(rec: SandboxRecord, names: string[]): Promise<string[]> {
    const opts = this.options(rec, names, rec.ports);
    // Only networks that got addresses were set up (a failed setup may not have got that far).
    for (const n of names) {
      const { network, perNetwork } = rec.networks[n]!;
      if (perNetwork.static_ips?.length) continue;
      delete opts.networks[network.id];
      delete opts.network_info[network.id];
    }
    if (Object.keys(opts.networks).length === 0) return [];
    let netns = rec.netnsPath;
    let stand = '';
    if (!(await isMounted(netns))) {
      stand = join(this.d.netnsDir, `.teardown-${rec.containerId}`);
      await removeNetns(stand).catch(() => {});
      await createNetns(stand);
      netns = stand;
    }
    try {
      await netavarkTeardown(this.d.tools(), netns, opts);
      for (const n of names) {
        const { network } = rec.networks[n]!;
        if (!existsSync(`/sys/class/net/${network.network_interface}`)) await dropEmptyChains(network);
      }
      return [];
    } catch (err) {
      // Without the namespace, the veth is gone already: that part of the error is expected.
      return stand ? [] : [(err as Error).message];
    } finally {
      if (stand) await removeNetns(stand).catch(() => {});
    }
  }

  async connect(containerId: string, network: NetworkConfig, req: PerNetworkRequest): Promise<NetworkAttachment> {
    if (req.staticIPs?.length) await this.settleAll();
    return this.locked(async () => {
      const rec = await this.read(containerId);
      if (!rec?.ready) throw new EngineError('invalid-argument', `container ${containerId} has no network set up (is it running?)`);
      if (rec.mode !== 'bridge') throw new EngineError('invalid-argument', `container ${rec.name} is not in bridge network mode: it cannot join networks`);
      if (rec.networks[network.name]) throw new EngineError('conflict', `container ${rec.name} is already connected to network ${network.name}`);
      const used = new Set(Object.values(rec.networks).map((n) => n.perNetwork.interface_name));
      let ifname = req.interfaceName;
      for (let i = 0; !ifname; i++) if (!used.has(`eth${i}`)) ifname = `eth${i}`;
      if (used.has(ifname)) throw new EngineError('conflict', `interface ${ifname} already exists in container ${rec.name}`);
      rec.networks[network.name] = { network, perNetwork: perNetwork(ifname, req), request: req };
      try {
        await this.attach(rec, [network.name], []);
      } catch (err) {
        await this.netavarkDown(rec, [network.name]).catch(() => {});
        await this.d.ipam.release(network.id, rec.containerId);
        delete rec.networks[network.name];
        await this.save(rec);
        throw err instanceof EngineError ? err : new EngineError('internal', `connecting container ${rec.name} to network ${network.name}: ${(err as Error).message}`, err);
      }
      await this.save(rec);
      return rec.networks[network.name]!.attachment!;
    });
  }

  async disconnect(containerId: string, networkName: string): Promise<void> {
    await this.locked(async () => {
      const rec = await this.read(containerId);
      const n = rec?.networks[networkName];
      if (!rec || !n) throw new EngineError('not-found', `container ${rec?.name ?? containerId} is not connected to network ${networkName}`);
      const errors = await this.netavarkDown(rec, [networkName]);
      await this.d.ipam.release(n.network.id, rec.containerId);
      delete rec.networks[networkName];
      await this.save(rec);
      if (errors.length) throw new EngineError('internal', errors.join('; '));
    });
  }

  async status(containerId: string): Promise<SetupContainerNetworkReport | undefined> {
    const rec = await this.read(containerId);
    return rec?.ready ? this.report(rec) : undefined;
  }

  private async report(rec: SandboxRecord): Promise<SetupContainerNetworkReport> {
    if (rec.mode === 'container' && rec.joined) {
      const other = await this.read(rec.joined);
      if (other) return { ...(await this.report(other)), netnsPath: rec.netnsPath };
    }
    const status: Record<string, NetworkAttachment> = {};
    const hostsEntries: SetupContainerNetworkReport['hostsEntries'] = [];
    const nameservers: string[] = [];
    const search: string[] = [];
    let gateway = '';
    for (const [name, n] of Object.entries(rec.networks)) {
      if (!n.attachment) continue;
      status[name] = n.attachment;
      for (const a of n.attachment.addresses) {
        hostsEntries.push({ ip: a.address, names: [rec.name] });
        if (!gateway && a.family === 4 && a.gateway) gateway = a.gateway;
      }
      if (n.network.dns_enabled) {
        for (const s of n.network.subnets) if (s.gateway && !nameservers.includes(s.gateway)) nameservers.push(s.gateway);
        if (!search.includes('dns.podman')) search.push('dns.podman');
      }
    }
    if (gateway) hostsEntries.push({ ip: gateway, names: ['host.containers.internal', 'host.docker.internal'] });
    return {
      netnsPath: rec.netnsPath,
      status,
      ports: rec.ports,
      hostsEntries,
      resolvConf: { nameservers, search, useHost: nameservers.length === 0 },
    };
  }
}

function perNetwork(ifname: string, req: PerNetworkRequest): NetavarkPerNetwork {
  const p: NetavarkPerNetwork = { interface_name: ifname };
  if (req.aliases?.length) p.aliases = [...new Set(req.aliases)];
  if (req.staticMac) {
    const mac = normalizeMac(req.staticMac);
    if (!mac) throw new EngineError('invalid-argument', `invalid MAC address "${req.staticMac}"`);
    p.static_mac = mac;
  }
  return p;
}

function attachment(n: SandboxNetwork, s: NetavarkStatus | undefined): NetworkAttachment {
  const iface = s?.interfaces?.[n.perNetwork.interface_name];
  const addresses = (iface?.subnets ?? []).flatMap((sub) => {
    const ip = parseIpNet(sub.ipnet);
    return ip ? [{ address: formatAddr(ip.addr), prefixLength: ip.prefix, gateway: sub.gateway ?? '', family: ip.addr.family }] : [];
  });
  return {
    networkId: n.network.id,
    networkName: n.network.name,
    interfaceName: n.perNetwork.interface_name,
    macAddress: iface?.mac_address ?? '',
    addresses,
    aliases: n.perNetwork.aliases ?? [],
    staticIPs: n.request.staticIPs ?? [],
    staticMac: n.perNetwork.static_mac ?? '',
  };
}
