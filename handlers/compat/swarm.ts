// Compat operations of Docker Swarm, plugins and sessions. Like Podman, tspod is no swarm node:
// the swarm paths answer 503 (the client may still use everything else); plugins and
// sessions are not implemented.
import type { operations } from '../../generated/docker.js';
import { EngineError } from '../../engine/errors.js';
import { notImplemented, type Handler, type HandlerTable } from '../types.js';

type SwarmOps = 
  | "NodeList"
  | "NodeInspect"
  | "NodeDelete"
  | "NodeUpdate"
  | "SwarmInspect"
  | "SwarmInit"
  | "SwarmJoin"
  | "SwarmLeave"
  | "SwarmUpdate"
  | "SwarmUnlockkey"
  | "SwarmUnlock"
  | "ServiceList"
  | "ServiceCreate"
  | "ServiceInspect"
  | "ServiceDelete"
  | "ServiceUpdate"
  | "ServiceLogs"
  | "TaskList"
  | "TaskInspect"
  | "TaskLogs"
  | "ConfigList"
  | "ConfigCreate"
  | "ConfigInspect"
  | "ConfigDelete"
  | "ConfigUpdate";
type OtherOps = 
  | "PluginList"
  | "GetPluginPrivileges"
  | "PluginPull"
  | "PluginInspect"
  | "PluginDelete"
  | "PluginEnable"
  | "PluginDisable"
  | "PluginUpgrade"
  | "PluginCreate"
  | "PluginPush"
  | "PluginSet"
  | "Session";

const noSwarm: Handler = ({ ctx }) => {
  throw new EngineError('unavailable', `tspod does not support service: ${ctx.originalUrl}`, undefined, 'node is not part of a swarm');
};

const SWARM_OPERATIONS: readonly SwarmOps[] = [
  "NodeList",
  "NodeInspect",
  "NodeDelete",
  "NodeUpdate",
  "SwarmInspect",
  "SwarmInit",
  "SwarmJoin",
  "SwarmLeave",
  "SwarmUpdate",
  "SwarmUnlockkey",
  "SwarmUnlock",
  "ServiceList",
  "ServiceCreate",
  "ServiceInspect",
  "ServiceDelete",
  "ServiceUpdate",
  "ServiceLogs",
  "TaskList",
  "TaskInspect",
  "TaskLogs",
  "ConfigList",
  "ConfigCreate",
  "ConfigInspect",
  "ConfigDelete",
  "ConfigUpdate",
];

export const swarmHandlers: HandlerTable<Pick<operations, SwarmOps | OtherOps>> = {
  ...(Object.fromEntries(SWARM_OPERATIONS.map((id) => [id, noSwarm])) as Record<SwarmOps, Handler>),
  ...notImplemented([
    "PluginList",
    "GetPluginPrivileges",
    "PluginPull",
    "PluginInspect",
    "PluginDelete",
    "PluginEnable",
    "PluginDisable",
    "PluginUpgrade",
    "PluginCreate",
    "PluginPush",
    "PluginSet",
    "Session",
  ] as const),
};
