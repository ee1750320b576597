// Libpod operations on secrets.
import type { operations } from '../../generated/libpod.js';
import { EngineError, invalidArgument } from '../../engine/errors.js';
import { readRawBody } from '../../server/body.js';
import { sendJson } from '../../server/respond.js';
import { toLibpodSecret } from '../convert/secrets.js';
import { parseFilters } from '../filters.js';
import type { HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "SecretDeleteLibpod"
  | "SecretExistsLibpod"
  | "SecretInspectLibpod"
  | "SecretCreateLibpod"
  | "SecretListLibpod"
>;

/** `labels` and `driveropts` come as JSON objects of strings in the query (Podman's bindings). */
function stringMapParam(name: string, raw: string | undefined): Record<string, string> | undefined {
  if (raw === undefined || raw === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalidArgument(`${name}: not a JSON object: ${raw}`);
  }
  if (v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw invalidArgument(`${name}: expected a JSON object of strings`);
  }
  return v as Record<string, string>;
}

export const secretsHandlers: HandlerTable<Ops> = {
  // The body is the secret's data, as is. Podman answers 200; the spec (and Docker) say 201.
  SecretCreateLibpod: async ({ engine, query, ctx }) => {
    const labels = stringMapParam('labels', query.labels);
    const driverOptions = stringMapParam('driveropts', query.driveropts);
    const data = await readRawBody(ctx);
    const { id } = await engine.secretCreate({
      name: query.name,
      data,
      ...(query.driver ? { driver: query.driver } : {}),
      ...(driverOptions ? { driverOptions } : {}),
      ...(labels ? { labels } : {}),
      replace: query.replace === true,
      ignoreIfExists: query.ignore === true,
    });
    sendJson(ctx, { ID: id }, 201);
  },

  SecretListLibpod: async ({ engine, query }) => (await engine.secretList({ filters: parseFilters(query.filters) })).map(toLibpodSecret),

  SecretInspectLibpod: async ({ engine, path, query }) => toLibpodSecret(await engine.secretInspect(path.name, { showSecret: query.showsecret === true })),

  SecretExistsLibpod: async ({ engine, path, ctx }) => {
    if (!(await engine.secretExists(path.name))) {
      throw new EngineError('not-found', `no secret with name or id ${JSON.stringify(path.name)}: no such secret`, undefined, 'no such secret');
    }
    ctx.status = 204;
  },

  // `all` removes every secret (the spec documents it; Podman 5's handler ignores it).
  SecretDeleteLibpod: async ({ engine, path, query, ctx }) => {
    await engine.secretRemove(path.name, { all: query.all === true });
    ctx.status = 204;
  },
};
