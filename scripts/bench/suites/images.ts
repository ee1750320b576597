// Images (issue 3): pull of a multi-layer image (> 50 MB of gzip layers) from a local
// docker-registry through the compat `POST /images/create?fromImage=…`, on a fresh root each
// round, then a second image sharing all but its top layer (seconds, and the bytes the registry
// sent, through a counting relay: the shared layers must not come again); load and save
// throughput of the same image as a docker-archive (`POST /images/load`, `GET /images/{name}/get`,
// fresh root each round); `GET /images/json` latency p50 at c1 and c16 with 200 distinct images.
// Both services get a registries.conf (CONTAINERS_REGISTRIES_CONF) marking the registry insecure,
// since Podman does not treat loopback registries as plain-HTTP-allowed on its own.
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { seedImage, TestRegistry } from '../../../test/helpers/registry.js';
import { tar, type TestEntry } from '../../../test/helpers/tar-builder.js';
import { busyboxBaseLayer } from '../../../test/helpers/test-image.js';
import { expect, MiB, startInstance, stopInstance, streamError, type Instance } from '../api.js';
import { runLoad } from '../client.js';
import type { BenchContext, SideName, Suite } from '../context.js';
import { ms } from '../report.js';
import { concatSamples, median, round, summarize } from '../stats.js';
import { TARGETS } from '../targets.js';

const SECTION = 'Images';
const LAYER_MB = 13;
const LIST_IMAGES = 200;
const MTIME = 1_700_000_000;
/** How long a load round waits for answers in flight (Podman takes seconds per list of 200 images). */
const GRACE_MS = 180_000;

