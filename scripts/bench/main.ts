// `npm run bench`: tspod against Podman's service, measured in one run with the sides
// interleaved, printed as a table of figures, ratios and PASS/FAIL per target (exit status 0
// whatever the verdicts: a benchmark informs, it does not gate).
//
//   node dist/scripts/bench/main.js [--quick] [--only tspod|podman] [--json FILE]
//                                   [--suite NAME,...] [--client-workers N] [--node-flags FLAGS]
//                                   [--inherit-env] [--snapshot] [--list]
//
// Suites are modules under suites/ registered in SUITES below; a new one (image pull/load/save,
// container lifecycle, logs, networks, compose) implements `Suite` from context.ts, starts what
// it needs with services.ts, and reports rows (with a target from targets.ts where one exists).
import { mkdirSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cleanup } from './cleanup.js';
import { FULL_PLAN, QUICK_PLAN, type BenchContext, type BenchOptions, type Row, type SideName, type Suite } from './context.js';
import { podmanSide } from './podman.js';
import { renderReport, verdicts, writeJson, type Report } from './report.js';
import { prepareSide, snapshotTspod, tspodBuild, tspodSide, type Side } from './services.js';
import { ceilingSuite } from './suites/ceiling.js';
import { coldStartSuite } from './suites/cold-start.js';
import { containersSuite } from './suites/containers.js';
import { httpLoadSuite } from './suites/http-load.js';
import { imagesSuite } from './suites/images.js';
import { networksSuite } from './suites/networks.js';
import { requestProfileSuite } from './suites/request-profile.js';
import { startupProfileSuite } from './suites/startup-profile.js';

/** Every suite, in run order. */
const SUITES: Suite[] = [ceilingSuite, coldStartSuite, httpLoadSuite, startupProfileSuite, requestProfileSuite, imagesSuite, containersSuite, networksSuite];

const USAGE = `usage: node dist/scripts/bench/main.js [options]
  --quick               fewer starts and shorter rounds (a smoke run)
  --only tspod|podman   measure one side only (ratios and ratio targets become n/a)
  --json FILE           also write every figure (samples included) as JSON
  --suite NAME[,NAME]   run only these suites (see --list)
  --client-workers N    load-client threads at concurrency > 1 (default 2)
  --node-flags FLAGS    extra node flags for tspod (experiments), e.g. --node-flags=--max-semi-space-size=4
  --snapshot            run tspod from a copy of its build taken at the start, so that
                        rebuilds in the checkout during the run do not mix builds
  --inherit-env         run the services with this environment (default: PATH, LANG, HOME only,
                        as a systemd unit; NODE_EXTRA_CA_CERTS alone adds ~25 ms to a Node start)
  --list                list the suites
`;

class UsageError extends Error {}

