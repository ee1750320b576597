// API latency and throughput on one long-running instance per side: /_ping, /v1.40/version and
// /v1.40/info at concurrency 1 and 16, fixed-duration rounds alternating between the sides
// (A/B, B/A, …) after an unrecorded warm-up. The same instances give idle RSS (after start, one
// ping and a settle second) and peak RSS (VmHWM once the load is over).
import { join } from 'node:path';
import { runLoad } from '../client.js';
import type { BenchContext, SideName, Suite } from '../context.js';
import { kilo, mb, ms } from '../report.js';
import { coldStart, procStatusKb, stopService, type Started } from '../services.js';
import { concatSamples, round, summarize } from '../stats.js';
import { TARGETS, type Target } from '../targets.js';

interface Config {
  path: string;
  concurrency: number;
  targets?: { p50?: Target; p99?: Target; throughput?: Target };
}

const CONFIGS: Config[] = [
  { path: '/_ping', concurrency: 1 },
  { path: '/_ping', concurrency: 16, targets: { throughput: TARGETS.pingThroughputC16, p99: TARGETS.pingP99C16 } },
  { path: '/v1.40/version', concurrency: 1, targets: { p50: TARGETS.versionP50 } },
  { path: '/v1.40/version', concurrency: 16 },
  { path: '/v1.40/info', concurrency: 1, targets: { p50: TARGETS.infoP50 } },
  { path: '/v1.40/info', concurrency: 16 },
];

const SETTLE_MS = 1000;

