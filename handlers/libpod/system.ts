// Libpod system operations: ping, version, info, events, disk usage, prune.
import type { operations } from '../../generated/libpod.js';
import { toLibpodDataUsage, toLibpodSystemPrune } from '../convert/maintenance.js';
import { toDockerVersion, toLibpodInfo } from '../convert/system.js';
import { parseFilters } from '../filters.js';
import { streamEvents } from '../events.js';
import { answerPing } from '../ping.js';
import type { HandlerTable } from '../types.js';

type Ops = Pick<operations, 'SystemPing' | 'SystemVersionLibpod' | 'SystemInfoLibpod' | 'SystemEventsLibpod' | 'SystemDataUsageLibpod' | 'SystemPruneLibpod'>;

export const systemHandlers: HandlerTable<Ops> = {
  SystemPing: ({ ctx }) => answerPing(ctx),
  SystemVersionLibpod: async ({ engine }) => toDockerVersion(await engine.systemVersion()),
  SystemInfoLibpod: async ({ engine }) => {
    const [info, version] = await Promise.all([engine.systemInfo(), engine.systemVersion()]);
    return toLibpodInfo(info, version);
  },
  SystemEventsLibpod: (req) => streamEvents(req, req.query, 'libpod'),
  SystemDataUsageLibpod: async ({ engine }) => toLibpodDataUsage(await engine.systemDataUsage()),
  SystemPruneLibpod: async ({ engine, query }) => {
    return toLibpodSystemPrune(await engine.systemPrune({ all: query.all, volumes: query.volumes, filters: parseFilters(query.filters) }));
  },
};
