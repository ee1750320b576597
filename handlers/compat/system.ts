// Compat system operations: ping, version, info, events, disk usage.
import type { operations } from '../../generated/docker.js';
import { toDockerDataUsage } from '../convert/maintenance.js';
import { toDockerInfo, toDockerVersion } from '../convert/system.js';
import { streamEvents } from '../events.js';
import { answerPing } from '../ping.js';
import { registryHandlers } from './images-registry.js';
import type { HandlerTable } from '../types.js';

type Ops = Pick<operations, 'SystemPing' | 'SystemPingHead' | 'SystemVersion' | 'SystemInfo' | 'SystemEvents' | 'SystemAuth' | 'SystemDataUsage'>;

export const systemHandlers: HandlerTable<Ops> = {
  SystemAuth: registryHandlers.SystemAuth,
  SystemPing: ({ ctx }) => answerPing(ctx),
  SystemPingHead: ({ ctx }) => answerPing(ctx),
  SystemVersion: async ({ engine }) => toDockerVersion(await engine.systemVersion()),
  SystemInfo: async ({ engine }) => toDockerInfo(await engine.systemInfo()),
  SystemEvents: (req) => streamEvents(req, req.query, 'compat'),
  SystemDataUsage: async ({ engine }) => toDockerDataUsage(await engine.systemDataUsage()),
};
