// Libpod operations on volumes.
import { Readable } from 'node:stream';
import type { operations } from '../../generated/libpod.js';
import { EngineError } from '../../engine/errors.js';
import { sendJson } from '../../server/respond.js';
import { toLibpodPrune, toLibpodVolume } from '../convert/volumes.js';
import { parseFilters } from '../filters.js';
import type { ApiRequest, HandlerTable } from '../types.js';

// Export and import (GET /libpod/volumes/{name}/export, POST .../import) are Libpod operations
// newer than the pinned 5.1.0 spec: they join this table once the spec overlay declares them.
type ArchiveIds = Extract<keyof operations, 'VolumeExportLibpod' | 'VolumeImportLibpod'>;

type Ops = Pick<operations, 
  | "VolumeDeleteLibpod"
  | "VolumeExistsLibpod"
  | "VolumeInspectLibpod"
  | "VolumeCreateLibpod"
  | "VolumeListLibpod"
  | "VolumePruneLibpod"
  | ArchiveIds
>;

type NameRequest = ApiRequest<{ parameters: { path: { name: string } } }>;

/** The volume's content as a tar stream (validated before the first byte; 404 for a missing volume). */
export async function VolumeExportLibpod({ engine, path, ctx, signal }: NameRequest): Promise<void> {
  const tar = await engine.volumeExport(path.name, signal);
  ctx.status = 200;
  ctx.set('Content-Type', 'application/x-tar');
  ctx.body = Readable.from(tar, { objectMode: false });
}

/** Unpacks the request body (a tar) into the volume: 204, or 400 naming a refused entry. */
export async function VolumeImportLibpod({ engine, path, ctx, signal }: NameRequest): Promise<void> {
  try {
    await engine.volumeImport(path.name, ctx.req as AsyncIterable<Buffer>, signal);
  } catch (e) {
    ctx.req.resume(); // let the rest of the upload drain so that the error answer is read
    throw e;
  }
  ctx.status = 204;
}

const archiveHandlers = { VolumeExportLibpod, VolumeImportLibpod } as unknown as HandlerTable<Pick<operations, ArchiveIds>>;

export const volumesHandlers: HandlerTable<Ops> = {
  ...archiveHandlers,

  // Libpod answers 409 for an existing name unless IgnoreIfExists (then 201 with the existing one).
  VolumeCreateLibpod: async ({ engine, body, ctx }) => {
    const b = body ?? {};
    const { volume } = await engine.volumeCreate({
      name: b.Name,
      driver: b.Driver,
      labels: { ...b.Label, ...b.Labels },
      options: b.Options ?? undefined,
      ifExists: b.IgnoreIfExists ? 'return' : 'error',
    });
    sendJson(ctx, toLibpodVolume(volume), 201);
  },

  VolumeListLibpod: async ({ engine, query }) => (await engine.volumeList({ filters: parseFilters(query.filters) })).map(toLibpodVolume),

  VolumeInspectLibpod: async ({ engine, path }) => toLibpodVolume(await engine.volumeInspect(path.name)),

  VolumeExistsLibpod: async ({ engine, path, ctx }) => {
    if (!(await engine.volumeExists(path.name))) {
      throw new EngineError('not-found', `no volume with name ${JSON.stringify(path.name)} found: no such volume`, undefined, 'no such volume');
    }
    ctx.status = 204;
  },

  // Libpod's `force` removes the containers using the volume first (when the containers domain can).
  VolumeDeleteLibpod: async ({ engine, path, query, ctx }) => {
    await engine.volumeRemove(path.name, { force: query.force === true });
    ctx.status = 204;
  },

  VolumePruneLibpod: async ({ engine, query }) => toLibpodPrune(await engine.volumePrune({ filters: parseFilters(query.filters) })),
};
