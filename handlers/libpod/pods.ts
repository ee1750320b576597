// Libpod operations on pods.
import type { operations } from '../../generated/libpod.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "PodDeleteLibpod"
  | "PodExistsLibpod"
  | "PodInspectLibpod"
  | "PodKillLibpod"
  | "PodPauseLibpod"
  | "PodRestartLibpod"
  | "PodStartLibpod"
  | "PodStopLibpod"
  | "PodTopLibpod"
  | "PodUnpauseLibpod"
  | "PodCreateLibpod"
  | "PodListLibpod"
  | "PodPruneLibpod"
  | "PodStatsAllLibpod"
>;

export const podsHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "PodDeleteLibpod",
    "PodExistsLibpod",
    "PodInspectLibpod",
    "PodKillLibpod",
    "PodPauseLibpod",
    "PodRestartLibpod",
    "PodStartLibpod",
    "PodStopLibpod",
    "PodTopLibpod",
    "PodUnpauseLibpod",
    "PodCreateLibpod",
    "PodListLibpod",
    "PodPruneLibpod",
    "PodStatsAllLibpod",
  ] as const),
};
