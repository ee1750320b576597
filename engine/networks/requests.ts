// The network parts of both APIs' container create bodies as setupContainerNetwork's mode and
// per-network requests (for the containers domain). Pure.
import { EngineError } from '../errors.js';
import type { NetworkMode, PerNetworkRequest } from './types.js';

/** Docker's NetworkingConfig.EndpointsConfig entry (the parts tspod acts on). */
export interface DockerEndpointConfig {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null;
  Aliases?: string[] | null;
  MacAddress?: string;
}

/** Libpod's SpecGenerator Networks entry. */
export interface LibpodNetworkOptions {
  aliases?: string[] | null;
  static_ips?: string[] | null;
  static_mac?: string;
  interface_name?: string;
}

const DEFAULT_NAMES = new Set(['', 'default', 'bridge']);

/**
 * Docker's HostConfig.NetworkMode with NetworkingConfig.EndpointsConfig: "" / "default" /
 * "bridge" (the default network), "host", "none", "container:<id>", "ns:<path>", or a network
 * name; EndpointsConfig adds networks (with aliases, IPAMConfig and MacAddress). In a bridge
 * mode the result always names at least one network ("bridge" meaning the default one).
 */
export function networksFromDocker(
  networkMode: string | undefined,
  endpoints: Record<string, DockerEndpointConfig | null> | null | undefined,
): { mode: NetworkMode; networks: Record<string, PerNetworkRequest> } {
  const nm = networkMode ?? '';
  if (nm === 'host' || nm === 'none') return { mode: nm, networks: {} };
  if (nm.startsWith('container:')) return { mode: { container: nm.slice('container:'.length) }, networks: {} };
  if (nm.startsWith('ns:')) return { mode: { ns: nm.slice(3) }, networks: {} };
  const networks: Record<string, PerNetworkRequest> = {};
  const primary = DEFAULT_NAMES.has(nm) ? 'bridge' : nm;
  const entries = Object.entries(endpoints ?? {});
  // Docker attaches the NetworkMode network; EndpointsConfig may name it (with its options) or add others.
  if (!entries.some(([name]) => name === primary || (primary === 'bridge' && DEFAULT_NAMES.has(name)))) networks[primary] = {};
  for (const [name, ep] of entries) {
    const key = DEFAULT_NAMES.has(name) ? 'bridge' : name;
    const req: PerNetworkRequest = {};
    const ips = [ep?.IPAMConfig?.IPv4Address, ep?.IPAMConfig?.IPv6Address].filter((ip): ip is string => !!ip);
    if (ips.length) req.staticIPs = ips;
    if (ep?.Aliases?.length) req.aliases = [...ep.Aliases];
    if (ep?.MacAddress) req.staticMac = ep.MacAddress;
    networks[key] = req;
  }
  return { mode: 'bridge', networks };
}

/** Libpod's netns {nsmode, value} with Networks: the same, from a SpecGenerator. */
export function networksFromLibpod(
  netns: { nsmode?: string; value?: string } | null | undefined,
  nets: Record<string, LibpodNetworkOptions | null> | null | undefined,
): { mode: NetworkMode; networks: Record<string, PerNetworkRequest> } {
  const mode = netns?.nsmode ?? '';
  switch (mode) {
    case 'host':
      return { mode: 'host', networks: {} };
    case 'none':
    case 'nonetwork':
      return { mode: 'none', networks: {} };
    case 'container':
      return { mode: { container: netns?.value ?? '' }, networks: {} };
    case 'path':
      return { mode: { ns: netns?.value ?? '' }, networks: {} };
    case '':
    case 'bridge':
    case 'default':
    case 'private': {
      const networks: Record<string, PerNetworkRequest> = {};
      for (const [name, o] of Object.entries(nets ?? {})) {
        const req: PerNetworkRequest = {};
        if (o?.aliases?.length) req.aliases = [...o.aliases];
        if (o?.static_ips?.length) req.staticIPs = [...o.static_ips];
        if (o?.static_mac) req.staticMac = o.static_mac;
        if (o?.interface_name) req.interfaceName = o.interface_name;
        networks[name] = req;
      }
      return { mode: 'bridge', networks };
    }
    default:
      throw new EngineError('invalid-argument', `network mode "${mode}" is not supported (bridge, host, none, container, path)`);
  }
}
