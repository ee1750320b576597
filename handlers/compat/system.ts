// Compat system operations: ping, version, info, events.
import type { operations } from '../../generated/docker.js';
import { toDockerInfo, toDockerVersion } from '../convert/system.js';
import { streamEvents } from '../events.js';
import { answerPing } from '../ping.js';
import { registryHandlers } from './images-registry.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 'SystemPing' | 'SystemPingHead' | 'SystemVersion' | 'SystemInfo' | 'SystemEvents' | 'SystemAuth' | 'SystemDataUsage'>;

export const systemHandlers: HandlerTable<Ops> = {
  ...notImplemented(['SystemDataUsage'] as const),
  SystemAuth: registryHandlers.SystemAuth,
  SystemPing: ({ ctx }) => answerPing(ctx),
  SystemPingHead: ({ ctx }) => answerPing(ctx),
  SystemVersion: async ({ engine }) => toDockerVersion(await engine.systemVersion()),
  SystemInfo: async ({ engine }) => toDockerInfo(await engine.systemInfo()),
  SystemEvents: (req) => streamEvents(req, req.query, 'compat'),
};
