// Cold start: from spawning the service to the complete answer of its first request (any status
// counts), median of N starts per side, sides alternating. Also behind systemd-socket-activate,
// where the activator listens and starts the service on the first connection: there the time
// runs from the first request on a fresh activator to its answer.
import { join } from 'node:path';
import type { BenchContext, SideName, Suite } from '../context.js';
import { mb } from '../report.js';
import { coldStart, which } from '../services.js';
import { median, round } from '../stats.js';
import { TARGETS, type Target } from '../targets.js';

const PROBES: { path: string; target: Target }[] = [
  { path: '/_ping', target: TARGETS.coldStartPing },
  { path: '/v1.40/containers/json', target: TARGETS.coldStartContainers },
];

export const coldStartSuite: Suite = {
  name: 'cold-start',
  description: 'spawn (or socket activation) to first /_ping and /v1.40/containers/json answer',
  async run(ctx: BenchContext) {
    const modes: ('direct' | 'activated')[] = ['direct'];
    if (which('systemd-socket-activate')) modes.push('activated');
    else ctx.note('systemd-socket-activate is not installed: socket-activated cold starts were skipped.');
    const rss: Partial<Record<SideName, number[]>> = {};
    for (const activated of modes.map((m) => m === 'activated')) {
      if (activated) {
        // One unmeasured activated start per side (first exec of the activator, page cache).
        for (const side of ctx.sides) {
          const socket = join(side.dir, 'cold.sock');
          await coldStart(ctx, { argv: side.argv(), socket, logFile: join(side.dir, 'cold.log'), path: '/_ping', activated });
        }
      }
      for (const probe of PROBES) {
        const samples: Partial<Record<SideName, number[]>> = {};
        const statuses: Partial<Record<SideName, number[]>> = {};
        const listening: Partial<Record<SideName, number[]>> = {};
        for (let i = 0; i < ctx.plan.coldStarts; i++) {
          for (const side of ctx.order(i)) {
            const socket = join(side.dir, 'cold.sock');
            const r = await coldStart(ctx, { argv: activated ? side.argv() : side.argv(socket), socket, logFile: join(side.dir, 'cold.log'), path: probe.path, activated });
            (samples[side.name] ??= []).push(r.ms);
            (statuses[side.name] ??= []).push(r.status);
            (listening[side.name] ??= []).push(r.connectMs);
            if (!activated && probe.path === '/_ping' && r.rssKb) (rss[side.name] ??= []).push(r.rssKb);
          }
        }
        const values = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
        ctx.log(`cold start ${activated ? 'activated' : 'direct'} ${probe.path}: ${Object.entries(values).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(', ')}`);
        ctx.row({
          section: 'Cold start (median)',
          metric: `${activated ? 'socket-activated, 1st request' : 'spawn'} → ${probe.path}`,
          unit: 'ms',
          values,
          target: probe.target,
          detail: {
            samplesMs: mapValues(samples, (v) => v.map((x) => round(x, 2))),
            // When the connection that got the answer was made (the service listened by then).
            connectedMs: mapValues(listening, (v) => v.map((x) => round(x, 2))),
            statuses,
          },
        });
      }
    }
    if (Object.keys(rss).length) {
      ctx.row({
        section: 'Memory',
        metric: 'RSS just after the first /_ping (cold starts)',
        unit: 'MB',
        values: mapValues(rss, (v) => mb(median(v))),
        detail: { rssKb: rss },
      });
    }
  },
};

function mapValues<T, U>(o: Partial<Record<SideName, T>>, f: (v: T) => U): Partial<Record<SideName, U>> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v as T)])) as Partial<Record<SideName, U>>;
}
