// Pushing one local image to a registry: layer blobs, config, then the manifest.
//
// For each layer the registry may already have its blob (HEAD: skipped), may mount it from
// another repository of the same registry that the image came from or went to (cross-repository
// blob mount), or it is uploaded: from the blob store when the blob is kept there (monolithic
// PUT), else compressed from the unpacked layer (gzip, streamed in one chunked PATCH). The
// manifest the image came with is pushed as it is whenever every layer blob it names is in
// place and the wanted format is its own, so the digest stays the same; otherwise a Docker
// schema 2 (or OCI) manifest is made for the blobs pushed.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createGzip } from 'node:zlib';
import { parseDigest } from '../images/blob-store.js';
import { EngineError } from '../errors.js';
import { discard, readBody, type RegistryClient, registryError, responseHeader } from './client.js';
import { Slots } from './pull.js';
import { type Descriptor, type ImageManifest, MediaType, type PushProgress, type PushSource, type RegistryImageStore } from './types.js';

interface LayerPlan {
  diffID: string;
  chainID: string;
  /** Blob digests known for this layer, best first, with their media type when known. */
  known: Array<{ digest: string; size: number; mediaType?: string }>;
}

export interface PushTarget {
  client: RegistryClient;
  repo: string;
  tag?: string;
  /** Repositories on the same registry the blobs may be mounted from. */
  mountFrom: string[];
  format?: 'v2s2' | 'oci';
}

function formatOf(mediaType: string): 'v2s2' | 'oci' {
  return mediaType === MediaType.ociManifest ? 'oci' : 'v2s2';
}

function layerMediaType(format: 'v2s2' | 'oci', compression: 'gzip' | 'none' | 'zstd'): string {
  if (format === 'oci') return compression === 'gzip' ? MediaType.ociLayerGzip : compression === 'zstd' ? MediaType.ociLayerZstd : MediaType.ociLayer;
  return compression === 'gzip' ? MediaType.dockerLayerGzip : 'application/vnd.docker.image.rootfs.diff.tar';
}

function compressionOfMediaType(mt: string | undefined): 'gzip' | 'none' | 'zstd' {
  if (!mt) return 'gzip';
  if (mt.endsWith('gzip')) return 'gzip';
  if (mt.endsWith('zstd')) return 'zstd';
  return 'none';
}

export class Pusher {
  private readonly slots = new Slots(4);
  /** Blobs this service made when pushing (gzipped layers): DiffID → blob, to find them in registries again. */
  private readonly madeBlobs = new Map<string, { digest: string; size: number; mediaType: string }>();
  constructor(private readonly store: RegistryImageStore) {}

