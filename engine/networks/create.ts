// A network definition from create options: validation, Docker option names mapped to
// Podman's, and the subnets and bridge name picked against everything that holds one already
// (see host.ts). Automatic IPv4 subnets come from containers.conf's default_subnet_pools walked
// from the top down: Podman walks the same pools from the bottom up, so a tspod and a Podman on
// one host reach each other's subnets last.
import { randomBytes } from 'node:crypto';
import { EngineError } from '../errors.js';
import { eventClockNs } from '../events/time.js';
import type { SubnetPool } from '../config/containers-conf.js';
import type { Holder, HostNetworkFacts } from './host.js';
import { contains, formatAddr, formatCidr, hostRange, lastAddr, nthSubnet, overlaps, parseAddr, parseCidr, subnetCount, type Cidr } from './ip.js';
import { NAME_RE } from './store.js';
import type { NetworkConfig, NetworkCreateOptions, NetworkSubnet } from './types.js';

const invalid = (m: string) => new EngineError('invalid-argument', m);

/** Names that are network modes, not networks. */
export const RESERVED_NAMES = new Set(['bridge', 'host', 'none', 'default', 'private', 'container', 'ns', 'slirp4netns', 'pasta']);

/** Docker driver options Podman accepts and ignores. */
const IGNORED_DOCKER_OPTIONS = new Set([
  'com.docker.network.bridge.default_bridge',
  'com.docker.network.bridge.enable_icc',
  'com.docker.network.bridge.enable_ip_masquerade',
  'com.docker.network.bridge.host_binding_ipv4',
  'com.docker.network.bridge.gateway_mode_ipv4',
  'com.docker.network.bridge.gateway_mode_ipv6',
  'com.docker.network.container_iface_prefix',
]);

export interface Occupancy {
  /** Networks of this instance, other instances and Podman. */
  holders: Holder[];
  host: HostNetworkFacts;
}

export interface BuildContext {
  occupancy: Occupancy;
  pools: SubnetPool[];
  /** For the default network: the subnet to try first (containers.conf default_subnet). */
  preferredSubnet?: string;
  /** The default network is built by tspod itself: its name is allowed. */
  isDefault?: boolean;
  takenNames: Set<string>;
}