function parseOptions(argv: string[]): BenchOptions & { list?: boolean; help?: boolean } {
  const o: BenchOptions & { list?: boolean; help?: boolean } = { quick: false, clientWorkers: 2, tspodNodeFlags: [], inheritEnv: false, snapshot: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--quick':
        o.quick = true;
        break;
      case '--only': {
        const v = value();
        if (v !== 'tspod' && v !== 'podman') throw new UsageError(`--only takes tspod or podman, not ${JSON.stringify(v)}`);
        o.only = v;
        break;
      }
      case '--json':
        o.json = value();
        break;
      case '--suite':
      case '--suites':
        o.suites = value().split(',').filter(Boolean);
        for (const s of o.suites) if (!SUITES.some((x) => x.name === s)) throw new UsageError(`unknown suite ${JSON.stringify(s)} (known: ${SUITES.map((x) => x.name).join(', ')})`);
        break;
      case '--client-workers': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 16) throw new UsageError('--client-workers takes 1..16');
        o.clientWorkers = n;
        break;
      }
      case '--node-flags':
        o.tspodNodeFlags.push(...value().split(/\s+/).filter(Boolean));
        break;
      case '--snapshot':
        o.snapshot = true;
        break;
      case '--inherit-env':
        o.inheritEnv = true;
        break;
      case '--list':
        o.list = true;
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  return o;
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (options.list) {
    for (const s of SUITES) process.stdout.write(`${s.name.padEnd(16)} ${s.description}\n`);
    return 0;
  }

  const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
  const cleanup = new Cleanup();
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`\nbench: ${sig}: stopping what was started and removing ${cleanup.root}\n`);
    cleanup.closeSync();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  process.once('exit', () => cleanup.closeSync());

  const plan = options.quick ? QUICK_PLAN : FULL_PLAN;
  const rows: Row[] = [];
  const references: { label: string; value: string }[] = [];
  const notes: string[] = [];
  const errors: string[] = [];
  const data: Record<string, Record<string, unknown>> = {};
  const t0 = performance.now();
  const loadAtStart = loadavg()[0]!;
  const log = (m: string) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${m}\n`);
  let sides: Side[] = [];
  let current = 'setup';
  let tspodRoot = repoRoot;
  if (options.snapshot && options.only !== 'podman') {
    tspodRoot = snapshotTspod(repoRoot, join(cleanup.root, 'tspod-snapshot'));
    log(`tspod runs from a snapshot of its build: ${tspodRoot}`);
  }
  const ctx: BenchContext = {
    options,
    plan,
    repoRoot,
    tspodRoot,
    get sides() {
      return sides;
    },
    cleanup,
    tempDir(name) {
      const d = join(cleanup.root, name);
      mkdirSync(d, { recursive: true });
      return d;
    },
    order: (i) => (i % 2 === 0 ? sides : [...sides].reverse()),
    log,
    row: (r) => rows.push(r),
    reference: (label, value) => references.push({ label, value }),
    note: (line) => notes.push(line),
    data: (key, value) => ((data[current] ??= {})[key] = value),
  };

  // The sides: tspod unless --only podman; Podman when installed and not --only tspod.
  const candidates: Side[] = [];
  if (options.only !== 'podman') candidates.push(tspodSide(ctx));
  if (options.only !== 'tspod') {
    const p = podmanSide(ctx);
    if ('unavailable' in p) notes.push(`Podman not measured: ${p.unavailable}. Ratio targets are n/a.`);
    else candidates.push(p);
  }
  const buildAtStart = tspodBuild(tspodRoot);
  const checkout = tspodBuild(repoRoot); // sources vs build are judged in the checkout
  if (candidates.some((s) => s.name === 'tspod') && checkout.warning) notes.push(checkout.warning);
  const firstStart: Partial<Record<SideName, number>> = {};
  for (const side of candidates) {
    try {
      firstStart[side.name] = await prepareSide(ctx, side);
      sides.push(side);
      log(`${side.label}: first start on an empty root answered /_ping in ${firstStart[side.name]!.toFixed(1)} ms`);
    } catch (err) {
      errors.push(`${side.name} could not be started, so it is not measured: ${(err as Error).message}`);
      log(`${side.name} could not be started: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  sides = [...sides];
  if (sides.length) rows.push({ section: 'Cold start (median)', metric: 'first start on an empty root → /_ping (1 run)', unit: 'ms', values: firstStart });

  const selected = SUITES.filter((s) => !options.suites || options.suites.includes(s.name));
  for (const suite of selected) {
    if (!sides.length && suite.name !== 'ceiling') continue;
    if (suite.enabled && !suite.enabled(ctx)) {
      log(`suite ${suite.name}: skipped`);
      continue;
    }
    current = suite.name;
    log(`suite ${suite.name}: ${suite.description}`);
    try {
      await suite.run(ctx);
    } catch (err) {
      errors.push(`suite ${suite.name} failed: ${(err as Error).stack ?? String(err)}`);
      log(`suite ${suite.name} failed: ${(err as Error).message}`);
    }
  }
  if (sides.some((s) => s.name === 'tspod') && tspodBuild(tspodRoot).stamp !== buildAtStart.stamp) {
    notes.unshift(`tspod's build changed during the run (dist/ was rebuilt): the figures mix builds — run again, or with --snapshot.`);
  }
  await cleanup.close();

  const order = ['Cold start (median)', 'API latency & throughput', 'Memory'];
  const sectionRank = (s: string) => (order.includes(s) ? order.indexOf(s) : order.length);
  const sortedRows = rows.map((r, i) => ({ r, i })).sort((a, b) => sectionRank(a.r.section) - sectionRank(b.r.section) || a.i - b.i).map((x) => x.r);
  const cpuList = cpus();
  const loadAtEnd = loadavg()[0]!;
  const load = `load average ${loadAtStart.toFixed(1)} at the start, ${loadAtEnd.toFixed(1)} at the end on ${cpuList.length} CPUs`;
  if (Math.max(loadAtStart, loadAtEnd) > cpuList.length) notes.unshift(`The machine was busy (${load}): other processes competed for the CPUs, so figures are noisier than usual.`);
  const report: Report = {
    title: `tspod benchmark${options.quick ? ' (--quick)' : ''} — ${new Date().toISOString().slice(0, 19)}Z, ${cpuList.length} CPU (${cpuList[0]?.model.trim() ?? '?'}), Linux ${release()}, ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    header: [
      ...sides.map((s) => `${s.name === 'tspod' ? 'tspod: ' : 'Podman:'} ${s.label}`),
      `${load}`,
      `environment of the services: ${options.inheritEnv ? "the bench's own (--inherit-env)" : 'PATH, LANG, HOME only (as a systemd unit; --inherit-env to keep the shell\'s)'}`,
      `plan: ${plan.coldStarts} cold starts per side and kind; load ${plan.loadRounds} × ${plan.loadMs} ms rounds per side (after ${plan.warmupMs} ms warm-up), sides alternating; ${options.clientWorkers} client threads at c16`,
    ],
    sides: sides.map((s) => s.name),
    rows: sortedRows,
    references,
    notes,
    errors,
  };
  process.stdout.write(renderReport(report));
  if (options.json) {
    const vs = verdicts(sortedRows);
    writeJson(options.json, {
      date: new Date().toISOString(),
      machine: { cpus: cpuList.length, model: cpuList[0]?.model, kernel: release(), node: process.versions.node, loadAverage: { start: loadAtStart, end: loadAtEnd } },
      options,
      plan,
      sides: Object.fromEntries(sides.map((s) => [s.name, { label: s.label, ...s.facts }])),
      rows: sortedRows.map((r, i) => ({ ...r, ratio: r.values.tspod !== undefined && r.values.podman ? r.values.tspod / r.values.podman : undefined, verdict: vs[i] })),
      references,
      notes,
      errors,
      data,
    });
    process.stderr.write(`bench: figures written to ${options.json}\n`);
  }
  return errors.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
