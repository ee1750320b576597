// Compat operations on volumes.
import type { operations } from '../../generated/docker.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "VolumeList"
  | "VolumeCreate"
  | "VolumeInspect"
  | "VolumeDelete"
  | "VolumePrune"
>;

export const volumesHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "VolumeList",
    "VolumeCreate",
    "VolumeInspect",
    "VolumeDelete",
    "VolumePrune",
  ] as const),
};