/** A TCP relay in front of the registry that counts the bytes the registry sends. */
class CountingRelay {
  bytesDown = 0;
  port = 0;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  constructor(private readonly upstreamPort: number) {}
  async start(): Promise<void> {
    this.server = createServer((client) => {
      const up = connect(this.upstreamPort, '127.0.0.1');
      this.sockets.add(client).add(up);
      up.on('data', (c: Buffer) => (this.bytesDown += c.length));
      client.pipe(up);
      up.pipe(client);
      // pipe() ends the other side when one ends (flushing what is buffered); errors cut both.
      const fail = () => {
        client.destroy();
        up.destroy();
      };
      client.on('error', fail).on('close', () => this.sockets.delete(client));
      up.on('error', fail).on('close', () => this.sockets.delete(up));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server!.address() as { port: number }).port;
  }
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function randomLayer(name: string, mb: number): Buffer {
  return tar([{ name: `${name}/`, type: 'dir', mtime: MTIME, mode: 0o755 }, { name: `${name}/data.bin`, content: randomBytes(mb * MiB), mtime: MTIME, mode: 0o644 }]);
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A docker-archive of images (layers stored once), each entry its own config and RepoTags. */
function dockerArchive(layers: Buffer[], images: { layerIdx: number[]; label: string; tag: string }[]): Buffer {
  const diffIDs = layers.map((l) => `sha256:${sha(l)}`);
  const entries: TestEntry[] = [];
  for (const [i, l] of layers.entries()) {
    entries.push({ name: `${diffIDs[i]!.slice(7)}/`, type: 'dir', mtime: MTIME });
    entries.push({ name: `${diffIDs[i]!.slice(7)}/layer.tar`, content: l, mtime: MTIME, mode: 0o644 });
  }
  const manifest: unknown[] = [];
  for (const img of images) {
    const ids = img.layerIdx.map((i) => diffIDs[i]!);
    const config = Buffer.from(
      JSON.stringify({
        architecture: ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch,
        os: 'linux',
        created: '2024-01-01T00:00:00Z',
        config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Labels: { 'org.tspod.bench': img.label } },
        rootfs: { type: 'layers', diff_ids: ids },
        history: ids.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
      }),
    );
    const id = sha(config);
    entries.push({ name: `${id}.json`, content: config, mtime: MTIME, mode: 0o644 });
    manifest.push({ Config: `${id}.json`, RepoTags: [img.tag], Layers: ids.map((d) => `${d.slice(7)}/layer.tar`) });
  }
  entries.push({ name: 'manifest.json', content: JSON.stringify(manifest), mtime: MTIME, mode: 0o644 });
  return tar(entries);
}

async function pull(inst: Instance, ref: string): Promise<number> {
  const [name, tag] = [ref.slice(0, ref.lastIndexOf(':')), ref.slice(ref.lastIndexOf(':') + 1)];
  const r = await expect(inst.socket, 'POST', `/v1.40/images/create?fromImage=${encodeURIComponent(name)}&tag=${tag}`, 200, { timeoutMs: 600_000 });
  const err = streamError(r.body);
  if (err) throw new Error(`${inst.side.name}: pull ${ref}: ${err}`);
  return r.ms;
}

export const imagesSuite: Suite = {
  name: 'images',
  description: 'pull (fresh root, shared layers), load/save MB/s of a >50 MB image; /images/json p50 with 200 images at c1/c16',
  async run(ctx: BenchContext) {
    // Pull and load rounds are ~1 s per side and noisy (±20% round to round on a busy host): 5.
    const rounds = ctx.options.quick ? 1 : 5;
    const dir = ctx.tempDir('images');
    ctx.log('images: building the layers (random data, incompressible) and seeding the registry');
    const base = busyboxBaseLayer();
    const shared = [1, 2, 3].map((i) => randomLayer(`shared${i}`, LAYER_MB));
    const topA = randomLayer('topa', LAYER_MB);
    const topB = randomLayer('topb', 4);

    const registry = await TestRegistry.start();
    if (registry.proc) ctx.cleanup.track(registry.proc);
    const relay = new CountingRelay(registry.port);
    try {
      await relay.start();
      const a = await seedImage(registry, 'bench/big', 'a', [base, ...shared, topA].map((tar) => ({ tar })));
      const b = await seedImage(registry, 'bench/big', 'b', [base, ...shared, topB].map((tar) => ({ tar })));
      const host = `127.0.0.1:${relay.port}`;
      const refA = `${host}/bench/big:a`;
      const refB = `${host}/bench/big:b`;
      // Compressed sizes as the registry stores them (from the manifests).
      const sizes = (m: Buffer) => (JSON.parse(m.toString('utf8')) as { layers: { size: number; digest: string }[] }).layers;
      const aBytes = sizes(a.manifest).reduce((n, l) => n + l.size, 0);
      const bOnly = sizes(b.manifest).filter((l) => !a.layerDigests.includes(l.digest)).reduce((n, l) => n + l.size, 0);
      ctx.reference('images: pulled image', `${(aBytes / MiB).toFixed(1)} MB in ${a.layerDigests.length} gzip layers; the second shares ${a.layerDigests.length - 1} and adds ${(bOnly / MiB).toFixed(1)} MB`);

      const conf = join(dir, 'registries.conf');
      writeFileSync(conf, `unqualified-search-registries = []\n\n[[registry]]\nlocation = "${host}"\ninsecure = true\n`);
      const env = { CONTAINERS_REGISTRIES_CONF: conf };

      // ---- pull -------------------------------------------------------------------------
      const pullA: Partial<Record<SideName, number[]>> = {};
      const pullB: Partial<Record<SideName, number[]>> = {};
      const downB: Partial<Record<SideName, number[]>> = {};
      const downA: Partial<Record<SideName, number[]>> = {};
      for (let i = 0; i < rounds; i++) {
        for (const side of ctx.order(i)) {
          const inst = await startInstance(ctx, side, `pull${i}`, env);
          try {
            let before = relay.bytesDown;
            const ta = await pull(inst, refA);
            (downA[side.name] ??= []).push(relay.bytesDown - before);
            before = relay.bytesDown;
            const tb = await pull(inst, refB);
            (downB[side.name] ??= []).push(relay.bytesDown - before);
            (pullA[side.name] ??= []).push(ta);
            (pullB[side.name] ??= []).push(tb);
            ctx.log(`pull round ${i + 1}/${rounds} ${side.name}: ${(ta / 1000).toFixed(2)} s (${((relay.bytesDown - before) / MiB).toFixed(1)} MB for the second), second image ${(tb / 1000).toFixed(2)} s`);
          } finally {
            await stopInstance(ctx, inst);
          }
        }
      }
      const med = (o: Partial<Record<SideName, number[]>>, f = (x: number) => x) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(median(v))])) as Partial<Record<SideName, number>>;
      ctx.row({ section: SECTION, metric: `pull ${(aBytes / MiB).toFixed(0)} MB, ${a.layerDigests.length} layers, fresh root (median)`, unit: 's', values: med(pullA, (x) => x / 1000), target: TARGETS.pullTime, detail: { ms: pullA, bytesDown: downA } });
      ctx.row({ section: SECTION, metric: 'pull of a 2nd image sharing all but the top layer', unit: 's', values: med(pullB, (x) => x / 1000), detail: { ms: pullB } });
      ctx.row({ section: SECTION, metric: `registry bytes sent for it (its own: ${(bOnly / MiB).toFixed(1)} MB)`, unit: 'MB', values: med(downB, (x) => x / MiB), detail: { bytes: downB } });
      for (const [name, v] of Object.entries(downB)) {
        const worst = Math.max(...v);
        if (worst > bOnly + 1 * MiB) ctx.note(`images: ${name} downloaded ${(worst / MiB).toFixed(1)} MB for the second image, whose own layers are ${(bOnly / MiB).toFixed(1)} MB: shared layers came again.`);
      }

      // ---- load / save ------------------------------------------------------------------
      const archive = join(dir, 'big.tar');
      const saveName = 'bench.local/big:latest';
      const archiveBuf = dockerArchive([base, ...shared, topA], [{ layerIdx: [0, 1, 2, 3, 4], label: 'big', tag: saveName }]);
      writeFileSync(archive, archiveBuf);
      const archiveMb = archiveBuf.length / MiB;
      const loadMbs: Partial<Record<SideName, number[]>> = {};
      const saveMbs: Partial<Record<SideName, number[]>> = {};
      const savedMb: Partial<Record<SideName, number[]>> = {};
      for (let i = 0; i < rounds; i++) {
        for (const side of ctx.order(i)) {
          const inst = await startInstance(ctx, side, `load${i}`, env);
          try {
            const l = await expect(inst.socket, 'POST', '/v1.40/images/load?quiet=1', 200, { file: archive, timeoutMs: 600_000 });
            const err = streamError(l.body);
            if (err) throw new Error(`${side.name}: load: ${err}`);
            const s = await expect(inst.socket, 'GET', `/v1.40/images/${saveName}/get`, 200, { discard: true, timeoutMs: 600_000 });
            (loadMbs[side.name] ??= []).push(archiveMb / (l.ms / 1000));
            (saveMbs[side.name] ??= []).push(s.bytes / MiB / (s.ms / 1000));
            (savedMb[side.name] ??= []).push(s.bytes / MiB);
            ctx.log(`load/save round ${i + 1}/${rounds} ${side.name}: load ${(l.ms / 1000).toFixed(2)} s, save ${(s.bytes / MiB).toFixed(1)} MB in ${(s.ms / 1000).toFixed(2)} s`);
          } finally {
            await stopInstance(ctx, inst);
          }
        }
      }
      ctx.row({ section: SECTION, metric: `load docker-archive ${archiveMb.toFixed(0)} MB, fresh root (median)`, unit: 'MB/s', values: med(loadMbs), target: TARGETS.loadThroughput, detail: { mbPerS: loadMbs } });
      ctx.row({ section: SECTION, metric: 'save (GET /images/{name}/get) of the loaded image', unit: 'MB/s', values: med(saveMbs), detail: { mbPerS: saveMbs, savedMb } });
      ctx.row({ section: SECTION, metric: '  size of the saved archive', unit: 'MB', values: med(savedMb) });
    } finally {
      await relay.stop();
      await registry.stop();
    }

