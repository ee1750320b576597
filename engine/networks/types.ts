// The networks domain's types: the stored network definition (Podman's network JSON), the
// engine methods the API handlers call, and the container-side contract (setup/teardown of a
// container's network namespace) the containers domain calls.

/** One subnet of a network, as Podman and netavark write it. */
export interface NetworkSubnet {
  subnet: string;
  gateway?: string;
  lease_range?: { start_ip?: string; end_ip?: string };
}

/** A network definition: Podman's network JSON, stored as <root>/networks/<name>.json. */
export interface NetworkConfig {
  name: string;
  /** 64 hex digits. */
  id: string;
  driver: 'bridge';
  /** The bridge on the host. */
  network_interface: string;
  /** RFC 3339 with ns. */
  created: string;
  subnets: NetworkSubnet[];
  ipv6_enabled: boolean;
  internal: boolean;
  dns_enabled: boolean;
  labels?: Record<string, string>;
  /** mtu, isolate, metric. */
  options?: Record<string, string>;
  ipam_options: Record<string, string>;
  network_dns_servers?: string[];
}

/** One address of a container on a network. */
export interface AttachedAddress {
  /** The container's address. */
  address: string;
  prefixLength: number;
  gateway: string;
  family: 4 | 6;
}

/** A container's attachment to one network, as set up. */
export interface NetworkAttachment {
  networkId: string;
  networkName: string;
  interfaceName: string;
  macAddress: string;
  addresses: AttachedAddress[];
  aliases: string[];
  /** Asked for explicitly (IPAMConfig / static_ips), kept for inspect. */
  staticIPs: string[];
  staticMac: string;
}

export type Protocol = 'tcp' | 'udp' | 'sctp';

/** A port to publish. hostPort 0 asks for a free port; range > 1 publishes that many consecutive ports. */
export interface PortRequest {
  containerPort: number;
  protocol: Protocol;
  /** "" for every address. */
  hostIP: string;
  hostPort: number;
  range?: number;
}

/** A published port, host port resolved. */
export interface PublishedPort {
  containerPort: number;
  protocol: Protocol;
  hostIP: string;
  hostPort: number;
  range: number;
}

/** Per-network options of one container. */
export interface PerNetworkRequest {
  aliases?: string[];
  staticIPs?: string[];
  staticMac?: string;
  interfaceName?: string;
}

/**
 * Where a container's network namespace comes from: 'bridge' (own namespace, on the networks
 * named in `networks` or the default one), 'none' (own namespace, loopback only), 'host' (the
 * host's), {container: id} (another container's, which must be set up), {ns: path} (an
 * existing namespace file, not managed by tspod).
 */
export type NetworkMode = 'bridge' | 'none' | 'host' | { container: string } | { ns: string };

export interface SetupContainerNetworkOptions {
  containerId: string;
  /** The container name (aardvark-dns answers it). */
  name: string;
  mode: NetworkMode;
  /** Bridge mode: networks by name or ID with their options; empty or absent = the default network. */
  networks?: Record<string, PerNetworkRequest>;
  portMappings?: PortRequest[];
  /** -P: publish every exposed port ("80/tcp", "53/udp", "8080") on a free host port. */
  publishAll?: boolean;
  exposedPorts?: string[];
  /** Upstream servers aardvark-dns uses for this container (--dns), instead of the host's. */
  dnsServers?: string[];
}

/** What a caller of setupContainerNetwork may learn before the setup is complete. */
export interface SetupContainerNetworkStages {
  /** The namespace exists (nothing attached yet): runc may create the container in it now. */
  namespaceReady?: (netnsPath: string) => void;
}

export interface SetupContainerNetworkReport {
  /** The namespace file to give runc (namespaces: [{type: network, path}]); '' for host mode. */
  netnsPath: string;
  /** By network name. Empty except in bridge mode (container mode: the other container's). */
  status: Record<string, NetworkAttachment>;
  ports: PublishedPort[];
  /** Lines for /etc/hosts besides localhost: the container's addresses and host.containers.internal. */
  hostsEntries: Array<{ ip: string; names: string[] }>;
  /**
   * For /etc/resolv.conf. With a DNS-enabled network, nameservers are aardvark-dns addresses
   * and `useHost` is false; otherwise nameservers is empty and `useHost` says to copy the host's
   * (without 127.x resolvers: the container cannot reach them).
   */
  resolvConf: { nameservers: string[]; search: string[]; useHost: boolean };
}

