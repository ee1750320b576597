// Where tspod's cold start goes (tspod only; hints, no targets):
//  - the Node floor: `node -e 0`, and spawn → first answer of a bare node:http server;
//  - isolated import cost of each npm package the service imports, and of each module
//    cli/main.js imports, each in a fresh process (shared dependencies count in each);
//  - a CPU profile (node --cpu-prof) of real cold starts, cut at the first answer, by package
//    and file (self and inclusive time) and the hottest functions.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchContext, Suite } from '../context.js';
import { formatProfile, profilerClockUs, readProfile, summarizeProfile } from '../cpuprofile.js';
import { coldStart, serviceEnv, stopService } from '../services.js';
import { median, round } from '../stats.js';
import { BARE_SERVER } from './ceiling.js';

export const startupProfileSuite: Suite = {
  name: 'startup-profile',
  description: "tspod's startup: Node floor, import costs, CPU profile of a cold start",
  enabled: (ctx) => ctx.sides.some((s) => s.name === 'tspod'),
  async run(ctx: BenchContext) {
    const tspod = ctx.sides.find((s) => s.name === 'tspod')!;
    const dir = ctx.tempDir('profile');
    const n = ctx.plan.probes;
    const env = serviceEnv(ctx.options);

    // The floor any Node service starts from.
    const bare: number[] = [];
    const bareRss: number[] = [];
    const nodeE: number[] = [];
    const boot: number[] = [];
    const bootShellEnv: number[] = [];
    const BOOT = 'process.stdout.write(String(performance.now()))';
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await run(process.execPath, ['-e', '0'], ctx.repoRoot, env);
      nodeE.push(performance.now() - t);
      boot.push(Number(await run(process.execPath, ['-e', BOOT], ctx.repoRoot, env)));
      if (process.env.NODE_EXTRA_CA_CERTS) bootShellEnv.push(Number(await run(process.execPath, ['-e', BOOT], ctx.repoRoot, process.env)));
      const socket = join(dir, 'bare.sock');
      const c = await coldStart(ctx, { argv: [process.execPath, BARE_SERVER, 'http', socket], socket, logFile: join(dir, 'bare.log'), path: '/_ping' });
      bare.push(c.ms);
      if (c.rssKb) bareRss.push(c.rssKb);
    }
    ctx.reference(
      'Node floor (median)',
      `node -e 0: ${median(nodeE).toFixed(1)} ms wall; Node boot to first user code: ${median(boot).toFixed(1)} ms; bare node:http: spawn → first answer ${median(bare).toFixed(1)} ms, RSS then ${(median(bareRss) / 1024).toFixed(1)} MB`,
    );
    if (bootShellEnv.length) {
      ctx.note(
        `NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS} is set in this shell: with this environment Node boots to user code in ${median(bootShellEnv).toFixed(1)} ms instead of ${median(boot).toFixed(1)} ms (the CA bundle is parsed at every start). ${ctx.options.inheritEnv ? 'The services inherited it (--inherit-env).' : 'The services ran without it.'}`,
      );
    }
    ctx.data('nodeFloor', { nodeEMs: nodeE.map((x) => round(x, 2)), bootMs: boot.map((x) => round(x, 2)), bareHttpMs: bare.map((x) => round(x, 2)), bareHttpRssKb: bareRss });

    // Import costs, each in a fresh process.
    const dist = join(ctx.tspodRoot, 'dist');
    const packages = bareImports(dist);
    // With the bundle, the compiled modules are not what runs: only packages are timed, and the
    // bundle's files are listed instead (the CPU profiles below show the bundle at work).
    const bundled = existsSync(join(dist, 'bundle', 'tspod.js'));
    const mainImports = bundled ? [] : relativeImports(join(dist, 'cli', 'main.js'));
    if (bundled) {
      const entry = readFileSync(join(dist, 'bundle', 'tspod.js'), 'utf8');
      const files = readdirSync(join(dist, 'bundle'))
        .filter((f) => f.endsWith('.js'))
        .map((f) => ({ f, kb: statSync(join(dist, 'bundle', f)).size / 1024, lazy: entry.includes(`import("./${f}")`) }))
        .sort((a, b) => b.kb - a.kb);
      ctx.note(`tspod runs the esbuild bundle dist/bundle/ (${files.reduce((a, x) => a + x.kb, 0).toFixed(0)} kB): ${files.map((x) => `${x.f} ${x.kb.toFixed(0)} kB${x.lazy ? ' (lazy)' : ''}`).join(', ')}`);
    }
    const imports: { what: string; ms: number; bootMs: number; rssMb: number }[] = [];
    const baseRss: number[] = [];
    for (let i = 0; i < 2; i++) baseRss.push(Number(await run(process.execPath, ['--input-type=module', '-e', 'process.stdout.write(String(process.memoryUsage().rss))'], ctx.repoRoot, env)));
    const base = median(baseRss);
    for (const [what, spec] of [...packages.map((p) => [p, p] as const), ...mainImports.map((f) => [relative(ctx.tspodRoot, f), pathToFileURL(f).href] as const)]) {
      const times: number[] = [];
      const boots: number[] = [];
      const rss: number[] = [];
      for (let i = 0; i < Math.max(2, Math.min(n, 3)); i++) {
        const code = `const t0 = performance.now(); await import(${JSON.stringify(spec)}); process.stdout.write(JSON.stringify([performance.now() - t0, t0, process.memoryUsage().rss])); process.exit(0);`;
        try {
          const [ms, b, r] = JSON.parse(await run(process.execPath, ['--input-type=module', '-e', code], ctx.repoRoot, env)) as [number, number, number];
          times.push(ms);
          boots.push(b);
          rss.push(r);
        } catch (err) {
          ctx.log(`import ${what}: ${(err as Error).message.split('\n')[0]}`);
          break;
        }
      }
      if (times.length) imports.push({ what, ms: median(times), bootMs: median(boots), rssMb: (median(rss) - base) / 1048576 });
    }
    imports.sort((a, b) => b.ms - a.ms);
    ctx.data('imports', imports.map((x) => ({ ...x, ms: round(x.ms, 2), bootMs: round(x.bootMs, 2), rssMb: round(x.rssMb, 2) })));
    ctx.note(
      `tspod startup — isolated import cost of ${bundled ? 'the npm packages it bundles (unbundled here, ' : 'its packages and modules ('}fresh process each, median; shared dependencies count in each; RSS over an empty ${(base / 1048576).toFixed(1)} MB process):\n` +
        imports.map((x) => `${x.ms.toFixed(1).padStart(7)} ms ${x.rssMb.toFixed(1).padStart(6)} MB  ${x.what}`).join('\n'),
    );

    // CPU profiles of cold starts, cut at the first answer.
    
    for (const path of ['/_ping', '/v1.40/containers/json']) {
      const profDir = join(dir, `cpuprof-${path.replace(/\W+/g, '_')}`);
      const socket = join(dir, 'tspod.sock');
      const spawnedAt = performance.now();
      const c = await coldStart(ctx, {
        argv: tspod.argv(socket, ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '200']),
        socket,
        logFile: join(dir, 'tspod.log'),
        path,
        keep: true,
      });
      await stopService(ctx, c.started!);
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (!file) {
        ctx.note(`tspod CPU profile of a cold start to ${path}: no profile written (did the service exit through process.exit?)`);
        continue;
      }
      const prof = readProfile(join(profDir, file));
      const spawnUs = profilerClockUs(spawnedAt);
      const summary = summarizeProfile(prof, ctx.tspodRoot, spawnUs, profilerClockUs(spawnedAt + c.connectMs));
      const after = summarizeProfile(prof, ctx.tspodRoot, spawnUs, profilerClockUs(spawnedAt + c.ms), profilerClockUs(spawnedAt + c.connectMs));
      ctx.data(`cpuProfile ${path}`, { untilListening: summary, listeningToAnswer: after, ms: round(c.ms, 2), connectMs: round(c.connectMs, 2) });
      const phases = summary.clockAligned
        ? `Node boot before the profiler ${summary.profileStartMs.toFixed(0)} ms, then ${(c.connectMs - summary.profileStartMs).toFixed(0)} ms until listening, then ${(c.ms - c.connectMs).toFixed(0)} ms from the connection to the answer`
        : 'clocks not aligned: whole profile';
      ctx.note(
        `tspod CPU profile of a cold start to ${path} (with the profiler: ${c.ms.toFixed(0)} ms; ${phases}).\n` +
          `Until listening:\n${formatProfile(summary, 12, 6)}\n` +
          `From listening to the answer of the first request:\n${formatProfile(after, 6, 4)}`,
      );
    }
  },
};

function run(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ').slice(0, 80)} exited ${code}: ${err.trim().slice(0, 500)}`))));
  });
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.js')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

/** npm packages the service's compiled code imports (type-only imports vanish in compilation). */
function bareImports(dist: string): string[] {
  const pkgs = new Set<string>();
  for (const sub of ['cli', 'server', 'engine', 'handlers']) {
    let files: string[] = [];
    try {
      files = walk(join(dist, sub));
    } catch {
      continue;
    }
    for (const f of files) {
      for (const s of specifiers(f)) {
        if (s.startsWith('.') || s.startsWith('node:') || s.startsWith('/')) continue;
        const parts = s.split('/');
        pkgs.add(s.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
      }
    }
  }
  return [...pkgs].sort();
}

function relativeImports(file: string): string[] {
  return specifiers(file)
    .filter((s) => s.startsWith('.'))
    .map((s) => join(file, '..', s));
}

