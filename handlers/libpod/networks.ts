// Libpod operations on networks.
import type { operations } from '../../generated/libpod.js';
import { fromLibpodCreate, toLibpodNetwork, toLibpodNetworkInspect } from '../convert/networks.js';
import { parseFilters } from '../filters.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations,
  | 'NetworkDeleteLibpod'
  | 'NetworkConnectLibpod'
  | 'NetworkDisconnectLibpod'
  | 'NetworkExistsLibpod'
  | 'NetworkInspectLibpod'
  | 'NetworkUpdateLibpod'
  | 'NetworkCreateLibpod'
  | 'NetworkListLibpod'
  | 'NetworkPruneLibpod'
>;

export const networksHandlers: HandlerTable<Ops> = {
  // netavark 1.4 (Debian 12) cannot change a running network's DNS servers.
  ...notImplemented(['NetworkUpdateLibpod'] as const),
  NetworkListLibpod: async ({ engine, query }) => (await engine.networkList(parseFilters(query.filters))).map(toLibpodNetwork),
  NetworkInspectLibpod: async ({ engine, path }) => toLibpodNetworkInspect(await engine.networkInspect(path.name)),
  NetworkExistsLibpod: async ({ engine, path, ctx }) => {
    if (!(await engine.networkExists(path.name))) await engine.networkInspect(path.name); // throws not-found
    ctx.status = 204;
  },
  NetworkCreateLibpod: async ({ engine, body, ctx }) => {
    // Podman 5's `network create --ignore` sends ignoreIfExists, which the pinned spec does not list.
    const ignore = ['true', '1'].includes(new URLSearchParams(ctx.querystring).get('ignoreIfExists') ?? '');
    return toLibpodNetwork(await engine.networkCreate({ ...fromLibpodCreate(body), ignoreIfExists: ignore }));
  },
  NetworkDeleteLibpod: async ({ engine, path, query }) => {
    const r = await engine.networkRemove(path.name, { force: Boolean(query.force) });
    return [{ Name: r.name }];
  },
  NetworkConnectLibpod: async ({ engine, path, body }) => {
    await engine.networkConnect(path.name, {
      container: body?.container ?? '',
      aliases: body?.aliases ?? [],
      staticIPs: body?.static_ips ?? [],
      staticMac: body?.static_mac || undefined,
      interfaceName: body?.interface_name || undefined,
    });
    return 'OK';
  },
  NetworkDisconnectLibpod: async ({ engine, path, body }) => {
    await engine.networkDisconnect(path.name, { container: body?.Container ?? '', force: Boolean(body?.Force) });
    return 'OK';
  },
  NetworkPruneLibpod: async ({ engine, query }) => (await engine.networkPrune(parseFilters(query.filters))).map((r) => ({ Name: r.name, ...(r.error ? { Error: r.error } : {}) })),
};
