// Handler contract. Handlers are thin: typed parameters in, one engine call, a pure converter,
// an answer out. They return the JSON body for a 200 answer, or answer through the helpers in
// server/respond.ts and server/stream.ts for other statuses and streams. Errors are thrown as
// EngineError and mapped to status in server/errors.ts.
import type { Context } from 'koa';
import type { Engine } from '../engine/api.js';

type QueryOf<Op> = Op extends { parameters: { query?: infer Q } } ? ([Q] extends [never] ? Record<string, never> : NonNullable<Q>) : Record<string, never>;
type PathOf<Op> = Op extends { parameters: { path: infer P } } ? P : Record<string, never>;
type BodyOf<Op> = Op extends { requestBody: { content: { 'application/json': infer B } } }
  ? B
  : Op extends { requestBody?: { content: { 'application/json': infer B } } }
    ? B | undefined
    : undefined;

export interface ApiRequest<Op = unknown> {
  path: PathOf<Op>;
  query: QueryOf<Op>;
  /** The parsed JSON body (operations with a JSON body), undefined otherwise. */
  body: BodyOf<Op>;
  /** Version from the path prefix (/v1.40/ -> "1.40"), undefined without one. */
  version: string | undefined;
  engine: Engine;
  ctx: Context;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

export type Handler<Op = unknown> = (req: ApiRequest<Op>) => unknown | Promise<unknown>;

/** Marks an operation tspod does not implement yet: answered 501 naming the operation. */
export const NOT_IMPLEMENTED = Symbol('not implemented');

export type HandlerTable<Ops> = { [K in keyof Ops]: Handler<Ops[K]> | typeof NOT_IMPLEMENTED };

/** Fills the operations in `ids` with NOT_IMPLEMENTED. */
export function notImplemented<K extends string>(ids: readonly K[]): Record<K, typeof NOT_IMPLEMENTED> {
  return Object.fromEntries(ids.map((id) => [id, NOT_IMPLEMENTED])) as Record<K, typeof NOT_IMPLEMENTED>;
}
