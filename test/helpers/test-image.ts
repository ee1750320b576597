// Test images built from Debian's busybox-static (/bin/busybox), byte for byte deterministic
// (fixed mtimes, owners, order), so their IDs are stable:
//   base:    one layer: /bin/busybox and a symlink per applet, /etc/passwd, /etc/group,
//            /etc/motd, /opt/old/{a,b}.txt, /tmp (1777) and the directories the runtime mounts
//            over; config Cmd ["sh"], Env PATH.
//   variant (extraLayers): a second layer that deletes /etc/motd (whiteout), replaces /opt/old
//            (opaque directory, one new file) and adds /etc/hello.txt.
// Written as docker-archive (as `docker save` lays it out: layers first, manifest.json last),
// docker-oci-archive (Docker 25+'s `docker save`: an OCI layout plus manifest.json) or
// oci-archive, optionally gzip-compressed. Tests only.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tar, type TestEntry } from './tar-builder.js';

export const BUSYBOX_TAG = 'localhost/busybox:latest';
const MTIME = 1_700_000_000;
const CREATED = '2024-01-01T00:00:00Z';
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface BusyboxImageOptions {
  /** RepoTags entry (docker-archive) or ref name (oci-archive); null for none. Default localhost/busybox:latest. */
  tag?: string | null;
  /** Add the second layer (whiteout, opaque directory, new file). */
  extraLayers?: boolean;
  format?: 'docker-archive' | 'docker-oci-archive' | 'oci-archive';
  gzip?: boolean;
  /** File name inside `dir` (default derived from the options). */
  fileName?: string;
}

export interface BusyboxImage {
  tarPath: string;
  /** Hex image ID (sha256 of the config). */
  id: string;
  diffIDs: string[];
  /** The layer tars (uncompressed), bottom first. */
  layers: Buffer[];
  config: Buffer;
  tag: string | null;
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function findBusybox(): string {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) if (existsSync(p)) return p;
  try {
    execFileSync('apt-get', ['install', '-y', 'busybox-static'], { stdio: 'ignore' });
  } catch {
    /* reported below */
  }
  if (existsSync('/bin/busybox')) return '/bin/busybox';
  throw new Error('busybox not found: apt-get install -y busybox-static');
}

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

let baseCache: Buffer | undefined;