export const httpLoadSuite: Suite = {
  name: 'http-load',
  description: 'latency p50/p99 and throughput of /_ping, /version, /info at c1 and c16; idle and peak RSS',
  async run(ctx: BenchContext) {
    const running = new Map<SideName, Started>();
    try {
      const idle: Partial<Record<SideName, number>> = {};
      for (const side of ctx.sides) {
        const socket = join(side.dir, 'api.sock');
        const c = await coldStart(ctx, { argv: side.argv(socket), socket, logFile: join(side.dir, 'api.log'), path: '/_ping', keep: true });
        running.set(side.name, c.started!);
      }
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      for (const side of ctx.sides) idle[side.name] = procStatusKb(running.get(side.name)!.child.pid, 'VmRSS');
      ctx.row({ section: 'Memory', metric: 'idle RSS (start, 1 ping, 1 s settle)', unit: 'MB', values: mapDefined(idle, mb), target: TARGETS.idleRss, detail: { rssKb: idle } });

      const warmed = new Set<string>();
      const memory: Partial<Record<SideName, { after: string; rssKb?: number; hwmKb?: number }[]>> = {};
      for (const cfg of CONFIGS) {
        const workers = cfg.concurrency > 1 ? ctx.options.clientWorkers : 1;
        const perSide = new Map<SideName, { rounds: { throughput: number; completed: number; elapsedMs: number; errors: number; timeouts: number; statuses: Record<string, number> }[]; lat: Float64Array[] }>();
        for (const side of ctx.sides) {
          // An unrecorded warm-up the first time a path is loaded (caches, JIT).
          if (!warmed.has(cfg.path)) await runLoad({ endpoint: running.get(side.name)!.endpoint, path: cfg.path, concurrency: cfg.concurrency, workers, durationMs: ctx.plan.warmupMs, record: false });
          perSide.set(side.name, { rounds: [], lat: [] });
        }
        warmed.add(cfg.path);
        for (let i = 0; i < ctx.plan.loadRounds; i++) {
          for (const side of ctx.order(i)) {
            const r = await runLoad({ endpoint: running.get(side.name)!.endpoint, path: cfg.path, concurrency: cfg.concurrency, workers, durationMs: ctx.plan.loadMs });
            const acc = perSide.get(side.name)!;
            acc.rounds.push({ throughput: round(r.throughput, 1), completed: r.completed, elapsedMs: round(r.elapsedMs, 1), errors: r.errors, timeouts: r.timeouts, statuses: r.statuses });
            acc.lat.push(r.latenciesMs);
            const l = summarize(r.latenciesMs);
            ctx.log(`${cfg.path} c${cfg.concurrency} round ${i + 1}/${ctx.plan.loadRounds} ${side.name}: ${kilo(r.throughput)} req/s, p50 ${ms(l.p50)}, p99 ${ms(l.p99)}${r.errors || r.timeouts ? `, ${r.errors} errors, ${r.timeouts} timeouts` : ''}`);
          }
        }
        const p50: Partial<Record<SideName, number>> = {};
        const p99: Partial<Record<SideName, number>> = {};
        const tput: Partial<Record<SideName, number>> = {};
        const detail: Record<string, unknown> = {};
        for (const [name, acc] of perSide) {
          const l = summarize(concatSamples(acc.lat));
          p50[name] = l.p50;
          p99[name] = l.p99;
          const completed = acc.rounds.reduce((a, r) => a + r.completed, 0);
          const elapsed = acc.rounds.reduce((a, r) => a + r.elapsedMs, 0);
          tput[name] = elapsed > 0 ? (completed * 1000) / elapsed : 0;
          detail[name] = { latencyMs: mapNumbers(l), rounds: acc.rounds };
          const bad = acc.rounds.reduce((a, r) => a + r.errors + r.timeouts, 0);
          const non2xx = acc.rounds.reduce((a, r) => a + Object.entries(r.statuses).filter(([s]) => !s.startsWith('2')).reduce((b, [, n]) => b + n, 0), 0);
          if (bad || non2xx) ctx.note(`${name} ${cfg.path} c${cfg.concurrency}: ${bad} connection errors/timeouts, ${non2xx} non-2xx answers.`);
        }
        // Memory after each configuration: which load drives the peak.
        for (const side of ctx.sides) {
          const pid = running.get(side.name)!.child.pid;
          (memory[side.name] ??= []).push({ after: `${cfg.path} c${cfg.concurrency}`, rssKb: procStatusKb(pid, 'VmRSS'), hwmKb: procStatusKb(pid, 'VmHWM') });
        }
        const section = 'API latency & throughput';
        const what = `${cfg.path} c${cfg.concurrency}`;
        ctx.row({ section, metric: `${what} p50`, unit: 'ms', values: p50, target: cfg.targets?.p50, detail });
        ctx.row({ section, metric: `${what} p99`, unit: 'ms', values: p99, target: cfg.targets?.p99 });
        ctx.row({ section, metric: `${what} throughput`, unit: 'req/s', values: tput, target: cfg.targets?.throughput });
      }

      const peak: Partial<Record<SideName, number>> = {};
      for (const side of ctx.sides) peak[side.name] = procStatusKb(running.get(side.name)!.child.pid, 'VmHWM');
      ctx.row({ section: 'Memory', metric: 'peak RSS (VmHWM after the load)', unit: 'MB', values: mapDefined(peak, mb), target: TARGETS.peakRss, detail: { vmHwmKb: peak, afterEachLoad: memory } });
      for (const side of ctx.sides) {
        const steps = memory[side.name] ?? [];
        ctx.note(`${side.name} memory (RSS / VmHWM in MB) from idle ${fmtMb(idle[side.name])} through the load: ${steps.map((m) => `${m.after} ${fmtMb(m.rssKb)}/${fmtMb(m.hwmKb)}`).join(', ')}`);
      }
    } finally {
      for (const s of running.values()) await stopService(ctx, s);
    }
  },
};

function fmtMb(kb: number | undefined): string {
  return kb === undefined ? '?' : (kb / 1024).toFixed(0);
}

function mapDefined(o: Partial<Record<SideName, number | undefined>>, f: (v: number) => number): Partial<Record<SideName, number>> {
  const out: Partial<Record<SideName, number>> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k as SideName] = f(v);
  return out;
}

function mapNumbers<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? round(v, 4) : v])) as T;
}
