// Compat operations on networks. The default network answers as "bridge", as Podman's does.
import type { operations } from '../../generated/docker.js';
import { sendJson } from '../../server/respond.js';
import { fromDockerCreate, toDockerNetwork } from '../convert/networks.js';
import { parseFilters } from '../filters.js';
import type { HandlerTable } from '../types.js';

type Ops = Pick<operations,
  | 'NetworkList'
  | 'NetworkInspect'
  | 'NetworkDelete'
  | 'NetworkCreate'
  | 'NetworkConnect'
  | 'NetworkDisconnect'
  | 'NetworkPrune'
>;

const compat = { compat: true };

export const networksHandlers: HandlerTable<Ops> = {
  NetworkList: async ({ engine, query }) => (await engine.networkList(parseFilters(query.filters), compat)).map(toDockerNetwork),
  NetworkInspect: async ({ engine, path }) => toDockerNetwork(await engine.networkInspect(path.id, compat)),
  NetworkDelete: async ({ engine, path, ctx }) => {
    await engine.networkRemove(path.id, compat);
    ctx.status = 204;
  },
  NetworkCreate: async ({ engine, body, ctx }) => {
    const { options, warning } = fromDockerCreate(body);
    const { network } = await engine.networkCreate(options);
    sendJson(ctx, { Id: network.id, Warning: warning }, 201);
  },
  NetworkConnect: async ({ engine, path, body }) => {
    const ep = body?.EndpointConfig;
    const staticIPs = [ep?.IPAMConfig?.IPv4Address, ep?.IPAMConfig?.IPv6Address].filter((ip): ip is string => !!ip);
    await engine.networkConnect(path.id, { container: body?.Container ?? '', aliases: ep?.Aliases ?? [], staticIPs, staticMac: ep?.MacAddress || undefined }, compat);
    return 'OK';
  },
  NetworkDisconnect: async ({ engine, path, body }) => {
    await engine.networkDisconnect(path.id, { container: body?.Container ?? '', force: Boolean(body?.Force) }, compat);
    return 'OK';
  },
  NetworkPrune: async ({ engine, query }) => {
    const reports = await engine.networkPrune(parseFilters(query.filters));
    return { NetworksDeleted: reports.filter((r) => !r.error).map((r) => r.name) };
  },
};
