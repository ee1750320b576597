// Response helpers shared by the server and handlers.
import type { Context } from 'koa';

// The docker CLI decodes an error body only when Content-Type is exactly application/json
// (Koa's default adds "; charset=utf-8"), so the header is set by hand.
export function sendJson(ctx: Context, body: unknown, status = 200): void {
  ctx.status = status;
  ctx.set('Content-Type', 'application/json');
  ctx.body = stringifyJson(body) + '\n';
}


/** A 64-bit integer written as a bare JSON number (timeNano and friends exceed 2^53). */
export class Int64 {
  constructor(readonly value: bigint) {}
  toJSON(): string {
    return `\u0000int64:${this.value}`;
  }
}

export function stringifyJson(body: unknown): string {
  const text = JSON.stringify(body);
  return text.includes('\\u0000int64:') ? text.replace(/"\\u0000int64:(-?\d+)"/g, '$1') : text;
}
