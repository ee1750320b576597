// Containers (issue 4), with the busybox test image loaded into both services: sequential
// create + start + wait + remove of `busybox true` (containers/s and each step's median); a run
// printing 10 MB to stdout read back through `GET /containers/{id}/logs?stdout=1` (MB/s); exec
// round trip (`POST /containers/{id}/exec`, `POST /exec/{id}/start` attached, the stream read to
// its end, for `true`); `GET /containers/json?all=1` p50 with 50 and 100 containers at c1 and
// c16. Sides alternate round by round; every container is removed at the end and no conmon or
// runc process of the run may be left.
import { demux, hijackRequest } from '../../../test/helpers/containers.js';
import { buildBusyboxImage } from '../../../test/helpers/test-image.js';
import { expect, MiB, processesMentioning, sleep, startInstance, stopInstance, type Instance } from '../api.js';
import { runLoad } from '../client.js';
import type { BenchContext, SideName, Suite } from '../context.js';
import { ms } from '../report.js';
import { concatSamples, median, round, summarize } from '../stats.js';
import { TARGETS } from '../targets.js';

const SECTION = 'Containers';
const IMAGE = 'localhost/busybox:latest';
const LOG_BYTES = 10 * MiB;
// Podman 4.3's default RLIMIT_NOFILE (1048576) can exceed the host's hard limit and fail runc
// create; both sides get the same explicit limits.
const HOST_CONFIG = { Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 1024 }, { Name: 'nproc', Soft: 4096, Hard: 4096 }] };

async function create(inst: Instance, cmd: string[], labels: Record<string, string> = {}): Promise<{ id: string; ms: number }> {
  const r = await expect(inst.socket, 'POST', '/v1.40/containers/create', 201, { json: { Image: IMAGE, Cmd: cmd, Labels: { 'org.tspod.bench': 'containers', ...labels }, HostConfig: HOST_CONFIG } });
  return { id: (JSON.parse(r.body.toString('utf8')) as { Id: string }).Id, ms: r.ms };
}

type Steps = { create: number[]; start: number[]; wait: number[]; remove: number[]; total: number[] };

async function lifecycle(inst: Instance, n: number, steps: Steps): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const c = await create(inst, ['true']);
    const s = await expect(inst.socket, 'POST', `/v1.40/containers/${c.id}/start`, 204);
    const w = await expect(inst.socket, 'POST', `/v1.40/containers/${c.id}/wait`, 200, { timeoutMs: 60_000 });
    const code = (JSON.parse(w.body.toString('utf8')) as { StatusCode: number }).StatusCode;
    if (code !== 0) throw new Error(`${inst.side.name}: busybox true exited ${code}`);
    const d = await expect(inst.socket, 'DELETE', `/v1.40/containers/${c.id}`, 204);
    steps.create.push(c.ms);
    steps.start.push(s.ms);
    steps.wait.push(w.ms);
    steps.remove.push(d.ms);
    steps.total.push(performance.now() - t0);
  }
}

/** One container printing LOG_BYTES, read back through logs: MB/s of the read (and the bytes). */
async function logsRound(inst: Instance): Promise<{ mbPerS: number; bytes: number; ms: number }> {
  const line = '0123456789'.repeat(10);
  const c = await create(inst, ['sh', '-c', `yes ${line} | head -c ${LOG_BYTES}`]);
  try {
    await expect(inst.socket, 'POST', `/v1.40/containers/${c.id}/start`, 204);
    await expect(inst.socket, 'POST', `/v1.40/containers/${c.id}/wait`, 200, { timeoutMs: 120_000 });
    const r = await expect(inst.socket, 'GET', `/v1.40/containers/${c.id}/logs?stdout=1`, 200, { timeoutMs: 120_000 });
    const bytes = demux(r.body).reduce((n, f) => n + f.data.length, 0);
    return { mbPerS: bytes / MiB / (r.ms / 1000), bytes, ms: r.ms };
  } finally {
    await expect(inst.socket, 'DELETE', `/v1.40/containers/${c.id}?force=1`, [204, 404]);
  }
}