  async push(target: PushTarget, src: PushSource, emit: (p: PushProgress) => void, signal?: AbortSignal): Promise<{ digest: string; size: number; mediaType: string; manifest: Buffer }> {
    const { client, repo } = target;
    const scopes = [`repository:${repo}:pull,push`, ...target.mountFrom.filter((r) => r !== repo).map((r) => `repository:${r}:pull`)];
    const kept = src.manifest ? (JSON.parse(src.manifest.data.toString('utf8')) as ImageManifest) : undefined;
    const format = target.format ?? (src.manifest ? formatOf(src.manifest.mediaType) : 'v2s2');
    const plans: LayerPlan[] = src.layers.map((l, i) => {
      const known: LayerPlan['known'] = [];
      const fromManifest = kept?.layers[i];
      if (fromManifest) known.push({ digest: fromManifest.digest, size: fromManifest.size, mediaType: fromManifest.mediaType });
      if (l.compressedDigest && !known.some((k) => k.digest === l.compressedDigest)) {
        known.push({ digest: l.compressedDigest, size: l.compressedSize ?? -1, mediaType: l.compression === 'none' ? undefined : undefined });
      }
      const made = this.madeBlobs.get(l.diffID);
      if (made && !known.some((k) => k.digest === made.digest)) known.push(made);
      return { diffID: l.diffID, chainID: l.chainID, known };
    });
    const shortId = (p: LayerPlan) => p.diffID.slice(7, 19);
    for (const p of plans) emit({ type: 'layer', id: shortId(p), digest: p.diffID, status: 'Preparing' });

    const pushed: Descriptor[] = new Array(plans.length);
    const errors: unknown[] = [];
    const abort = new AbortController();
    const onAbort = () => abort.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.all(
        plans.map(async (p, i) => {
          await this.slots.acquire();
          try {
            abort.signal.throwIfAborted();
            const r = await this.pushLayer(target, scopes, p, src, format, (status, current, total, from) => emit({ type: 'layer', id: shortId(p), digest: p.diffID, status, current, total, from }), abort.signal);
            pushed[i] = r.descriptor;
            if (!r.reused) {
              this.madeBlobs.set(p.diffID, { digest: r.descriptor.digest, size: r.descriptor.size, mediaType: r.descriptor.mediaType });
            }
          } catch (e) {
            errors.push(e);
            abort.abort(e);
          } finally {
            this.slots.release();
          }
        }),
      );
      if (errors.length) throw errors[0];
      // Config.
      const cfgDesc: Descriptor = {
        mediaType: format === 'oci' ? MediaType.ociConfig : MediaType.dockerConfig,
        digest: src.configDigest,
        size: src.config.length,
      };
      emit({ type: 'config', digest: src.configDigest });
      if (!(await this.blobExists(client, repo, scopes, src.configDigest, abort.signal))) {
        await this.uploadBuffer(client, repo, scopes, src.config, src.configDigest, abort.signal);
      }
      // Manifest.
      let data: Buffer;
      let mediaType: string;
      const sameBlobs = !!kept && kept.layers.length === pushed.length && pushed.every((d, i) => kept.layers[i]!.digest === d.digest);
      if (src.manifest && kept && sameBlobs && format === formatOf(src.manifest.mediaType) && kept.config.digest === src.configDigest) {
        data = src.manifest.data;
        mediaType = src.manifest.mediaType;
      } else {
        mediaType = format === 'oci' ? MediaType.ociManifest : MediaType.dockerManifest;
        const m: ImageManifest = { schemaVersion: 2, mediaType, config: cfgDesc, layers: pushed.map((d) => ({ mediaType: d.mediaType, size: d.size, digest: d.digest })) };
        data = Buffer.from(JSON.stringify(m, null, 3));
      }
      const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      const ref = target.tag ?? digest;
      const what = `writing manifest ${ref} to ${client.registry}/${repo}`;
      const res = await client.request('PUT', `/v2/${repo}/manifests/${ref}`, { scopes, headers: { 'Content-Type': mediaType }, body: data, signal: abort.signal });
      if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw await pushError(res, client.registry, what);
      discard(res);
      emit({ type: 'manifest', tag: target.tag ?? '', digest, size: data.length });
      return { digest, size: data.length, mediaType, manifest: data };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async pushLayer(
    target: PushTarget,
    scopes: string[],
    p: LayerPlan,
    src: PushSource,
    format: 'v2s2' | 'oci',
    emit: (status: 'Pushing' | 'Pushed' | 'Layer already exists' | 'Mounted from' | 'Waiting', current?: number, total?: number, from?: string) => void,
    signal: AbortSignal,
  ): Promise<{ descriptor: Descriptor; reused: boolean }> {
    const { client, repo } = target;
    const desc = (k: LayerPlan['known'][number], size: number): Descriptor => ({
      mediaType: k.mediaType && (format === 'oci') === k.mediaType.startsWith('application/vnd.oci') ? k.mediaType : layerMediaType(format, compressionOfMediaType(k.mediaType)),
      digest: k.digest,
      size,
    });
    for (const k of p.known) {
      const size = await this.blobSize(client, repo, scopes, k.digest, signal);
      if (size !== undefined) {
        emit('Layer already exists');
        return { descriptor: desc(k, size), reused: true };
      }
    }
    for (const k of p.known) {
      for (const from of target.mountFrom) {
        if (from === repo) continue;
        const res = await client.request('POST', `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(k.digest)}&from=${encodeURIComponent(from)}`, { scopes, body: Buffer.alloc(0), signal });
        if (res.status === 201) {
          discard(res);
          emit('Mounted from', undefined, undefined, from);
          const size = k.size >= 0 ? k.size : ((await this.blobSize(client, repo, scopes, k.digest, signal)) ?? 0);
          return { descriptor: desc(k, size), reused: true };
        }
        if (res.status === 202) {
          // Not mountable; the registry opened an upload session instead: cancel it.
          const loc = responseHeader(res, 'location');
          discard(res);
          if (loc) client.request('DELETE', loc, { scopes, signal }).then(discard, () => undefined);
          continue;
        }
        discard(res);
      }
    }
    for (const k of p.known) {
      const st = await this.store.blobs.stat(k.digest);
      if (!st) continue;
      const file = this.store.blobs.path(k.digest);
      if ((await sniffCompression(file)) !== 'none') {
        await this.uploadFile(client, repo, scopes, file, k.digest, st.size, (n) => emit('Pushing', n, st.size), signal);
        emit('Pushed');
        return { descriptor: desc(k, st.size), reused: true };
      }
      // An uncompressed layer blob (docker save archives keep them so): registries get it gzipped.
      const r = await this.uploadGzip(client, repo, scopes, fs.createReadStream(file, { highWaterMark: 1024 * 1024 }), st.size, (n, t) => emit('Pushing', n, t), signal);
      emit('Pushed');
      return { descriptor: { mediaType: layerMediaType(format, 'gzip'), digest: r.digest, size: r.size }, reused: false };
    }
    if (!this.store.layerTar) {
      throw new EngineError('not-found', `layer ${p.diffID} of image ${src.id.slice(0, 12)}: its blob is not kept, so it cannot be pushed`);
    }
    const total = this.store.layers.get(p.chainID)?.uncompressedSize;
    const r = await this.uploadGzip(client, repo, scopes, this.store.layerTar(p.chainID, signal), total, (n, t) => emit('Pushing', n, t), signal);
    emit('Pushed');
    return { descriptor: { mediaType: layerMediaType(format, 'gzip'), digest: r.digest, size: r.size }, reused: false };
  }

  /** Gzips a stream into a new upload (one chunked PATCH, then PUT with the digest). */
  private async uploadGzip(
    client: RegistryClient,
    repo: string,
    scopes: string[],
    source: AsyncIterable<Buffer | string>,
    total: number | undefined,
    progress: (n: number, total: number | undefined) => void,
    signal: AbortSignal,
  ): Promise<{ digest: string; size: number }> {
    const gz = createGzip({ level: 6 });
    let read = 0;
    const feeding = (async () => {
      try {
        for await (const c of source) {
          const chunk = typeof c === 'string' ? Buffer.from(c) : c;
          read += chunk.length;
          progress(read, total);
          if (!gz.write(chunk)) await new Promise<void>((r) => gz.once('drain', () => r()));
        }
        gz.end();
      } catch (e) {
        gz.destroy(e as Error);
      }
    })();
    const hash = createHash('sha256');
    let size = 0;
    const body = (async function* () {
      for await (const c of gz) {
        hash.update(c as Buffer);
        size += (c as Buffer).length;
        yield c as Buffer;
      }
    })();
    const loc = await this.startUpload(client, repo, scopes, signal);
    const what = `uploading layer to ${client.registry}/${repo}`;
    const patch = await client.request('PATCH', loc, { scopes, headers: { 'Content-Type': 'application/octet-stream' }, body, signal, idleTimeout: 300_000 });
    await feeding;
    if (patch.status !== 202 && patch.status !== 204) throw await pushError(patch, client.registry, what);
    discard(patch);
    const digest = `sha256:${hash.digest('hex')}`;
    const next = responseHeader(patch, 'location') ?? loc;
    const res = await client.request('PUT', withDigest(next, digest), { scopes, body: Buffer.alloc(0), signal });
    if (res.status !== 201 && res.status !== 204) throw await pushError(res, client.registry, what);
    discard(res);
    return { digest, size };
  }

  private async blobSize(client: RegistryClient, repo: string, scopes: string[], digest: string, signal?: AbortSignal): Promise<number | undefined> {
    const res = await client.request('HEAD', `/v2/${repo}/blobs/${digest}`, { scopes, signal, follow: true });
    discard(res);
    if (res.status === 200) return Number(responseHeader(res, 'content-length') ?? 0);
    if (res.status === 404) return undefined;
    if (res.status === 401 || res.status === 403) throw await pushError(res, client.registry, `checking blob ${digest} in ${client.registry}/${repo}`);
    return undefined;
  }

  private async blobExists(client: RegistryClient, repo: string, scopes: string[], digest: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.blobSize(client, repo, scopes, digest, signal)) !== undefined;
  }

