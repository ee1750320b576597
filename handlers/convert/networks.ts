// Network reports -> the Docker and Libpod answer shapes; API create bodies -> create options.
import { createHash } from 'node:crypto';
import type { NetworkAttachment, NetworkCreateOptions, NetworkInspectReport } from '../../engine/networks/types.js';

const endpointId = (containerId: string, networkId: string) => createHash('sha256').update(`${containerId}/${networkId}`).digest('hex');

/** The Docker Network object. The default network is named "bridge" here, as Podman does. */
export function toDockerNetwork(r: NetworkInspectReport) {
  const n = r.network;
  const containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }> = {};
  for (const c of r.containers) {
    const v4 = c.addresses.find((a) => a.family === 4);
    const v6 = c.addresses.find((a) => a.family === 6);
    containers[c.id] = {
      Name: c.name,
      EndpointID: endpointId(c.id, n.id),
      MacAddress: c.macAddress,
      IPv4Address: v4 ? `${v4.address}/${v4.prefixLength}` : '',
      IPv6Address: v6 ? `${v6.address}/${v6.prefixLength}` : '',
    };
  }
  return {
    Name: r.isDefault ? 'bridge' : n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: n.driver,
    EnableIPv6: n.ipv6_enabled,
    IPAM: {
      Driver: 'default',
      // docker-compose compares these with the project's: only what the user set belongs here.
      Options: {},
      Config: n.subnets.map((s) => ({
        Subnet: s.subnet,
        ...(s.gateway ? { Gateway: s.gateway } : {}),
        ...(r.ipRanges[s.subnet] ? { IPRange: r.ipRanges[s.subnet] } : {}),
      })),
    },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    Containers: containers,
    Options: { ...n.options },
    Labels: { ...n.labels },
  };
}

/**
 * One entry of a container's NetworkSettings.Networks (Docker EndpointSettings) from its
 * attachment (networks.containerNetworkStatus(id).status[name]); the default network's key is
 * "bridge" on the compat API.
 */
export function toDockerEndpoint(a: NetworkAttachment, containerId: string) {
  const v4 = a.addresses.find((x) => x.family === 4);
  const v6 = a.addresses.find((x) => x.family === 6);
  const s4 = a.staticIPs.find((ip) => !ip.includes(':'));
  const s6 = a.staticIPs.find((ip) => ip.includes(':'));
  return {
    IPAMConfig: s4 || s6 ? { ...(s4 ? { IPv4Address: s4 } : {}), ...(s6 ? { IPv6Address: s6 } : {}) } : null,
    Links: null,
    Aliases: [...a.aliases],
    NetworkID: a.networkId,
    EndpointID: endpointId(containerId, a.networkId),
    Gateway: v4?.gateway ?? '',
    IPAddress: v4?.address ?? '',
    IPPrefixLen: v4?.prefixLength ?? 0,
    IPv6Gateway: v6?.gateway ?? '',
    GlobalIPv6Address: v6?.address ?? '',
    GlobalIPv6PrefixLen: v6?.prefixLength ?? 0,
    MacAddress: a.macAddress,
    DriverOpts: null,
  };
}

/** The Libpod Network object (list, create). */
export function toLibpodNetwork(r: NetworkInspectReport | { network: NetworkInspectReport['network'] }) {
  return { ...r.network };
}

/** The Libpod inspect answer: the network with its running containers' interfaces. */
export function toLibpodNetworkInspect(r: NetworkInspectReport) {
  const containers: Record<string, { name: string; interfaces: Record<string, { subnets: Array<{ ipnet: string; gateway?: string }>; mac_address: string }> }> = {};
  for (const c of r.containers) {
    containers[c.id] = {
      name: c.name,
      interfaces: {
        [c.interfaceName]: {
          subnets: c.addresses.map((a) => ({ ipnet: `${a.address}/${a.prefixLength}`, ...(a.gateway ? { gateway: a.gateway } : {}) })),
          mac_address: c.macAddress,
        },
      },
    };
  }
  return { ...r.network, containers };
}

type DockerCreateBody = {
  Name?: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Internal?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: Array<Record<string, string> | null> | null; Options?: Record<string, string> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
} | null | undefined;

// Docker driver options that mean something to a bridge network; Podman ignores the others
// with a warning (docker-compose sends e.g. com.docker.network.bridge.enable_icc).
const DOCKER_OPTIONS = new Set(['mtu', 'com.docker.network.driver.mtu', 'com.docker.network.bridge.name', 'isolate', 'metric']);

/**
 * The Docker NetworkCreate body as create options (DNS on, as for Docker's user networks) and
 * the Warning to answer. A duplicate name is always a conflict, as Podman: CheckDuplicate is
 * deprecated since API 1.44 and defaults to true for older ones.
 */
export function fromDockerCreate(b: DockerCreateBody): { options: NetworkCreateOptions; warning: string } {
  const ipamDriver = b?.IPAM?.Driver;
  const options: Record<string, string> = {};
  const ignored: string[] = [];
  for (const [k, v] of Object.entries(b?.Options ?? {})) {
    if (DOCKER_OPTIONS.has(k)) options[k] = v;
    else ignored.push(`"${k}: ${v}" is not a recognized option`);
  }
  return {
    options: {
      name: b?.Name ?? '',
      driver: b?.Driver || 'bridge',
      internal: Boolean(b?.Internal),
      ipv6: Boolean(b?.EnableIPv6),
      dnsEnabled: true,
      labels: b?.Labels ?? {},
      options,
      ipamOptions: ipamDriver && ipamDriver !== 'default' ? { driver: ipamDriver } : {},
      subnets: (b?.IPAM?.Config ?? []).filter((c): c is Record<string, string> => !!c).map((c) => ({
        subnet: c.Subnet ?? '',
        ...(c.Gateway ? { gateway: c.Gateway } : {}),
        ...(c.IPRange ? { ipRange: c.IPRange } : {}),
      })),
    },
    warning: ignored.join('; '),
  };
}

type LibpodCreateBody = {
  name?: string;
  driver?: string;
  network_interface?: string;
  subnets?: Array<{ subnet?: string; gateway?: string; lease_range?: { start_ip?: string; end_ip?: string } | null } | null> | null;
  ipv6_enabled?: boolean;
  internal?: boolean;
  dns_enabled?: boolean;
  labels?: Record<string, string> | null;
  options?: Record<string, string> | null;
  ipam_options?: Record<string, string> | null;
  network_dns_servers?: string[] | null;
} | null | undefined;

export function fromLibpodCreate(b: LibpodCreateBody): NetworkCreateOptions {
  return {
    name: b?.name ?? '',
    driver: b?.driver || 'bridge',
    networkInterface: b?.network_interface || undefined,
    subnets: (b?.subnets ?? []).filter((s) => !!s).map((s) => ({
      subnet: s!.subnet ?? '',
      ...(s!.gateway ? { gateway: s!.gateway } : {}),
      ...(s!.lease_range ? { lease_range: { ...s!.lease_range } } : {}),
    })),
    ipv6: Boolean(b?.ipv6_enabled),
    internal: Boolean(b?.internal),
    dnsEnabled: Boolean(b?.dns_enabled),
    labels: b?.labels ?? {},
    options: b?.options ?? {},
    ipamOptions: b?.ipam_options ?? {},
    networkDnsServers: b?.network_dns_servers ?? [],
  };
}
