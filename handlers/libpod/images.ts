// Libpod operations on images (and commit, build, distribution).
import type { operations } from '../../generated/libpod.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "ImageBuildLibpod"
  | "ImageCommitLibpod"
  | "ImageDeleteLibpod"
  | "ImageChangesLibpod"
  | "ImageExistsLibpod"
  | "ImageGetLibpod"
  | "ImageHistoryLibpod"
  | "ImageInspectLibpod"
  | "ImagePushLibpod"
  | "ImageResolveLibpod"
  | "ImageTagLibpod"
  | "ImageTreeLibpod"
  | "ImageUntagLibpod"
  | "ImageExportLibpod"
  | "ImageImportLibpod"
  | "ImageListLibpod"
  | "ImageLoadLibpod"
  | "ImagePruneLibpod"
  | "ImagePullLibpod"
  | "ImageDeleteAllLibpod"
  | "ImageScpLibpod"
  | "ImageSearchLibpod"
>;

export const imagesHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "ImageBuildLibpod",
    "ImageCommitLibpod",
    "ImageDeleteLibpod",
    "ImageChangesLibpod",
    "ImageExistsLibpod",
    "ImageGetLibpod",
    "ImageHistoryLibpod",
    "ImageInspectLibpod",
    "ImagePushLibpod",
    "ImageResolveLibpod",
    "ImageTagLibpod",
    "ImageTreeLibpod",
    "ImageUntagLibpod",
    "ImageExportLibpod",
    "ImageImportLibpod",
    "ImageListLibpod",
    "ImageLoadLibpod",
    "ImagePruneLibpod",
    "ImagePullLibpod",
    "ImageDeleteAllLibpod",
    "ImageScpLibpod",
    "ImageSearchLibpod",
  ] as const),
};
