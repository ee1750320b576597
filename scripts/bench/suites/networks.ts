// Networks and compose (issue 5), with the busybox test image loaded into both services:
// sequential create + start + remove (force) of a busybox httpd on the default network with one
// published port (127.0.0.1:<free port>:8080/tcp; containers/s and each step's median), and
// Debian docker-compose 1.29 `up -d` + `down` of the project in test/fixtures/compose (seconds;
// its volume seeded once per side with `run --rm`, `down -v` at the end). After `up -d` the web
// answer on the published port and the client's exit (it fetches http://web:8080/ by service
// name) are awaited outside the timing. Sides alternate round by round; every container,
// project network and volume is removed at the end.
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { buildBusyboxImage } from '../../../test/helpers/test-image.js';
import { expect, sleep, startInstance, stopInstance, type Instance } from '../api.js';
import type { BenchContext, SideName, Suite } from '../context.js';
import { ms } from '../report.js';
import { median, round } from '../stats.js';
import type { Target } from '../targets.js';

const SECTION = 'Networks';
const IMAGE = 'localhost/busybox:latest';
const COMPOSE = '/usr/bin/docker-compose';
// Issue 5's targets: at least Podman's rate; compose up+down at most Podman's time.
const PORT_RATE: Target = { kind: 'ratio-min', value: 1.0 };
const COMPOSE_TIME: Target = { kind: 'ratio-max', value: 1.0 };
// Podman 4.3's default RLIMIT_NOFILE (1048576) can exceed the host's hard limit and fail runc
// create; both sides get the same explicit limits (the compose project sets them too).
const HOST_CONFIG = { Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 1024 }, { Name: 'nproc', Soft: 4096, Hard: 4096 }] };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function httpStatus(port: number): Promise<number> {
  return new Promise((resolve) => {
    const r = httpRequest({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    r.on('timeout', () => r.destroy());
    r.on('error', () => resolve(0));
    r.end();
  });
}

type Steps = { create: number[]; start: number[]; remove: number[]; total: number[] };
const noSteps = (): Steps => ({ create: [], start: [], remove: [], total: [] });

async function portCycles(inst: Instance, n: number, steps: Steps): Promise<void> {
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const t0 = performance.now();
    const c = await expect(inst.socket, 'POST', '/v1.40/containers/create', 201, {
      json: {
        Image: IMAGE,
        Cmd: ['httpd', '-f', '-p', '8080'],
        Labels: { 'org.tspod.bench': 'networks' },
        ExposedPorts: { '8080/tcp': {} },
        HostConfig: { ...HOST_CONFIG, PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] } },
      },
    });
    const id = (JSON.parse(c.body.toString('utf8')) as { Id: string }).Id;
    const s = await expect(inst.socket, 'POST', `/v1.40/containers/${id}/start`, 204, { timeoutMs: 60_000 });
    const d = await expect(inst.socket, 'DELETE', `/v1.40/containers/${id}?force=1&t=0`, 204, { timeoutMs: 60_000 });
    steps.create.push(c.ms);
    steps.start.push(s.ms);
    steps.remove.push(d.ms);
    steps.total.push(performance.now() - t0);
  }
}

interface ComposeRun {
  inst: Instance;
  project: string;
  port: number;
}

function compose(ctx: BenchContext, run: ComposeRun, args: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      COMPOSE,
      ['--ansi', 'never', '-p', run.project, ...args],
      {
        cwd: join(ctx.repoRoot, 'test', 'fixtures', 'compose'),
        timeout: 120_000,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: run.inst.side.dir, DOCKER_HOST: `unix://${run.inst.socket}`, WEB_PORT: String(run.port), IMAGE },
      },
      (err, stdout, stderr) => (err ? reject(new Error(`${run.inst.side.name}: docker-compose ${args.join(' ')}: ${err.message.trim()}\n${stdout}${stderr}`)) : resolve(performance.now() - t0)),
    );
  });
}

type ComposeTimes = { up: number[]; down: number[]; total: number[]; ready: number[] };
const noTimes = (): ComposeTimes => ({ up: [], down: [], total: [], ready: [] });

async function composeRound(ctx: BenchContext, run: ComposeRun, t: ComposeTimes): Promise<void> {
  const up = await compose(ctx, run, ['up', '-d']);
  // Outside the timing: the web answers on the published port, the client fetched by name and exited 0.
  const r0 = performance.now();
  let status = 0;
  for (let k = 0; k < 200 && status !== 200; k++) {
    status = await httpStatus(run.port);
    if (status !== 200) await sleep(50);
  }
  if (status !== 200) throw new Error(`${run.inst.side.name}: the compose web service did not answer 200 on 127.0.0.1:${run.port} (last ${status})`);
  const w = await expect(run.inst.socket, 'POST', `/v1.40/containers/${run.project}_client_1/wait`, 200, { timeoutMs: 60_000 });
  const code = (JSON.parse(w.body.toString('utf8')) as { StatusCode: number }).StatusCode;
  if (code !== 0) throw new Error(`${run.inst.side.name}: the compose client exited ${code} (it fetches http://web:8080/ by service name)`);
  t.ready.push(performance.now() - r0);
  const down = await compose(ctx, run, ['down', '-t', '5']);
  t.up.push(up);
  t.down.push(down);
  t.total.push(up + down);
}

