// Compat operations on images (and commit, build, distribution).
import type { operations } from '../../generated/docker.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "ImageList"
  | "ImageBuild"
  | "BuildPrune"
  | "ImageCreate"
  | "ImageInspect"
  | "ImageHistory"
  | "ImagePush"
  | "ImageTag"
  | "ImageDelete"
  | "ImageSearch"
  | "ImagePrune"
  | "ImageCommit"
  | "ImageGet"
  | "ImageGetAll"
  | "ImageLoad"
  | "DistributionInspect"
>;

export const imagesHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "ImageList",
    "ImageBuild",
    "BuildPrune",
    "ImageCreate",
    "ImageInspect",
    "ImageHistory",
    "ImagePush",
    "ImageTag",
    "ImageDelete",
    "ImageSearch",
    "ImagePrune",
    "ImageCommit",
    "ImageGet",
    "ImageGetAll",
    "ImageLoad",
    "DistributionInspect",
  ] as const),
};