/** A container as the networks domain knows it (through its hooks, or its own attachments). */
export interface NetworkUser {
  id: string;
  name: string;
}

/**
 * What the networks domain asks of the containers domain, registered with setContainerHooks.
 * Without hooks, only containers whose network is set up (running ones) are known.
 */
export interface NetworkContainerHooks {
  /** Containers in any state whose configuration names the network (by its name). */
  containersUsing(networkName: string): Promise<NetworkUser[]>;
  /**
   * NetworkConnect: record the network (with options) on the container, running or not, and, when
   * it runs, call connectContainerNetwork. Throws not-found for an unknown container, conflict
   * when it is already connected.
   */
  connect(containerRef: string, networkName: string, opts: PerNetworkRequest): Promise<NetworkUser>;
  /** NetworkDisconnect: the reverse (disconnectContainerNetwork when it runs). */
  disconnect(containerRef: string, networkName: string, force: boolean): Promise<NetworkUser>;
  /** Libpod network rm --force: remove the containers using the network (as Podman). */
  removeContainers?(ids: string[]): Promise<void>;
}

// ---- engine methods (handlers call these through the Engine interface) ----

export interface NetworkCreateOptions {
  name?: string;
  driver?: string;
  /** Bridge name. */
  networkInterface?: string;
  /** ipRange: Docker's IPAM IPRange (a CIDR inside the subnet), becomes the lease range. */
  subnets?: Array<NetworkSubnet & { ipRange?: string }>;
  ipv6?: boolean;
  internal?: boolean;
  dnsEnabled?: boolean;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  ipamOptions?: Record<string, string>;
  networkDnsServers?: string[];
  /** Answer the existing network instead of a conflict. */
  ignoreIfExists?: boolean;
}

export interface NetworkCreateReport {
  network: NetworkConfig;
  /** Set when an existing network was answered (ignoreIfExists). */
  existed: boolean;
}

/** A container attached to a network, for inspect. */
export interface NetworkContainerReport {
  id: string;
  name: string;
  interfaceName: string;
  macAddress: string;
  addresses: AttachedAddress[];
}

export interface NetworkInspectReport {
  network: NetworkConfig;
  /** tspod's default network (Libpod `podman`, compat `bridge`). */
  isDefault: boolean;
  containers: NetworkContainerReport[];
  /** Docker's IPAM IPRange per subnet with a lease range (the smallest CIDR holding it). */
  ipRanges: Record<string, string>;
}

export interface NetworkRemoveReport {
  name: string;
  id: string;
  error?: string;
}

export interface NetworkConnectOptions extends PerNetworkRequest {
  container: string;
}

export interface NetworksEngine {
  networkCreate(opts: NetworkCreateOptions): Promise<NetworkCreateReport>;
  /** Filters: name, id, driver, label (key, key=value; label! negates), dangling, type (custom/builtin), until. */
  networkList(filters: Record<string, string[]>, opts?: { compat?: boolean }): Promise<NetworkInspectReport[]>;
  /** By name, full ID or unique ID prefix; not-found otherwise. `bridge` is the default network when `compat`. */
  networkInspect(nameOrId: string, opts?: { compat?: boolean }): Promise<NetworkInspectReport>;
  networkExists(nameOrId: string): Promise<boolean>;
  /** Conflict while a container uses it (unless force: then those containers are removed). */
  networkRemove(nameOrId: string, opts?: { force?: boolean; compat?: boolean }): Promise<NetworkRemoveReport>;
  /** Removes unused user networks; filters: label, label!, until. */
  networkPrune(filters: Record<string, string[]>): Promise<NetworkRemoveReport[]>;
  networkConnect(nameOrId: string, opts: NetworkConnectOptions, flags?: { compat?: boolean }): Promise<void>;
  networkDisconnect(nameOrId: string, opts: { container: string; force?: boolean }, flags?: { compat?: boolean }): Promise<void>;
}
