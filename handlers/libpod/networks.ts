// Libpod operations on networks.
import type { operations } from '../../generated/libpod.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "NetworkDeleteLibpod"
  | "NetworkConnectLibpod"
  | "NetworkDisconnectLibpod"
  | "NetworkExistsLibpod"
  | "NetworkInspectLibpod"
  | "NetworkUpdateLibpod"
  | "NetworkCreateLibpod"
  | "NetworkListLibpod"
  | "NetworkPruneLibpod"
>;

export const networksHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "NetworkDeleteLibpod",
    "NetworkConnectLibpod",
    "NetworkDisconnectLibpod",
    "NetworkExistsLibpod",
    "NetworkInspectLibpod",
    "NetworkUpdateLibpod",
    "NetworkCreateLibpod",
    "NetworkListLibpod",
    "NetworkPruneLibpod",
  ] as const),
};
