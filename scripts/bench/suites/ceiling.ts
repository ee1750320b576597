// The load client's own ceiling: the same client against servers that do (next to) nothing — a
// raw responder writing prebuilt bytes, and bare node:http — so a service figure close to these
// says more about the client or the machine than about the service.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad } from '../client.js';
import type { BenchContext, Suite } from '../context.js';
import { kilo, ms } from '../report.js';
import { coldStart, stopService } from '../services.js';
import { round, summarize } from '../stats.js';

export const BARE_SERVER = fileURLToPath(new URL('../bare-server.js', import.meta.url));

export const ceilingSuite: Suite = {
  name: 'ceiling',
  description: "the load client's own ceiling against a raw responder and bare node:http",
  async run(ctx: BenchContext) {
    const dir = ctx.tempDir('bare');
    const figures: Record<string, unknown>[] = [];
    const configs: { concurrency: number; workers: number }[] = [
      { concurrency: 1, workers: 1 },
      { concurrency: 16, workers: 1 },
      { concurrency: 16, workers: 2 },
    ];
    if (ctx.options.clientWorkers > 2) configs.push({ concurrency: 16, workers: ctx.options.clientWorkers });
    for (const mode of ['raw', 'http'] as const) {
      const socket = join(dir, `${mode}.sock`);
      const c = await coldStart(ctx, { argv: [process.execPath, BARE_SERVER, mode, socket], socket, logFile: join(dir, `${mode}.log`), path: '/_ping', keep: true });
      const s = c.started!;
      try {
        const parts: string[] = [];
        for (const { concurrency, workers } of configs) {
          await runLoad({ endpoint: s.endpoint, path: '/_ping', concurrency, workers, durationMs: ctx.plan.warmupMs, record: false });
          const r = await runLoad({ endpoint: s.endpoint, path: '/_ping', concurrency, workers, durationMs: ctx.plan.ceilingMs });
          const l = summarize(r.latenciesMs);
          figures.push({ server: mode, concurrency, workers, throughput: round(r.throughput, 0), p50: round(l.p50), p99: round(l.p99), errors: r.errors });
          parts.push(`c${concurrency}${concurrency > 1 ? `/${workers}t` : ''} ${kilo(r.throughput)} req/s (p50 ${ms(l.p50)}, p99 ${ms(l.p99)})`);
          ctx.log(`ceiling ${mode} c${concurrency} ${workers} thread(s): ${Math.round(r.throughput)} req/s p50 ${ms(l.p50)} p99 ${ms(l.p99)}`);
        }
        ctx.reference(mode === 'raw' ? 'client ceiling (raw responder)' : 'bare node:http server', parts.join('; '));
      } finally {
        await stopService(ctx, s);
      }
    }
    ctx.data('ceiling', figures);
  },
};
