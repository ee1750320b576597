// The networks domain: network definitions (create/list/inspect/remove/prune/connect), and the
// network namespaces of containers (netavark + aardvark-dns).
//
// ======================= For the containers domain =======================
// Wiring (engine/local-engine.ts): `const network = openNetworkDomain(ctx)` is built before the
// containers domain, which is given `network.networks` (a NetworksDomain; in a cleanup process
// build one with createNetworksDomain(ctx): cheap, no I/O until used) and registers its side:
//
//   networks.setContainerHooks({
//     containersUsing(networkName)        -> Promise<{id, name}[]>   containers in ANY state whose
//                                            config names the network (network rm answers 409)
//     connect(containerRef, networkName, {aliases, staticIPs, staticMac, interfaceName})
//                                         -> Promise<{id, name}>      NetworkConnect: record the
//                                            network on the container (running or stopped);
//                                            when it runs, call networks.connectContainerNetwork.
//                                            Throw not-found (unknown container) / conflict
//                                            (already connected)
//     disconnect(containerRef, networkName, force) -> Promise<{id, name}>   the reverse
//     removeContainers?(ids)              -> Promise<void>            Libpod network rm --force
//   })
//
// At start, before runc create (the container's network must exist first; with
// { namespaceReady(netnsPath) } as the second argument, runc create may run as soon as the
// namespace exists, while netavark works: the network is complete when the promise resolves):
//
//   const net = await networks.setupContainerNetwork({
//     containerId,                 // 64 hex
//     name,                        // container name: aardvark-dns answers it on DNS networks
//     mode,                        // 'bridge' | 'none' | 'host' | {container: id} | {ns: path}
//     networks: { 'mynet': { aliases: ['web'], staticIPs: ['10.89.0.5'], staticMac, interfaceName } },
//                                  // bridge: by name/ID; {} or absent = the default network,
//                                  //   also named "bridge" or "default" here (Docker bodies)
//     portMappings,                // PortRequest[]: portRequestsFromDocker(HostConfig.PortBindings)
//     publishAll, exposedPorts,    // -P: every exposed port ("80/tcp") on a free host port
//     dnsServers,                  // --dns: upstreams aardvark-dns uses for this container
//   });
//   net.netnsPath   -> runtime spec namespaces: {type: 'network', path: net.netnsPath}
//                      ('' in host mode: no network namespace entry at all)
//   net.status      -> {networkName: {networkId, interfaceName, macAddress, aliases,
//                      addresses: [{address, prefixLength, gateway, family}], staticIPs, staticMac}}
//                      (inspect NetworkSettings.Networks; empty in none/host/ns modes)
//   net.ports       -> PublishedPort[] with host ports resolved: toDockerPorts(net.ports, exposed)
//                      is NetworkSettings.Ports
//   net.hostsEntries -> [{ip, names}] for /etc/hosts (add the hostname to the container's own)
//   net.resolvConf  -> {nameservers, search, useHost}: useHost = copy the host's resolv.conf
//                      (without 127.x servers); otherwise write these (aardvark-dns)
// Errors: EngineError not-found (unknown network), conflict (static IP taken, subnet now used on
// the host), internal naming the port (host port in use): nothing is left behind; the container
// should stay "created". A second setup for the same container tears the first one down.
//
// At cleanup (service or `cleanup` process, also with the service down; idempotent, safe to
// call for a container that never had a network):
//   await networks.teardownContainerNetwork(containerId);
// (the service passes { lingerMs } at an exit: see sandbox.ts; settleTeardowns() ends the wait)
// Running containers: connectContainerNetwork(id, network, {aliases, staticIPs, ...}) ->
//   NetworkAttachment; disconnectContainerNetwork(id, network); containerNetworkStatus(id) ->
//   the report above (undefined when not set up), for inspect of a running container.
// At create: resolveNetwork(ref) (not-found for an unknown network) to fail early.
// Pure helpers: networksFromDocker(HostConfig.NetworkMode, NetworkingConfig.EndpointsConfig) and
//   networksFromLibpod(netns, Networks) -> {mode, networks} for setupContainerNetwork;
//   handlers/convert/networks.ts toDockerEndpoint(attachment, id) -> NetworkSettings.Networks[x].
// ==========================================================================
import type { EngineContext } from '../context.js';
import { NetworksDomain, type NetworksDomainOptions } from './domain.js';
import type { NetworksEngine } from './types.js';

export { NetworksDomain } from './domain.js';
export { portRequestsFromDocker, toDockerPorts, parsePortKey } from './ports.js';
export { networksFromDocker, networksFromLibpod } from './requests.js';
export type * from './types.js';

export function createNetworksDomain(ctx: EngineContext, opts?: NetworksDomainOptions): NetworksDomain {
  return new NetworksDomain(ctx, opts);
}

const ENGINE_METHODS = ['networkCreate', 'networkList', 'networkInspect', 'networkExists', 'networkRemove', 'networkPrune', 'networkConnect', 'networkDisconnect'] as const;

/** For engine/local-engine.ts: the engine methods (a plain object to spread) and the domain. */
export function openNetworkDomain(ctx: EngineContext, opts?: NetworksDomainOptions): { engine: NetworksEngine; networks: NetworksDomain } {
  const networks = createNetworksDomain(ctx, opts);
  const engine = Object.fromEntries(ENGINE_METHODS.map((m) => [m, networks[m].bind(networks)])) as unknown as NetworksEngine;
  return { engine, networks };
}
