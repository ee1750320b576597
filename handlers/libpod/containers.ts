// Libpod operations on containers and exec sessions.
import type { operations } from '../../generated/libpod.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "ContainerDeleteLibpod"
  | "ContainerArchiveLibpod"
  | "PutContainerArchiveLibpod"
  | "ContainerAttachLibpod"
  | "ContainerChangesLibpod"
  | "ContainerCheckpointLibpod"
  | "ContainerExecLibpod"
  | "ContainerExistsLibpod"
  | "ContainerExportLibpod"
  | "ContainerHealthcheckLibpod"
  | "ContainerInitLibpod"
  | "ContainerInspectLibpod"
  | "ContainerKillLibpod"
  | "ContainerLogsLibpod"
  | "ContainerMountLibpod"
  | "ContainerPauseLibpod"
  | "ContainerRenameLibpod"
  | "ContainerResizeLibpod"
  | "ContainerRestartLibpod"
  | "ContainerRestoreLibpod"
  | "ContainerStartLibpod"
  | "ContainerStatsLibpod"
  | "ContainerStopLibpod"
  | "ContainerTopLibpod"
  | "ContainerUnmountLibpod"
  | "ContainerUnpauseLibpod"
  | "ContainerUpdateLibpod"
  | "ContainerWaitLibpod"
  | "ContainerCreateLibpod"
  | "ContainerListLibpod"
  | "ContainerPruneLibpod"
  | "ContainerShowMountedLibpod"
  | "ContainersStatsAllLibpod"
  | "ExecInspectLibpod"
  | "ExecResizeLibpod"
  | "ExecStartLibpod"
>;

export const containersHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "ContainerDeleteLibpod",
    "ContainerArchiveLibpod",
    "PutContainerArchiveLibpod",
    "ContainerAttachLibpod",
    "ContainerChangesLibpod",
    "ContainerCheckpointLibpod",
    "ContainerExecLibpod",
    "ContainerExistsLibpod",
    "ContainerExportLibpod",
    "ContainerHealthcheckLibpod",
    "ContainerInitLibpod",
    "ContainerInspectLibpod",
    "ContainerKillLibpod",
    "ContainerLogsLibpod",
    "ContainerMountLibpod",
    "ContainerPauseLibpod",
    "ContainerRenameLibpod",
    "ContainerResizeLibpod",
    "ContainerRestartLibpod",
    "ContainerRestoreLibpod",
    "ContainerStartLibpod",
    "ContainerStatsLibpod",
    "ContainerStopLibpod",
    "ContainerTopLibpod",
    "ContainerUnmountLibpod",
    "ContainerUnpauseLibpod",
    "ContainerUpdateLibpod",
    "ContainerWaitLibpod",
    "ContainerCreateLibpod",
    "ContainerListLibpod",
    "ContainerPruneLibpod",
    "ContainerShowMountedLibpod",
    "ContainersStatsAllLibpod",
    "ExecInspectLibpod",
    "ExecResizeLibpod",
    "ExecStartLibpod",
  ] as const),
};
