// Streaming answers: JSON records, one per line, flushed as they come (events, progress,
// stats). Koa steps aside (ctx.respond = false); the headers go out at once so clients
// waiting for the answer's start (docker events) are not held back.
import type { Context } from 'koa';
import { markLongLived } from './idle.js';
import { stringifyJson } from './respond.js';

export async function streamJsonLines(ctx: Context, records: AsyncIterable<unknown>, signal: AbortSignal): Promise<void> {
  const res = ctx.res;
  ctx.respond = false;
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json');
  res.flushHeaders();
  markLongLived(res.socket);
  try {
    for await (const record of records) {
      if (signal.aborted) break;
      const ok = res.write(stringifyJson(record) + '\n');
      if (!ok) await new Promise<void>((resolve) => {
        const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  } finally {
    if (!res.writableEnded) res.end();
  }
}
