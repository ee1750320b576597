// Compat operations on containers and exec sessions.
import type { operations } from '../../generated/docker.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "ContainerList"
  | "ContainerCreate"
  | "ContainerInspect"
  | "ContainerTop"
  | "ContainerLogs"
  | "ContainerChanges"
  | "ContainerExport"
  | "ContainerStats"
  | "ContainerResize"
  | "ContainerStart"
  | "ContainerStop"
  | "ContainerRestart"
  | "ContainerKill"
  | "ContainerUpdate"
  | "ContainerRename"
  | "ContainerPause"
  | "ContainerUnpause"
  | "ContainerAttach"
  | "ContainerAttachWebsocket"
  | "ContainerWait"
  | "ContainerDelete"
  | "ContainerArchive"
  | "PutContainerArchive"
  | "ContainerArchiveInfo"
  | "ContainerPrune"
  | "ContainerExec"
  | "ExecStart"
  | "ExecResize"
  | "ExecInspect"
>;

export const containersHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "ContainerList",
    "ContainerCreate",
    "ContainerInspect",
    "ContainerTop",
    "ContainerLogs",
    "ContainerChanges",
    "ContainerExport",
    "ContainerStats",
    "ContainerResize",
    "ContainerStart",
    "ContainerStop",
    "ContainerRestart",
    "ContainerKill",
    "ContainerUpdate",
    "ContainerRename",
    "ContainerPause",
    "ContainerUnpause",
    "ContainerAttach",
    "ContainerAttachWebsocket",
    "ContainerWait",
    "ContainerDelete",
    "ContainerArchive",
    "PutContainerArchive",
    "ContainerArchiveInfo",
    "ContainerPrune",
    "ContainerExec",
    "ExecStart",
    "ExecResize",
    "ExecInspect",
  ] as const),
};
