// Container benchmarks, tspod against Podman's own service in one run (issue 4's figures):
//   lifecycle: sequential create + start + wait + remove of `busybox true` (rate, step medians)
//   logs:      a container printing 10 MB to stdout, read back through the logs endpoint (MB/s)
//   exec:      exec create + start (attached) + inspect of `true` (round-trip median)
//   list:      GET /containers/json?all=1 with 50 and 100 containers at concurrency 1 and 16
// Run: node dist/test/bench/containers-bench.js [--rounds N] [--only tspod|podman] [--network none]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, TestService, waitFor } from '../helpers/service.js';
import { cachedBusyboxImage, postFile } from '../helpers/test-image.js';
import { demux, hijackRequest, mountsUnder } from '../helpers/containers.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const ROUNDS = Number(opt('--rounds', '20'));
const ONLY = opt('--only', '');
// Podman 4.3's default RLIMIT_NOFILE (1048576) is above this host's hard limit and fails runc
// create; both sides get the same explicit limit.
const NETWORK = opt('--network', '');
const HOST = { Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 1024 }, { Name: 'nproc', Soft: 4096, Hard: 4096 }], ...(NETWORK ? { NetworkMode: NETWORK } : {}) };

interface Target {
  name: string;
  socket: string;
  /** Image name as loaded. */
  image: string;
  stop(): Promise<void>;
}

function req(socket: string, method: string, path: string, body?: unknown, agent?: Agent): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const r = httpRequest({ socketPath: socket, method, path, agent: agent ?? false, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(payload);
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]! : NaN;
};

async function tspodTarget(): Promise<Target> {
  const svc = await TestService.start();
  const img = await cachedBusyboxImage();
  const r = await postFile(svc.socketPath, '/v5.1.0/libpod/images/load', img.tarPath);
  if (r.status !== 200) throw new Error(`tspod load: ${r.text}`);
  return {
    name: 'tspod',
    socket: svc.socketPath,
    image: 'localhost/busybox:latest',
    async stop() {
      await svc.stop();
      for (const mp of mountsUnder(svc.dir).reverse()) spawnSync('umount', ['-l', mp]);
      await svc.cleanup();
    },
  };
}

