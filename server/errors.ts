// The one place where error kinds become HTTP statuses and error bodies.
// Compat (Docker) bodies are {"message"}; Libpod bodies are {"cause","message","response"}.
import type { Context } from 'koa';
import { EngineError, type ErrorKind } from '../engine/errors.js';
import type { SpecName } from './routing.js';
import { sendJson } from './respond.js';

const STATUS: Record<ErrorKind, number> = {
  'not-found': 404,
  'invalid-argument': 400,
  conflict: 409,
  'not-modified': 304,
  forbidden: 403,
  unauthorized: 401,
  unavailable: 503,
  'not-implemented': 501,
  internal: 500,
};

// Libpod's `cause` is the innermost error; Podman's wording per kind where the engine gave none.
const CAUSE: Record<ErrorKind, string> = {
  'not-found': 'no such object',
  'invalid-argument': 'bad parameter',
  conflict: 'conflict',
  'not-modified': 'not modified',
  forbidden: 'forbidden',
  unauthorized: 'unauthorized',
  unavailable: 'unavailable',
  'not-implemented': 'not implemented',
  internal: 'internal error',
};

export function toEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new EngineError('internal', message, err);
}

export function statusOf(err: unknown): number {
  return STATUS[toEngineError(err).kind];
}

export function errorBody(spec: SpecName, err: EngineError, status: number): Record<string, unknown> {
  if (spec === 'docker') return { message: err.message };
  return { cause: err.reason ?? CAUSE[err.kind], message: err.message, response: status };
}

/** Writes `err` as the API's error answer (nothing when the headers are already out). */
export function sendError(ctx: Context, spec: SpecName, err: unknown): void {
  const error = toEngineError(err);
  const status = STATUS[error.kind];
  if (status === 304) {
    ctx.status = 304;
    ctx.body = null;
    return;
  }
  sendJson(ctx, errorBody(spec, error, status), status);
}

/** An error answer that is about routing rather than an engine error (404 path, 405 method). */
export function sendRouteError(ctx: Context, spec: SpecName, status: 404 | 405, message: string): void {
  const cause = status === 404 ? 'not found' : 'method not allowed';
  sendJson(ctx, spec === 'docker' ? { message } : { cause, message, response: status }, status);
}
