// Libpod operations on manifest lists.
import type { operations } from '../../generated/libpod.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "ManifestModifyLibpod"
  | "ManifestCreateLibpod"
  | "ManifestDeleteLibpod"
  | "ManifestAddLibpod"
  | "ManifestExistsLibpod"
  | "ManifestInspectLibpod"
  | "ManifestPushV3Libpod"
  | "ManifestPushLibpod"
>;

export const manifestsHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "ManifestModifyLibpod",
    "ManifestCreateLibpod",
    "ManifestDeleteLibpod",
    "ManifestAddLibpod",
    "ManifestExistsLibpod",
    "ManifestInspectLibpod",
    "ManifestPushV3Libpod",
    "ManifestPushLibpod",
  ] as const),
};
