// Compat operations on secrets, as Podman's service answers them: Docker's shapes without swarm.
import type { operations } from '../../generated/docker.js';
import { invalidArgument } from '../../engine/errors.js';
import { sendJson } from '../../server/respond.js';
import { toDockerSecret } from '../convert/secrets.js';
import { parseFilters } from '../filters.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "SecretList"
  | "SecretCreate"
  | "SecretInspect"
  | "SecretDelete"
  | "SecretUpdate"
>;

/** Standard base64 with padding, as Go's base64.StdEncoding reads it. */
function decodeBase64(field: string, s: string): Buffer {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw invalidArgument(`${field}: not valid base64`);
  return Buffer.from(s, 'base64');
}

export const secretsHandlers: HandlerTable<Ops> = {
  SecretList: async ({ engine, query }) => (await engine.secretList({ filters: parseFilters(query.filters) })).map(toDockerSecret),

  SecretCreate: async ({ engine, body, ctx }) => {
    const b = body ?? {};
    const { id } = await engine.secretCreate({
      name: b.Name ?? '',
      data: decodeBase64('Data', b.Data ?? ''),
      ...(b.Driver?.Name ? { driver: b.Driver.Name } : {}),
      ...(b.Driver?.Options ? { driverOptions: b.Driver.Options } : {}),
      ...(b.Labels ? { labels: b.Labels } : {}),
    });
    sendJson(ctx, { ID: id }, 201);
  },

  SecretInspect: async ({ engine, path }) => toDockerSecret(await engine.secretInspect(path.id)),

  SecretDelete: async ({ engine, path, ctx }) => {
    await engine.secretRemove(path.id);
    ctx.status = 204;
  },

  // Podman's service answers 501 too ("update is not supported"): secrets cannot be updated
  // outside swarm. Marked as such so coverage counts it as not implemented.
  ...notImplemented(['SecretUpdate'] as const),
};