  private async startUpload(client: RegistryClient, repo: string, scopes: string[], signal?: AbortSignal): Promise<string> {
    const res = await client.request('POST', `/v2/${repo}/blobs/uploads/`, { scopes, body: Buffer.alloc(0), signal });
    if (res.status !== 202) throw await pushError(res, client.registry, `starting an upload to ${client.registry}/${repo}`);
    discard(res);
    const loc = responseHeader(res, 'location');
    if (!loc) throw new EngineError('internal', `starting an upload to ${client.registry}/${repo}: the registry gave no upload location`);
    return loc;
  }

  private async uploadBuffer(client: RegistryClient, repo: string, scopes: string[], data: Buffer, digest: string, signal?: AbortSignal): Promise<void> {
    const loc = await this.startUpload(client, repo, scopes, signal);
    const res = await client.request('PUT', withDigest(loc, digest), { scopes, headers: { 'Content-Type': 'application/octet-stream' }, body: data, signal });
    if (res.status !== 201 && res.status !== 204) throw await pushError(res, client.registry, `uploading blob ${digest} to ${client.registry}/${repo}`);
    discard(res);
  }

  private async uploadFile(client: RegistryClient, repo: string, scopes: string[], file: string, digest: string, size: number, progress: (n: number) => void, signal?: AbortSignal): Promise<void> {
    parseDigest(digest);
    const loc = await this.startUpload(client, repo, scopes, signal);
    let n = 0;
    const body = (async function* () {
      for await (const c of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) {
        n += (c as Buffer).length;
        progress(n);
        yield c as Buffer;
      }
    })();
    const res = await client.request('PUT', withDigest(loc, digest), {
      scopes,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
      body,
      signal,
      idleTimeout: 300_000,
    });
    if (res.status !== 201 && res.status !== 204) throw await pushError(res, client.registry, `uploading blob ${digest} to ${client.registry}/${repo}`);
    discard(res);
  }
}

async function sniffCompression(file: string): Promise<'gzip' | 'zstd' | 'none'> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    if (bytesRead >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (bytesRead >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    await fh.close();
  }
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

async function pushError(res: Parameters<typeof readBody>[0], registry: string, what: string): Promise<EngineError> {
  const e = await registryError(res, registry, what);
  if (res.status === 401) return new EngineError('unauthorized', e.message, undefined, e.reason);
  return e;
}
