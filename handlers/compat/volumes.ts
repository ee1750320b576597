// Compat operations on volumes.
import type { operations } from '../../generated/docker.js';
import { EngineError, invalidArgument } from '../../engine/errors.js';
import { sendJson } from '../../server/respond.js';
import { toDockerPrune, toDockerVolume } from '../convert/volumes.js';
import { parseFilters } from '../filters.js';
import type { HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "VolumeList"
  | "VolumeCreate"
  | "VolumeInspect"
  | "VolumeDelete"
  | "VolumePrune"
>;

export const volumesHandlers: HandlerTable<Ops> = {
  VolumeList: async ({ engine, query }) => {
    const filters = parseFilters(query.filters);
    // Libpod's `opt` is not a Docker filter (Docker and Podman's compat API refuse it).
    if ('opt' in filters) throw invalidArgument('invalid filter "opt" (a Libpod filter: use /libpod/volumes/json)');
    const volumes = await engine.volumeList({ filters });
    return { Volumes: volumes.map(toDockerVolume), Warnings: [] };
  },

  // An existing name answers that volume (201), as Docker and Podman's compat API do.
  VolumeCreate: async ({ engine, body, ctx }) => {
    const b = body ?? {};
    const { volume } = await engine.volumeCreate({
      name: b.Name,
      driver: b.Driver,
      labels: b.Labels ?? undefined,
      options: b.DriverOpts ?? undefined,
      ifExists: 'return',
    });
    sendJson(ctx, toDockerVolume(volume), 201);
  },

  VolumeInspect: async ({ engine, path }) => toDockerVolume(await engine.volumeInspect(path.name)),

  // Docker's `force` only means "a missing volume is not an error"; a used volume is a 409 anyway.
  VolumeDelete: async ({ engine, path, query, ctx }) => {
    await engine.volumeRemove(path.name, { ignoreMissing: query.force === true });
    ctx.status = 204;
  },

  VolumePrune: async ({ engine, query }) => {
    const reports = await engine.volumePrune({ filters: parseFilters(query.filters) });
    const failed = reports.filter((r) => r.error);
    if (failed.length > 0) throw new EngineError('internal', failed.map((r) => r.error).join('; '));
    return toDockerPrune(reports);
  },
};