async function podmanTarget(): Promise<Target | undefined> {
  if (spawnSync('sh', ['-c', 'command -v podman']).status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tspod-bench-podman-'));
  const socket = join(dir, 'podman.sock');
  const child: ChildProcess = spawn('podman', ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp'), 'system', 'service', '--time', '0', `unix://${socket}`], { stdio: 'ignore' });
  await waitFor(() => canConnect(socket), 20_000, 'podman to listen');
  const img = await cachedBusyboxImage();
  const r = await postFile(socket, '/v4.3.1/libpod/images/load', img.tarPath);
  if (r.status !== 200) throw new Error(`podman load: ${r.text}`);
  return {
    name: 'podman',
    socket,
    image: 'localhost/busybox:latest',
    async stop() {
      await req(socket, 'POST', '/v4.3.1/libpod/containers/prune');
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      spawnSync('podman', ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), 'rm', '-af'], { stdio: 'ignore' });
      // Podman's overlay driver mounts its storage on itself (root/overlay) whenever it runs.
      for (let pass = 0; pass < 3 && mountsUnder(dir).length; pass++) for (const mp of mountsUnder(dir).reverse()) spawnSync('umount', ['-l', mp]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function lifecycle(t: Target) {
  const steps = { create: [] as number[], start: [] as number[], wait: [] as number[], remove: [] as number[] };
  // One warm-up cycle.
  for (let i = -1; i < ROUNDS; i++) {
    const t0 = performance.now();
    const c = await req(t.socket, 'POST', '/v1.40/containers/create', { Image: t.image, Cmd: ['true'], HostConfig: HOST });
    if (c.status !== 201) throw new Error(`${t.name} create: ${c.status} ${c.body}`);
    const id = JSON.parse(c.body.toString()).Id as string;
    const t1 = performance.now();
    const s = await req(t.socket, 'POST', `/v1.40/containers/${id}/start`);
    if (s.status !== 204) throw new Error(`${t.name} start: ${s.status} ${s.body}`);
    const t2 = performance.now();
    await req(t.socket, 'POST', `/v1.40/containers/${id}/wait`);
    const t3 = performance.now();
    const d = await req(t.socket, 'DELETE', `/v1.40/containers/${id}`);
    if (d.status !== 204) throw new Error(`${t.name} remove: ${d.status} ${d.body}`);
    const t4 = performance.now();
    if (i < 0) continue;
    steps.create.push(t1 - t0);
    steps.start.push(t2 - t1);
    steps.wait.push(t3 - t2);
    steps.remove.push(t4 - t3);
  }
  const total = steps.create.reduce((n, _, i) => n + steps.create[i]! + steps.start[i]! + steps.wait[i]! + steps.remove[i]!, 0);
  return { rate: (ROUNDS / total) * 1000, create: median(steps.create), start: median(steps.start), wait: median(steps.wait), remove: median(steps.remove) };
}

async function logsThroughput(t: Target) {
  const c = await req(t.socket, 'POST', '/v1.40/containers/create', { Image: t.image, Cmd: ['sh', '-c', 'yes 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789 | head -c 10485760'], HostConfig: HOST });
  const id = JSON.parse(c.body.toString()).Id as string;
  await req(t.socket, 'POST', `/v1.40/containers/${id}/start`);
  await req(t.socket, 'POST', `/v1.40/containers/${id}/wait`);
  const t0 = performance.now();
  const r = await req(t.socket, 'GET', `/v1.40/containers/${id}/logs?stdout=1&stderr=1`);
  const ms = performance.now() - t0;
  const bytes = demux(r.body).reduce((n, f) => n + f.data.length, 0);
  await req(t.socket, 'DELETE', `/v1.40/containers/${id}?force=1`);
  return { mb: bytes / 1048576, mbPerS: bytes / 1048576 / (ms / 1000) };
}

async function execRoundTrip(t: Target) {
  const c = await req(t.socket, 'POST', '/v1.40/containers/create', { Image: t.image, Cmd: ['sleep', '600'], HostConfig: HOST });
  const id = JSON.parse(c.body.toString()).Id as string;
  await req(t.socket, 'POST', `/v1.40/containers/${id}/start`);
  const times: number[] = [];
  for (let i = -1; i < ROUNDS; i++) {
    const t0 = performance.now();
    const e = await req(t.socket, 'POST', `/v1.40/containers/${id}/exec`, { AttachStdout: true, AttachStderr: true, Cmd: ['true'] });
    const eid = JSON.parse(e.body.toString()).Id as string;
    const h = await hijackRequest(t.socket, 'POST', `/v1.40/exec/${eid}/start`, { Detach: false, Tty: false });
    await h.body;
    await req(t.socket, 'GET', `/v1.40/exec/${eid}/json`);
    if (i >= 0) times.push(performance.now() - t0);
  }
  await req(t.socket, 'DELETE', `/v1.40/containers/${id}?force=1`);
  return { median: median(times), p90: pct(times, 90) };
}

async function listLatency(t: Target, total: number, have: string[]) {
  while (have.length < total) {
    const c = await req(t.socket, 'POST', '/v1.40/containers/create', { Image: t.image, Cmd: ['true'], Labels: { bench: 'list' }, HostConfig: HOST });
    have.push(JSON.parse(c.body.toString()).Id as string);
  }
  const out: Record<string, { p50: number; p90: number }> = {};
  for (const conc of [1, 16]) {
    const agent = new Agent({ keepAlive: true, maxSockets: conc });
    const times: number[] = [];
    const perWorker = Math.max(10, Math.floor(200 / conc));
    await Promise.all(
      Array.from({ length: conc }, async () => {
        for (let i = 0; i < perWorker; i++) {
          const t0 = performance.now();
          const r = await req(t.socket, 'GET', '/v1.40/containers/json?all=1', undefined, agent);
          if (r.status !== 200) throw new Error(`${t.name} list: ${r.status}`);
          times.push(performance.now() - t0);
        }
      }),
    );
    agent.destroy();
    out[`c${conc}`] = { p50: median(times), p90: pct(times, 90) };
  }
  return out;
}

async function main() {
  const targets: Target[] = [];
  if (ONLY !== 'podman') targets.push(await tspodTarget());
  if (ONLY !== 'tspod') {
    const p = await podmanTarget().catch((e: unknown) => {
      console.error(`podman side unavailable: ${(e as Error).message}`);
      return undefined;
    });
    if (p) targets.push(p);
  }
  const results: Record<string, unknown> = {};
  try {
    for (const t of targets) {
      const lc = await lifecycle(t);
      const logs = await logsThroughput(t);
      const exec = await execRoundTrip(t);
      const ids: string[] = [];
      const l50 = await listLatency(t, 50, ids);
      const l100 = await listLatency(t, 100, ids);
      for (const id of ids) await req(t.socket, 'DELETE', `/v1.40/containers/${id}`);
      results[t.name] = { lifecycle: lc, logs, exec, list50: l50, list100: l100 };
      console.log(`${t.name}: lifecycle ${lc.rate.toFixed(2)}/s (create ${lc.create.toFixed(1)} start ${lc.start.toFixed(1)} wait ${lc.wait.toFixed(1)} remove ${lc.remove.toFixed(1)} ms); logs ${logs.mbPerS.toFixed(1)} MB/s of ${logs.mb.toFixed(1)} MB; exec ${exec.median.toFixed(1)} ms (p90 ${exec.p90.toFixed(1)}); list50 c1 ${l50.c1!.p50.toFixed(2)} c16 ${l50.c16!.p50.toFixed(2)} ms; list100 c1 ${l100.c1!.p50.toFixed(2)} c16 ${l100.c16!.p50.toFixed(2)} ms`);
    }
  } finally {
    for (const t of targets) await t.stop().catch(() => {});
  }
  console.log(JSON.stringify(results, null, 1));
}

await main();
