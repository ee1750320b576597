// Compat operations on networks.
import type { operations } from '../../generated/docker.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "NetworkList"
  | "NetworkInspect"
  | "NetworkDelete"
  | "NetworkCreate"
  | "NetworkConnect"
  | "NetworkDisconnect"
  | "NetworkPrune"
>;

export const networksHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "NetworkList",
    "NetworkInspect",
    "NetworkDelete",
    "NetworkCreate",
    "NetworkConnect",
    "NetworkDisconnect",
    "NetworkPrune",
  ] as const),
};
