// GET/HEAD /_ping through the API pipeline (the service also answers pings before the
// pipeline has loaded, with the same headers: server/ping.ts).
import type { Context } from 'koa';
import { PING_HEADERS } from '../server/ping.js';

export function answerPing(ctx: Context): void {
  for (const [name, value] of PING_HEADERS) ctx.set(name, value);
  ctx.status = 200;
  ctx.body = 'OK';
}