export const networksSuite: Suite = {
  name: 'networks',
  description: 'create+start+remove with a published port on the default network (rate, steps), docker-compose up -d + down of the issue-5 project (seconds)',
  async run(ctx: BenchContext) {
    const rounds = ctx.options.quick ? 1 : 3;
    const cyclesPerRound = ctx.options.quick ? 5 : 10;
    const composeRounds = ctx.options.quick ? 2 : 5;
    const img = await buildBusyboxImage(ctx.tempDir('networks-image'));
    const running = new Map<SideName, Instance>();
    const projects = new Map<SideName, ComposeRun>();
    try {
      for (const side of ctx.sides) {
        const inst = await startInstance(ctx, side, 'networks');
        running.set(side.name, inst);
        await expect(inst.socket, 'POST', '/v1.40/images/load?quiet=1', 200, { file: img.tarPath, timeoutMs: 120_000 });
        await portCycles(inst, 1, noSteps()); // unrecorded (first use of runtime and netavark)
      }

      // ---- create + start + remove with a published port ---------------------------------
      const steps = new Map<SideName, Steps>();
      for (let i = 0; i < rounds; i++) {
        for (const side of ctx.order(i)) {
          const st = steps.get(side.name) ?? noSteps();
          steps.set(side.name, st);
          const t0 = performance.now();
          await portCycles(running.get(side.name)!, cyclesPerRound, st);
          ctx.log(`published-port lifecycle round ${i + 1}/${rounds} ${side.name}: ${((cyclesPerRound * 1000) / (performance.now() - t0)).toFixed(2)} containers/s`);
        }
      }
      const per = (f: (s: Steps) => number) => Object.fromEntries([...steps].map(([k, s]) => [k, f(s)])) as Partial<Record<SideName, number>>;
      ctx.row({ section: SECTION, metric: 'create+start+remove, default network, one published port, sequential', unit: 'containers/s', values: per((s) => (s.total.length * 1000) / s.total.reduce((a, b) => a + b, 0)), target: PORT_RATE, detail: Object.fromEntries([...steps].map(([k, s]) => [k, { n: s.total.length, totalMs: s.total.map((x) => round(x, 2)) }])) });
      for (const step of ['create', 'start', 'remove'] as const) {
        ctx.row({ section: SECTION, metric: `  ${step} (median)`, unit: 'ms', values: per((s) => median(s[step])), detail: Object.fromEntries([...steps].map(([k, s]) => [k, s[step].map((x) => round(x, 2))])) });
      }

      // ---- docker-compose up -d + down --------------------------------------------------
      for (const side of ctx.sides) {
        // Rootful Podman's networks are host-wide: a project name per side (and per run).
        const run: ComposeRun = { inst: running.get(side.name)!, project: `tspodbench${process.pid}${side.name}`, port: await freePort() };
        projects.set(side.name, run);
        await compose(ctx, run, ['run', '--rm', '-T', 'web', 'sh', '-c', 'echo "$GREETING" > /www/index.html']);
        await composeRound(ctx, run, noTimes()); // unrecorded
      }
      const times = new Map<SideName, ComposeTimes>();
      for (let i = 0; i < composeRounds; i++) {
        for (const side of ctx.order(i)) {
          const t = times.get(side.name) ?? noTimes();
          times.set(side.name, t);
          await composeRound(ctx, projects.get(side.name)!, t);
          ctx.log(`compose round ${i + 1}/${composeRounds} ${side.name}: up -d ${ms(t.up.at(-1)!)}, down ${ms(t.down.at(-1)!)}`);
        }
      }
      const perT = (f: (t: ComposeTimes) => number) => Object.fromEntries([...times].map(([k, t]) => [k, f(t)])) as Partial<Record<SideName, number>>;
      const detailT = Object.fromEntries([...times].map(([k, t]) => [k, { upMs: t.up.map((x) => round(x, 1)), downMs: t.down.map((x) => round(x, 1)), readyMs: t.ready.map((x) => round(x, 1)) }]));
      ctx.row({ section: SECTION, metric: 'docker-compose up -d + down of the web/client/volume project (median)', unit: 's', values: perT((t) => median(t.total) / 1000), target: COMPOSE_TIME, detail: detailT });
      ctx.row({ section: SECTION, metric: '  up -d (median)', unit: 's', values: perT((t) => median(t.up) / 1000) });
      ctx.row({ section: SECTION, metric: '  down (median)', unit: 's', values: perT((t) => median(t.down) / 1000) });
      ctx.row({ section: SECTION, metric: '  after up -d: web answering and client done (median, not timed above)', unit: 's', values: perT((t) => median(t.ready) / 1000) });
    } finally {
      for (const run of projects.values()) {
        await compose(ctx, run, ['down', '-v', '-t', '1']).catch((err: unknown) => ctx.note(`networks: final compose down -v on ${run.inst.side.name} failed: ${(err as Error).message.slice(0, 300)}`));
      }
      for (const inst of running.values()) {
        try {
          const r = await expect(inst.socket, 'GET', '/v1.40/containers/json?all=1', 200);
          for (const c of JSON.parse(r.body.toString('utf8')) as { Id: string }[]) await expect(inst.socket, 'DELETE', `/v1.40/containers/${c.Id}?force=1&t=0`, [204, 404], { timeoutMs: 60_000 });
        } catch (err) {
          ctx.note(`networks: removing ${inst.side.name}'s containers failed: ${(err as Error).message}`);
        }
      }
      for (const inst of running.values()) await stopInstance(ctx, inst);
    }
  },
};
