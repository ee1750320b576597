// Libpod operations on volumes.
import type { operations } from '../../generated/libpod.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "VolumeDeleteLibpod"
  | "VolumeExistsLibpod"
  | "VolumeInspectLibpod"
  | "VolumeCreateLibpod"
  | "VolumeListLibpod"
  | "VolumePruneLibpod"
>;

export const volumesHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "VolumeDeleteLibpod",
    "VolumeExistsLibpod",
    "VolumeInspectLibpod",
    "VolumeCreateLibpod",
    "VolumeListLibpod",
    "VolumePruneLibpod",
  ] as const),
};