async function execOnce(inst: Instance, id: string): Promise<number> {
  const t0 = performance.now();
  const e = await expect(inst.socket, 'POST', `/v1.40/containers/${id}/exec`, 201, { json: { AttachStdout: true, AttachStderr: true, Cmd: ['true'] } });
  const eid = (JSON.parse(e.body.toString('utf8')) as { Id: string }).Id;
  const h = await hijackRequest(inst.socket, 'POST', `/v1.40/exec/${eid}/start`, { Detach: false, Tty: false });
  if (!/ 10[01] | 200 /.test(h.status)) throw new Error(`${inst.side.name}: exec start answered ${h.status}`);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([h.body, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${inst.side.name}: exec stream not closed in 30 s`)), 30_000)))]).finally(() => {
    clearTimeout(timer);
    h.socket.destroy();
  });
  return performance.now() - t0;
}

async function listIds(inst: Instance): Promise<string[]> {
  const r = await expect(inst.socket, 'GET', '/v1.40/containers/json?all=1', 200);
  return (JSON.parse(r.body.toString('utf8')) as { Id: string }[]).map((c) => c.Id);
}

export const containersSuite: Suite = {
  name: 'containers',
  description: 'create+start+wait+remove of busybox true (rate, steps), 10 MB logs MB/s, exec round trip, /containers/json with 50/100 at c1/c16',
  async run(ctx: BenchContext) {
    const rounds = ctx.options.quick ? 1 : 3;
    const cyclesPerRound = ctx.options.quick ? 5 : 10;
    const execPerRound = ctx.options.quick ? 10 : 30;
    const img = await buildBusyboxImage(ctx.tempDir('containers-image'));
    const running = new Map<SideName, Instance>();
    try {
      for (const side of ctx.sides) {
        const inst = await startInstance(ctx, side, 'containers');
        running.set(side.name, inst);
        await expect(inst.socket, 'POST', '/v1.40/images/load?quiet=1', 200, { file: img.tarPath, timeoutMs: 120_000 });
        // One unrecorded cycle (first use of the runtime, caches).
        await lifecycle(inst, 1, { create: [], start: [], wait: [], remove: [], total: [] });
      }

      // ---- lifecycle --------------------------------------------------------------------
      const steps = new Map<SideName, Steps>();
      for (let i = 0; i < rounds; i++) {
        for (const side of ctx.order(i)) {
          const st = steps.get(side.name) ?? { create: [], start: [], wait: [], remove: [], total: [] };
          steps.set(side.name, st);
          const t0 = performance.now();
          await lifecycle(running.get(side.name)!, cyclesPerRound, st);
          ctx.log(`lifecycle round ${i + 1}/${rounds} ${side.name}: ${((cyclesPerRound * 1000) / (performance.now() - t0)).toFixed(2)} containers/s`);
        }
      }
      const per = (f: (s: Steps) => number) => Object.fromEntries([...steps].map(([k, s]) => [k, f(s)])) as Partial<Record<SideName, number>>;
      ctx.row({ section: SECTION, metric: 'create+start+wait+remove of busybox true, sequential', unit: 'containers/s', values: per((s) => (s.total.length * 1000) / s.total.reduce((a, b) => a + b, 0)), target: TARGETS.lifecycleRate, detail: Object.fromEntries([...steps].map(([k, s]) => [k, { n: s.total.length, totalMs: s.total.map((x) => round(x, 2)) }])) });
      for (const step of ['create', 'start', 'wait', 'remove'] as const) {
        ctx.row({ section: SECTION, metric: `  ${step} (median)`, unit: 'ms', values: per((s) => median(s[step])), detail: Object.fromEntries([...steps].map(([k, s]) => [k, s[step].map((x) => round(x, 2))])) });
      }

      // ---- logs -------------------------------------------------------------------------
      const logs: Partial<Record<SideName, number[]>> = {};
      for (let i = 0; i < rounds; i++) {
        for (const side of ctx.order(i)) {
          const r = await logsRound(running.get(side.name)!);
          if (Math.abs(r.bytes - LOG_BYTES) > 1024) ctx.note(`containers: ${side.name} logs gave ${r.bytes} bytes of stdout, not ${LOG_BYTES}.`);
          (logs[side.name] ??= []).push(r.mbPerS);
          ctx.log(`logs round ${i + 1}/${rounds} ${side.name}: ${(r.bytes / MiB).toFixed(1)} MB in ${ms(r.ms)} (${r.mbPerS.toFixed(1)} MB/s)`);
        }
      }
      ctx.row({ section: SECTION, metric: '10 MB of stdout read through GET /containers/{id}/logs (median)', unit: 'MB/s', values: Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, median(v)])), target: TARGETS.logsThroughput, detail: logs });

      // ---- exec -------------------------------------------------------------------------
      const execMs: Partial<Record<SideName, number[]>> = {};
      const sleepers = new Map<SideName, string>();
      for (const side of ctx.sides) {
        const inst = running.get(side.name)!;
        const c = await create(inst, ['sleep', '3600']);
        await expect(inst.socket, 'POST', `/v1.40/containers/${c.id}/start`, 204);
        sleepers.set(side.name, c.id);
        await execOnce(inst, c.id); // unrecorded
      }
      for (let i = 0; i < rounds; i++) {
        for (const side of ctx.order(i)) {
          const inst = running.get(side.name)!;
          for (let k = 0; k < execPerRound; k++) (execMs[side.name] ??= []).push(await execOnce(inst, sleepers.get(side.name)!));
          ctx.log(`exec round ${i + 1}/${rounds} ${side.name}: median ${ms(median(execMs[side.name]!))}`);
        }
      }
      for (const side of ctx.sides) await expect(running.get(side.name)!.socket, 'DELETE', `/v1.40/containers/${sleepers.get(side.name)!}?force=1&t=0`, 204, { timeoutMs: 60_000 });
      const execSummary = Object.fromEntries(Object.entries(execMs).map(([k, v]) => [k, summarize(v)]));
      ctx.row({ section: SECTION, metric: 'exec round trip of true (create + start attached, to the end of the stream) p50', unit: 'ms', values: Object.fromEntries(Object.entries(execSummary).map(([k, s]) => [k, s.p50])), detail: execSummary });
      ctx.row({ section: SECTION, metric: '  exec round trip p90', unit: 'ms', values: Object.fromEntries(Object.entries(execSummary).map(([k, s]) => [k, s.p90])) });

      // ---- list -------------------------------------------------------------------------
      for (const count of [50, 100]) {
        for (const side of ctx.sides) {
          const inst = running.get(side.name)!;
          const have = (await listIds(inst)).length;
          for (let k = have; k < count; k++) await create(inst, ['true'], { 'org.tspod.bench.list': String(k) });
          const now = (await listIds(inst)).length;
          if (now !== count) ctx.note(`containers: ${side.name} lists ${now} containers where ${count} were created.`);
        }
        for (const concurrency of [1, 16]) {
          const workers = concurrency > 1 ? ctx.options.clientWorkers : 1;
          const path = '/v1.40/containers/json?all=1';
          for (const side of ctx.sides) await runLoad({ endpoint: { path: running.get(side.name)!.socket }, path, concurrency, workers, durationMs: ctx.plan.warmupMs, record: false });
          const lat: Partial<Record<SideName, Float64Array[]>> = {};
          for (let i = 0; i < ctx.plan.loadRounds; i++) {
            for (const side of ctx.order(i)) {
              const r = await runLoad({ endpoint: { path: running.get(side.name)!.socket }, path, concurrency, workers, durationMs: ctx.plan.loadMs });
              (lat[side.name] ??= []).push(r.latenciesMs);
              const bad = r.errors + r.timeouts + Object.entries(r.statuses).filter(([s]) => s !== '200').reduce((n, [, c]) => n + c, 0);
              ctx.log(`${path} (${count}) c${concurrency} round ${i + 1} ${side.name}: ${r.completed} answers, p50 ${ms(summarize(r.latenciesMs).p50)}${bad ? `, ${bad} errors/non-200` : ''}`);
              if (bad) ctx.note(`containers: ${side.name} ${path} with ${count} c${concurrency}: ${bad} errors, timeouts or non-200 answers.`);
            }
          }
          const p50: Partial<Record<SideName, number>> = {};
          const detail: Record<string, unknown> = {};
          for (const [name, parts] of Object.entries(lat)) {
            const s = summarize(concatSamples(parts));
            p50[name as SideName] = s.p50;
            detail[name] = { n: s.n, p50: round(s.p50), p90: round(s.p90), p99: round(s.p99) };
          }
          ctx.row({ section: SECTION, metric: `GET /containers/json?all=1, ${count} containers, c${concurrency} p50`, unit: 'ms', values: p50, target: TARGETS.containerListP50, detail });
        }
      }
    } finally {
      // Remove every container, then check that nothing of the run is left running.
      for (const inst of running.values()) {
        try {
          for (const id of await listIds(inst)) await expect(inst.socket, 'DELETE', `/v1.40/containers/${id}?force=1&t=0`, [204, 404], { timeoutMs: 60_000 });
          const left = (await listIds(inst)).length;
          if (left) ctx.note(`containers: ${inst.side.name} still lists ${left} containers after removing them all.`);
        } catch (err) {
          ctx.note(`containers: removing ${inst.side.name}'s containers failed: ${(err as Error).message}`);
        }
      }
      for (const inst of running.values()) {
        let left = processesMentioning(inst.side.dir, ['conmon', 'runc', 'crun']);
        for (let t = 0; left.length && t < 50; t++) {
          await sleep(200);
          left = processesMentioning(inst.side.dir, ['conmon', 'runc', 'crun']);
        }
        if (left.length) {
          const kinds = new Map<string, number>();
          for (const p of left) {
            const exe = p.argv.split(' ')[0]!.replace(/.*\//, '');
            const kind = `${exe}${exe === 'conmon' ? (/ -u \S+/.test(p.argv) && / -c (\S+) -u (\S+)/.exec(p.argv)?.[1] !== / -c (\S+) -u (\S+)/.exec(p.argv)?.[2] ? ' (exec session)' : ' (container)') : ''}`;
            kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
          }
          ctx.note(`containers: ${inst.side.name} left ${left.length} processes after removing all its containers (killed now): ${[...kinds].map(([k, n]) => `${n} × ${k}`).join(', ')}; e.g. ${left[0]!.argv.slice(0, 140)}`);
          for (const p of left) {
            try {
              process.kill(p.pid, 'SIGKILL');
            } catch {
              // gone
            }
          }
        } else ctx.log(`${inst.side.name}: no conmon/runc process left`);
      }
      for (const inst of running.values()) await stopInstance(ctx, inst);
    }
  },
};

