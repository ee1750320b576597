// From a matched operation to its handler: 501 for operations not implemented, query
// normalising, JSON body, validation against the spec, then the handler.
import type { Context } from 'koa';
import type { Engine } from '../engine/api.js';
import { EngineError } from '../engine/errors.js';
import { NOT_IMPLEMENTED, type Handler } from '../handlers/types.js';
import { readJsonBody } from './body.js';
import { normalizeQuery } from './query.js';
import { sendJson } from './respond.js';
import type { Dispatch, SpecName } from './routing.js';
import { validateRequest } from './validation.js';

export type HandlerTables = Record<SpecName, Record<string, Handler<never> | typeof NOT_IMPLEMENTED>>;

export function createDispatch(engine: Engine, tables: HandlerTables): Dispatch {
  return async (spec, operationId, route, params, ctx) => {
    const handler = tables[spec][operationId];
    if (!handler || handler === NOT_IMPLEMENTED) throw new EngineError('not-implemented', `${operationId} is not implemented`);
    const query = normalizeQuery(route.query, new URLSearchParams(ctx.querystring));
    const body = route.body === 'json' ? await readJsonBody(ctx) : undefined;
    await validateRequest(spec, operationId, { path: params, query, body });
    const result = await (handler as Handler)({
      path: params as never,
      query: query as never,
      body: body as never,
      version: ctx.state.version as string | undefined,
      engine,
      ctx,
      signal: clientGone(ctx),
    });
    if (result !== undefined && ctx.respond !== false) sendJson(ctx, result);
  };
}

/** A signal aborted when the client disconnects before the answer is complete. */
function clientGone(ctx: Context): AbortSignal {
  const controller = new AbortController();
  ctx.res.once('close', () => {
    if (!ctx.res.writableFinished) controller.abort();
  });
  return controller.signal;
}