    // ---- list with 200 images -----------------------------------------------------------
    const small = [0, 1].map((i) => tar([{ name: `f${i}.txt`, content: `small layer ${i}\n`, mtime: MTIME, mode: 0o644 }]));
    const list = dockerArchive(small, Array.from({ length: LIST_IMAGES }, (_, i) => ({ layerIdx: i % 2 ? [0, 1] : [0], label: `img${i}`, tag: `bench.local/list${i}:latest` })));
    const listArchive = join(dir, 'list.tar');
    writeFileSync(listArchive, list);
    const running = new Map<SideName, Instance>();
    try {
      for (const side of ctx.sides) {
        const inst = await startInstance(ctx, side, 'list');
        running.set(side.name, inst);
        const l = await expect(inst.socket, 'POST', '/v1.40/images/load?quiet=1', 200, { file: listArchive, timeoutMs: 600_000 });
        const err = streamError(l.body);
        if (err) throw new Error(`${side.name}: load of ${LIST_IMAGES} images: ${err}`);
        const one = await expect(inst.socket, 'GET', '/v1.40/images/json', 200, { timeoutMs: 300_000 });
        const n = (JSON.parse(one.body.toString('utf8')) as unknown[]).length;
        ctx.log(`${side.name}: ${n} images after loading a ${LIST_IMAGES}-image archive in ${(l.ms / 1000).toFixed(2)} s; a first GET /images/json took ${ms(one.ms)}`);
        if (n < LIST_IMAGES) ctx.note(`images: ${side.name} lists ${n} images after loading ${LIST_IMAGES} (multi-image docker-archive).`);
      }
      for (const concurrency of [1, 16]) {
        const workers = concurrency > 1 ? ctx.options.clientWorkers : 1;
        const lat: Partial<Record<SideName, Float64Array[]>> = {};
        const path = '/v1.40/images/json';
        for (const side of ctx.sides) await runLoad({ endpoint: { path: running.get(side.name)!.socket }, path, concurrency, workers, durationMs: ctx.plan.warmupMs, record: false, graceMs: GRACE_MS });
        for (let i = 0; i < ctx.plan.loadRounds; i++) {
          for (const side of ctx.order(i)) {
            const r = await runLoad({ endpoint: { path: running.get(side.name)!.socket }, path, concurrency, workers, durationMs: ctx.plan.loadMs, graceMs: GRACE_MS });
            (lat[side.name] ??= []).push(r.latenciesMs);
            const bad = r.errors + r.timeouts + Object.entries(r.statuses).filter(([s]) => s !== '200').reduce((n, [, c]) => n + c, 0);
            ctx.log(`${path} (${LIST_IMAGES} images) c${concurrency} round ${i + 1} ${side.name}: ${r.completed} answers, p50 ${ms(summarize(r.latenciesMs).p50)}${bad ? `, ${bad} errors/non-200` : ''}`);
            if (bad) ctx.note(`images: ${side.name} ${path} c${concurrency}: ${bad} errors, timeouts or non-200 answers.`);
          }
        }
        const p50: Partial<Record<SideName, number>> = {};
        const detail: Record<string, unknown> = {};
        for (const [name, parts] of Object.entries(lat)) {
          const s = summarize(concatSamples(parts));
          p50[name as SideName] = s.p50;
          detail[name] = { n: s.n, p50: round(s.p50), p90: round(s.p90), p99: round(s.p99) };
        }
        ctx.row({ section: SECTION, metric: `GET /images/json, ${LIST_IMAGES} images, c${concurrency} p50`, unit: 'ms', values: p50, target: TARGETS.imageListP50, detail });
      }
    } finally {
      for (const inst of running.values()) await stopInstance(ctx, inst);
    }
  },
};
