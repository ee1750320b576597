// Where tspod's time per request goes (tspod only; hints, no targets): a CPU profile
// (node --cpu-prof) of the service under the /_ping c16 load, cut to the load window, by package
// and file, with the CPU time per request.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runLoad } from '../client.js';
import type { BenchContext, Suite } from '../context.js';
import { formatProfile, profilerClockUs, readProfile, summarizeProfile } from '../cpuprofile.js';
import { kilo } from '../report.js';
import { coldStart, stopService } from '../services.js';
import { round } from '../stats.js';

const PATHS = ['/_ping', '/v1.40/info'];

export const requestProfileSuite: Suite = {
  name: 'request-profile',
  description: "tspod's request path: CPU profile under /_ping and /info load at c16",
  enabled: (ctx) => ctx.sides.some((s) => s.name === 'tspod'),
  async run(ctx: BenchContext) {
    const tspod = ctx.sides.find((s) => s.name === 'tspod')!;
    const dir = ctx.tempDir('request-profile');
    for (const path of PATHS) {
      const profDir = join(dir, path.replace(/\W+/g, '_'));
      const socket = join(dir, 'tspod.sock');
      const spawnedAt = performance.now();
      const c = await coldStart(ctx, { argv: tspod.argv(socket, ['--cpu-prof', '--cpu-prof-dir', profDir]), socket, logFile: join(dir, 'tspod.log'), path, keep: true });
      let from = 0;
      let to = 0;
      let completed = 0;
      let throughput = 0;
      try {
        await runLoad({ endpoint: c.started!.endpoint, path, concurrency: 16, workers: ctx.options.clientWorkers, durationMs: ctx.plan.warmupMs, record: false });
        from = performance.now();
        const r = await runLoad({ endpoint: c.started!.endpoint, path, concurrency: 16, workers: ctx.options.clientWorkers, durationMs: ctx.plan.loadMs, record: false });
        to = performance.now();
        completed = r.completed;
        throughput = r.throughput;
      } finally {
        await stopService(ctx, c.started!);
      }
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (!file) {
        ctx.note(`tspod CPU profile under ${path} load: no profile written`);
        continue;
      }
      const s = summarizeProfile(readProfile(join(profDir, file)), ctx.tspodRoot, profilerClockUs(spawnedAt), profilerClockUs(to), profilerClockUs(from));
      ctx.data(`cpuProfile ${path} c16`, { ...s, completed, throughput: round(throughput, 1) });
      const perReq = completed ? (s.busyMs * 1000) / completed : NaN;
      ctx.note(
        `tspod CPU profile under ${path} c16 load (${kilo(throughput)} req/s while profiled; main thread busy ${s.busyMs.toFixed(0)} of ${s.sampledMs.toFixed(0)} ms = ${perReq.toFixed(0)} µs CPU per request):\n` +
          formatProfile(s, 12),
      );
    }
  },
};
