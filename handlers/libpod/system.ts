// Libpod system operations: ping, version, info, events.
import type { operations } from '../../generated/libpod.js';
import { toDockerVersion, toLibpodInfo } from '../convert/system.js';
import { streamEvents } from '../events.js';
import { answerPing } from '../ping.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 'SystemPing' | 'SystemVersionLibpod' | 'SystemInfoLibpod' | 'SystemEventsLibpod' | 'SystemDataUsageLibpod' | 'SystemPruneLibpod'>;

export const systemHandlers: HandlerTable<Ops> = {
  ...notImplemented(['SystemDataUsageLibpod', 'SystemPruneLibpod'] as const),
  SystemPing: ({ ctx }) => answerPing(ctx),
  SystemVersionLibpod: async ({ engine }) => toDockerVersion(await engine.systemVersion()),
  SystemInfoLibpod: async ({ engine }) => {
    const [info, version] = await Promise.all([engine.systemInfo(), engine.systemVersion()]);
    return toLibpodInfo(info, version);
  },
  SystemEventsLibpod: (req) => streamEvents(req, req.query, 'libpod'),
};
