// GET/HEAD /_ping through the API pipeline. The service answers pings before dispatch
// (server/ping.ts, same headers), so this serves embedders of the Koa app (createApp).
import type { Context } from 'koa';
import { PING_HEADERS } from '../server/ping.js';

export function answerPing(ctx: Context): void {
  for (const [name, value] of PING_HEADERS) ctx.set(name, value);
  ctx.status = 200;
  ctx.body = 'OK';
}