export function nowRfc3339(): string {
  const ns = eventClockNs();
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

function options(raw: Record<string, string>): { opts: Record<string, string>; bridge?: string } {
  const opts: Record<string, string> = {};
  let bridge: string | undefined;
  for (const [k, v] of Object.entries(raw)) {
    if (k === 'mtu' || k === 'com.docker.network.driver.mtu') {
      if (!/^\d+$/.test(v) || Number(v) > 65536) throw invalid(`invalid mtu "${v}"`);
      if (Number(v) > 0) opts.mtu = v;
    } else if (k === 'isolate') {
      if (!['true', 'false', '1', '0'].includes(v)) throw invalid(`invalid isolate option "${v}": expected true or false`);
      opts.isolate = String(v === 'true' || v === '1');
    } else if (k === 'metric') {
      if (!/^\d+$/.test(v)) throw invalid(`invalid metric "${v}"`);
      opts.metric = v;
    } else if (k === 'com.docker.network.bridge.name') {
      bridge = v;
    } else if (!IGNORED_DOCKER_OPTIONS.has(k)) {
      throw invalid(`unsupported bridge network option "${k}"`);
    }
  }
  return { opts, bridge };
}

function checkBridgeName(name: string): void {
  if (name.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(name) || name === '.' || name === '..') {
    throw invalid(`invalid bridge name "${name}": at most 15 letters, digits, "_", "." or "-"`);
  }
}

function subnetHolder(c: Cidr, occ: Occupancy, own: Cidr[]): string | undefined {
  for (const o of own) if (overlaps(o, c)) return `another subnet of the same network (${formatCidr(o)})`;
  for (const h of occ.holders) {
    const hit = h.subnets.find((s) => overlaps(s, c));
    if (hit) return `${h.what} (${formatCidr(hit)})`;
  }
  const route = occ.host.used.find((u) => overlaps(u.cidr, c));
  if (route) return `the host (${formatCidr(route.cidr)} on ${route.dev || 'an interface'})`;
  return undefined;
}

function pickV4(ctx: BuildContext, own: Cidr[]): Cidr {
  if (ctx.preferredSubnet) {
    const c = parseCidr(ctx.preferredSubnet, true);
    if (c && !subnetHolder(c, ctx.occupancy, own)) return c;
  }
  for (const pool of [...ctx.pools].reverse()) {
    const base = parseCidr(pool.base, true);
    if (!base || base.family !== 4) continue;
    for (let i = subnetCount(base, pool.size) - 1n; i >= 0n; i--) {
      const c = nthSubnet(base, pool.size, i)!;
      if (!subnetHolder(c, ctx.occupancy, own)) return c;
    }
  }
  throw new EngineError('internal', 'could not find a free subnet in the default subnet pools (containers.conf default_subnet_pools)');
}

function pickV6(ctx: BuildContext, own: Cidr[]): Cidr {
  // A random unique local /64, as Podman: fdXX:XXXX:XXXX:XXXX::/64.
  for (let i = 0; i < 100; i++) {
    const b = randomBytes(7);
    const network = (0xfdn << 120n) | (BigInt(`0x${b.toString('hex')}`) << 64n);
    const c: Cidr = { family: 6, network, prefix: 64 };
    if (!subnetHolder(c, ctx.occupancy, own)) return c;
  }
  throw new EngineError('internal', 'could not find a free IPv6 subnet');
}

function checkSubnet(s: NetworkSubnet & { ipRange?: string }, ctx: BuildContext, own: Cidr[]): { sub: NetworkSubnet; cidr: Cidr } {
  const loose = parseCidr(String(s.subnet ?? ''));
  if (!loose) throw invalid(`invalid subnet "${s.subnet}"`);
  const cidr = parseCidr(String(s.subnet), true);
  if (!cidr) throw invalid(`invalid subnet "${s.subnet}": not a network address (${formatCidr(loose)} is)`);
  if ((cidr.family === 4 && cidr.prefix > 30) || (cidr.family === 6 && cidr.prefix > 126)) throw invalid(`subnet ${s.subnet} is too small`);
  const holder = subnetHolder(cidr, ctx.occupancy, own);
  if (holder) throw new EngineError('conflict', `subnet ${formatCidr(cidr)} overlaps with ${holder}`);
  const { first, last } = hostRange(cidr);
  const inside = (field: string, v: string | undefined) => {
    if (v === undefined || v === '') return undefined;
    const a = parseAddr(v);
    if (!a || !contains(cidr, a) || a.value < first || a.value > last) throw invalid(`${field} ${v} is not a host address of subnet ${formatCidr(cidr)}`);
    return formatAddr(a);
  };
  const sub: NetworkSubnet = { subnet: formatCidr(cidr) };
  sub.gateway = inside('gateway', s.gateway) ?? formatAddr({ family: cidr.family, value: first });
  let start = inside('lease range start', s.lease_range?.start_ip);
  let end = inside('lease range end', s.lease_range?.end_ip);
  if (s.ipRange) {
    const r = parseCidr(s.ipRange);
    if (!r || r.family !== cidr.family || r.network < cidr.network || lastAddr(r) > lastAddr(cidr)) throw invalid(`IP range ${s.ipRange} is not inside subnet ${formatCidr(cidr)}`);
    start = formatAddr({ family: r.family, value: r.network > first ? r.network : first });
    end = formatAddr({ family: r.family, value: lastAddr(r) < last ? lastAddr(r) : last });
  }
  if (start || end) {
    if (start && end && parseAddr(start)!.value > parseAddr(end)!.value) throw invalid(`lease range ${start}-${end} is empty`);
    sub.lease_range = { ...(start ? { start_ip: start } : {}), ...(end ? { end_ip: end } : {}) };
  }
  return { sub, cidr };
}

function pickBridge(ctx: BuildContext): string {
  const taken = new Set([...ctx.occupancy.host.links, ...ctx.occupancy.holders.map((h) => h.bridge ?? '')]);
  for (let i = 0; i < 100_000; i++) if (!taken.has(`tspod${i}`)) return `tspod${i}`;
  throw new EngineError('internal', 'no free bridge name');
}

export function pickName(taken: Set<string>): string {
  for (let i = 1; ; i++) if (!taken.has(`podman${i}`)) return `podman${i}`;
}

/** Validates create options and builds the definition, with subnets and bridge picked. */
export function buildNetwork(o: NetworkCreateOptions, ctx: BuildContext): NetworkConfig {
  const name = o.name || pickName(ctx.takenNames);
  if (!NAME_RE.test(name)) throw invalid(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-]* is allowed`);
  if (!ctx.isDefault && RESERVED_NAMES.has(name)) throw new EngineError('conflict', `network name "${name}" is reserved: it is a network mode`);
  const driver = o.driver || 'bridge';
  if (driver !== 'bridge' && driver !== 'default') throw invalid(`unsupported network driver "${driver}": tspod supports bridge`);
  const ipamDriver = o.ipamOptions?.driver ?? '';
  if (!['', 'default', 'host-local'].includes(ipamDriver)) throw invalid(`unsupported IPAM driver "${ipamDriver}": tspod supports host-local`);
  const { opts, bridge: optBridge } = options(o.options ?? {});

  const own: Cidr[] = [];
  const subnets: NetworkSubnet[] = [];
  for (const s of o.subnets ?? []) {
    const { sub, cidr } = checkSubnet(s, ctx, own);
    own.push(cidr);
    subnets.push(sub);
  }
  if (!own.some((c) => c.family === 4) && !(o.ipv6 && own.length > 0)) {
    const c = pickV4(ctx, own);
    own.push(c);
    subnets.push({ subnet: formatCidr(c), gateway: formatAddr({ family: 4, value: hostRange(c).first }) });
  }
  if (o.ipv6 && !own.some((c) => c.family === 6)) {
    const c = pickV6(ctx, own);
    own.push(c);
    subnets.push({ subnet: formatCidr(c), gateway: formatAddr({ family: 6, value: hostRange(c).first }) });
  }
  const bridge = o.networkInterface || optBridge;
  if (bridge) {
    checkBridgeName(bridge);
    const holder = ctx.occupancy.holders.find((h) => h.bridge === bridge);
    if (holder) throw new EngineError('conflict', `bridge name ${bridge} is already used by ${holder.what}`);
    if (ctx.occupancy.host.links.has(bridge)) throw new EngineError('conflict', `bridge name ${bridge} is already used by an interface on the host`);
  }

  const dns = (o.networkDnsServers ?? []).map((d) => {
    const a = parseAddr(d);
    if (!a) throw invalid(`invalid DNS server address "${d}"`);
    return formatAddr(a);
  });

  const n: NetworkConfig = {
    name,
    id: randomBytes(32).toString('hex'),
    driver: 'bridge',
    network_interface: bridge || pickBridge(ctx),
    created: nowRfc3339(),
    subnets,
    ipv6_enabled: own.some((c) => c.family === 6),
    internal: Boolean(o.internal),
    dns_enabled: Boolean(o.dnsEnabled),
    ipam_options: { driver: 'host-local' },
  };
  if (o.labels && Object.keys(o.labels).length) n.labels = { ...o.labels };
  if (Object.keys(opts).length) n.options = opts;
  if (dns.length) n.network_dns_servers = dns;
  return n;
}