/** The base layer tar (cached: busybox does not change during a run). */
export function busyboxBaseLayer(): Buffer {
  if (baseCache) return baseCache;
  const busybox = findBusybox();
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'busybox' && !s.includes('/'))
    .sort();
  const e = (x: TestEntry): TestEntry => ({ uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: MTIME, ...x });
  const entries: TestEntry[] = [];
  for (const d of ['bin', 'dev', 'etc', 'home', 'opt', 'opt/old', 'proc', 'root', 'run', 'sys', 'usr', 'usr/bin', 'var']) entries.push(e({ name: `${d}/`, type: 'dir', mode: d === 'root' ? 0o700 : 0o755 }));
  entries.push(e({ name: 'tmp/', type: 'dir', mode: 0o1777 }));
  entries.push(e({ name: 'bin/busybox', content: readFileSync(busybox), mode: 0o755 }));
  for (const a of applets) entries.push(e({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' }));
  entries.push(e({ name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n' }));
  entries.push(e({ name: 'etc/group', content: 'root:x:0:\ndaemon:x:1:\ntty:x:5:\nnogroup:x:65534:\n' }));
  entries.push(e({ name: 'etc/motd', content: 'busybox test image\n' }));
  entries.push(e({ name: 'opt/old/a.txt', content: 'old a\n' }));
  entries.push(e({ name: 'opt/old/b.txt', content: 'old b\n' }));
  baseCache = tar(entries);
  return baseCache;
}

/** The second layer: removes /etc/motd, makes /opt/old opaque with one new file, adds /etc/hello.txt. */
export function busyboxExtraLayer(): Buffer {
  const e = (x: TestEntry): TestEntry => ({ uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: MTIME + 60, ...x });
  return tar([
    e({ name: 'etc/', type: 'dir', mode: 0o755 }),
    e({ name: 'etc/.wh.motd' }),
    e({ name: 'etc/hello.txt', content: 'hello from layer 2\n' }),
    e({ name: 'opt/', type: 'dir', mode: 0o755 }),
    e({ name: 'opt/old/', type: 'dir', mode: 0o755 }),
    e({ name: 'opt/old/.wh..wh..opq' }),
    e({ name: 'opt/old/new.txt', content: 'new in layer 2\n' }),
  ]);
}

function imageConfig(diffIDs: string[], extra: boolean): Buffer {
  const history: Array<Record<string, unknown>> = [
    { created: CREATED, created_by: '/bin/sh -c #(nop) ADD file:busybox-static in / ' },
    { created: CREATED, created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
  ];
  if (extra) history.push({ created: '2024-01-01T00:01:00Z', created_by: '/bin/sh -c rm /etc/motd && echo hello > /etc/hello.txt', comment: 'layer 2' });
  const config = {
    architecture: GOARCH[process.arch] ?? process.arch,
    config: { Env: [PATH_ENV], Cmd: ['sh'], Labels: extra ? { 'org.tspod.test': 'variant' } : { 'org.tspod.test': 'base' } },
    created: extra ? '2024-01-01T00:01:00Z' : CREATED,
    history,
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: diffIDs },
  };
  return Buffer.from(JSON.stringify(config));
}

/** Builds the busybox test image as an archive in `dir`. */
export async function buildBusyboxImage(dir: string, opts: BusyboxImageOptions = {}): Promise<BusyboxImage> {
  const tag = opts.tag === undefined ? BUSYBOX_TAG : opts.tag;
  const format = opts.format ?? 'docker-archive';
  const layers = [busyboxBaseLayer(), ...(opts.extraLayers ? [busyboxExtraLayer()] : [])];
  const diffIDs = layers.map((l) => `sha256:${sha(l)}`);
  const config = imageConfig(diffIDs, Boolean(opts.extraLayers));
  const id = sha(config);
  const e = (name: string, content: Buffer | string): TestEntry => ({ name, content, mtime: MTIME, mode: 0o644 });
  let archive: Buffer;
  if (format === 'docker-archive') {
    const entries: TestEntry[] = [];
    for (const [i, l] of layers.entries()) {
      entries.push({ name: `${diffIDs[i]!.slice(7)}/`, type: 'dir', mtime: MTIME });
      entries.push(e(`${diffIDs[i]!.slice(7)}/layer.tar`, l));
    }
    entries.push(e(`${id}.json`, config));
    entries.push(e('manifest.json', JSON.stringify([{ Config: `${id}.json`, RepoTags: tag ? [tag] : null, Layers: diffIDs.map((d) => `${d.slice(7)}/layer.tar`) }])));
    archive = tar(entries);
  } else {
    const layerDescs = layers.map((l, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: diffIDs[i]!, size: l.length }));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${id}`, size: config.length },
        layers: layerDescs,
      }),
    );
    const docker = format === 'docker-oci-archive';
    // Docker 25 names the image in io.containerd.image.name and puts only the tag in ref.name.
    const annotations = !tag ? undefined : docker ? { 'io.containerd.image.name': tag, 'org.opencontainers.image.ref.name': tag.slice(tag.lastIndexOf(':') + 1) } : { 'org.opencontainers.image.ref.name': tag };
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${sha(manifest)}`, size: manifest.length, ...(annotations ? { annotations } : {}) }],
    };
    archive = tar([
      { name: 'blobs/', type: 'dir', mtime: MTIME },
      { name: 'blobs/sha256/', type: 'dir', mtime: MTIME },
      ...layers.map((l, i) => e(`blobs/sha256/${diffIDs[i]!.slice(7)}`, l)),
      e(`blobs/sha256/${id}`, config),
      e(`blobs/sha256/${sha(manifest)}`, manifest),
      e('oci-layout', '{"imageLayoutVersion":"1.0.0"}'),
      e('index.json', JSON.stringify(index)),
      ...(docker ? [e('manifest.json', JSON.stringify([{ Config: `blobs/sha256/${id}`, RepoTags: tag ? [tag] : null, Layers: diffIDs.map((d) => `blobs/sha256/${d.slice(7)}`) }]))] : []),
    ]);
  }
  if (opts.gzip) archive = gzipSync(archive);
  mkdirSync(dir, { recursive: true });
  const fileName = opts.fileName ?? `busybox-${opts.extraLayers ? 'variant' : 'base'}-${format}${opts.gzip ? '.tar.gz' : '.tar'}`;
  const tarPath = join(dir, fileName);
  writeFileSync(tarPath, archive);
  return { tarPath, id, diffIDs, layers, config, tag };
}

let cacheDir: string | undefined;
const built = new Map<string, Promise<BusyboxImage>>();

/** Builds once per test process (in a temporary directory removed at exit). */
export function cachedBusyboxImage(opts: BusyboxImageOptions = {}): Promise<BusyboxImage> {
  const key = JSON.stringify(opts);
  let p = built.get(key);
  if (!p) {
    if (!cacheDir) {
      cacheDir = mkdtempSync(join(tmpdir(), 'tspod-test-images-'));
      const dir = cacheDir;
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    }
    p = buildBusyboxImage(cacheDir, { ...opts, fileName: `img-${sha(key).slice(0, 12)}.tar` });
    built.set(key, p);
  }
  return p;
}

/** POSTs a file as the request body (streamed) and returns status and body text. */
export function postFile(socketPath: string, path: string, file: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { socketPath, method: 'POST', path, headers: { 'Content-Type': 'application/x-tar', 'Content-Length': String(statSync(file).size) }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    createReadStream(file).pipe(req);
  });
}

/**
 * Loads the busybox test image into a running service (POST /libpod/images/load) and returns
 * it with the names the service gave it. `service` is anything with a socketPath (TestService).
 */
export async function loadBusyboxImage(service: { socketPath: string }, opts: BusyboxImageOptions = {}): Promise<BusyboxImage & { names: string[] }> {
  const img = await cachedBusyboxImage(opts);
  const r = await postFile(service.socketPath, '/v5.1.0/libpod/images/load', img.tarPath);
  if (r.status !== 200) throw new Error(`loading the busybox test image failed: ${r.status} ${r.text}`);
  const names = (JSON.parse(r.text) as { Names: string[] }).Names;
  return { ...img, names };
}
