// Pulling one image from a registry into the blob and layer stores.
//
// Manifest (and list) and config are fetched and verified first: the config names the layers'
// DiffIDs, so layers already stored (by chain ID) are not downloaded, and blobs already in the
// blob store are unpacked from there. The other layers are downloaded in parallel (a shared pool
// of slots). A layer whose parent is stored when its download starts is verified and unpacked
// while it streams in, with no temporary copy; the others are downloaded to a temporary file
// (verified as they are written) and unpacked from it once their parent is in place. A blob whose
// digest or size does not match fails the pull, and the layer store keeps nothing of it (it
// renames a layer into place only once its unpack and DiffID check succeeded, and the blob digest
// is checked before the unpack returns). Layer work is keyed by chain ID, so concurrent pulls of
// the same image (or of images sharing layers) share the downloads. The image is recorded only
// when every layer is stored.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { parseDigest } from '../images/blob-store.js';
import { EngineError } from '../errors.js';
import { chainIDs } from '../storage/layer-store.js';
import { type HttpResponse, networkError, readBody, type RegistryClient, registryError, responseHeader } from './client.js';
import { isLayerMediaType, MANIFEST_ACCEPT, parseManifest, selectManifest } from './manifest.js';
import type { Descriptor, ImageConfigFile, ImageManifest, LayerStatus, Platform, PulledImage, PullProgress, RegistryImageStore, WorkLease } from './types.js';

/** A counting semaphore. */
export class Slots {
  private free: number;
  private readonly waiters: Array<() => void> = [];
  constructor(n: number) {
    this.free = n;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiters.push(r));
  }
  release(): void {
    const w = this.waiters.shift();
    if (w) w();
    else this.free++;
  }
}

export interface FetchedManifest {
  data: Buffer;
  mediaType: string;
  digest: string;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function digestMatches(data: Buffer, digest: string): boolean {
  const { algorithm } = parseDigest(digest);
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` === digest;
}

/** GET a manifest by tag or digest; a digest reference is verified. */
export async function fetchManifest(client: RegistryClient, repo: string, ref: string, signal?: AbortSignal): Promise<FetchedManifest> {
  const what = `reading manifest ${ref} in ${client.registry}/${repo}`;
  const res = await client.request('GET', `/v2/${repo}/manifests/${ref}`, { scopes: [`repository:${repo}:pull`], headers: { Accept: MANIFEST_ACCEPT }, signal });
  if (res.status !== 200) throw await manifestError(res, client.registry, repo, ref, what);
  const data = await readBody(res, 4 * 1024 * 1024);
  const mediaType = (responseHeader(res, 'content-type') ?? '').split(';')[0]!.trim();
  let digest: string;
  if (ref.includes(':')) {
    if (!digestMatches(data, ref)) throw new EngineError('internal', `${what}: manifest digest does not match ${ref}`);
    digest = ref;
  } else digest = sha256(data);
  return { data, mediaType, digest };
}

async function manifestError(res: HttpResponse, registry: string, repo: string, ref: string, what: string): Promise<EngineError> {
  const e = await registryError(res, registry, what);
  if (res.status === 404) {
    return new EngineError('not-found', `manifest for ${registry}/${repo}${ref.includes(':') ? '@' : ':'}${ref} not found: manifest unknown (registry ${registry})`, undefined, 'manifest unknown');
  }
  if (res.status === 401 || res.status === 403) {
    return new EngineError('unauthorized', `${what}: unauthorized: ${e.reason ?? 'authentication required'}`, undefined, e.reason);
  }
  return e;
}

/** GET a small blob (config) into memory, verified. */
export async function fetchSmallBlob(client: RegistryClient, repo: string, d: Descriptor, signal?: AbortSignal): Promise<Buffer> {
  const what = `fetching blob ${d.digest} from ${client.registry}/${repo}`;
  const res = await client.request('GET', `/v2/${repo}/blobs/${d.digest}`, { scopes: [`repository:${repo}:pull`], follow: true, signal });
  if (res.status !== 200) throw await registryError(res, client.registry, what);
  const data = await readBody(res, 64 * 1024 * 1024);
  if (!digestMatches(data, d.digest)) throw new EngineError('internal', `${what}: digest mismatch`);
  if (d.size >= 0 && data.length !== d.size) throw new EngineError('internal', `${what}: size ${data.length}, expected ${d.size}`);
  return data;
}

/** Yields a blob body, hashing it; throws at the end if digest or size do not match. */
async function* verified(body: Readable, d: Descriptor, registry: string, what: string, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  const { algorithm } = parseDigest(d.digest);
  const hash = createHash(algorithm);
  let n = 0;
  const it = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      let r: IteratorResult<Buffer>;
      try {
        r = (await it.next()) as IteratorResult<Buffer>;
      } catch (e) {
        throw networkError(registry, `${what} after ${n} of ${d.size} bytes`, e);
      }
      if (r.done) break;
      const chunk = r.value;
      hash.update(chunk);
      n += chunk.length;
      if (d.size >= 0 && n > d.size) throw new EngineError('internal', `${what}: more data than the ${d.size} bytes the manifest says`);
      onBytes(n);
      yield chunk;
    }
  } finally {
    if (n !== d.size) body.destroy();
  }
  if (d.size >= 0 && n !== d.size) throw new EngineError('internal', `${what}: got ${n} bytes, expected ${d.size} (the connection ended early)`);
  const got = `${algorithm}:${hash.digest('hex')}`;
  if (got !== d.digest) throw new EngineError('internal', `${what}: digest mismatch: got ${got}`);
}

async function* readStream(stream: Readable, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    onBytes(n);
    yield c as Buffer;
  }
}

/**
 * Passes a (verifying) blob stream through while writing it to a temporary file of the blob
 * store, renamed to its digest once the stream ended whole (after the verification at its end).
 * With `drain`, reads everything itself and yields nothing.
 */
async function* keepBlob(store: RegistryImageStore, digest: string, input: AsyncIterable<Buffer>, onCreated: () => void, drain = false): AsyncGenerator<Buffer> {
  const tmp = path.join(store.blobs.dir, 'tmp', randomBytes(12).toString('hex'));
  const fh = await fs.promises.open(tmp, 'wx', 0o600);
  let done = false;
  // Writes go on beside the unpack (positional, chained; at most a few chunks behind).
  let pending: Promise<void> = Promise.resolve();
  let inFlight = 0;
  let pos = 0;
  const writeAt = async (chunk: Buffer, at: number) => {
    let off = 0;
    while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off, at + off)).bytesWritten;
  };
  try {
    for await (const chunk of input) {
      const at = pos;
      pos += chunk.length;
      inFlight++;
      pending = pending.then(() => writeAt(chunk, at)).finally(() => inFlight--);
      if (drain || inFlight > 8) await pending;
      if (!drain) yield chunk;
    }
    await pending;
    await fh.close();
    await fs.promises.rename(tmp, store.blobs.path(digest));
    done = true;
    onCreated();
  } finally {
    if (!done) {
      await pending.catch(() => undefined);
      await fh.close().catch(() => undefined);
      await fs.promises.rm(tmp, { force: true });
    }
  }
}

/** Emits progress no more often than every 100 ms per layer (always the last one). */
function throttled(emit: (current: number) => void): { tick: (n: number) => void; flush: () => void } {
  let last = 0;
  let pending: number | undefined;
  return {
    tick(n) {
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        pending = undefined;
        emit(n);
      } else pending = n;
    },
    flush() {
      if (pending !== undefined) emit(pending);
      pending = undefined;
    },
  };
}

type Listener = (p: PullProgress) => void;

interface LayerJob {
  promise: Promise<void>;
  listeners: Set<Listener>;
  committed: boolean;
  abort: AbortController;
  chain: string;
  digest: string;
  /** What this job added to the stores (for a failed pull to take back). */
  created: { layer: boolean; blob: boolean };
}

export interface PullerDeps {
  store: RegistryImageStore;
  /** Where downloads wait for their parent layer (emptied when the domain starts). */
  tmpDir: string;
  /** Parallel blob downloads (shared by all pulls). */
  parallel: number;
}

export interface ResolvedPull {
  id: string;
  configDigest: string;
  config: Buffer;
  manifest: FetchedManifest;
  list?: FetchedManifest;
  diffIDs: string[];
  chains: string[];
  layers: PulledImage['layers'];
  /** The image was stored already (nothing downloaded). */
  existed: boolean;
  /** Pins what the pull stored until the image is recorded: release() after, abort() on failure. */
  lease?: WorkLease;
}

export class Puller {
  private readonly slots: Slots;
  private readonly jobs = new Map<string, LayerJob>();

  constructor(private readonly deps: PullerDeps) {
    this.slots = new Slots(deps.parallel);
  }

  /**
   * Fetches the manifest (picking `platform` from a list), the config and every missing layer of
   * `repo:ref` into the stores. Does not record the image (the caller does).
   */
  async pull(client: RegistryClient, repo: string, ref: string, platform: Platform, emit: Listener, signal?: AbortSignal): Promise<ResolvedPull> {
    const top = await fetchManifest(client, repo, ref, signal);
    const what = `${client.registry}/${repo}${ref.includes(':') ? '@' : ':'}${ref}`;
    let parsed = parseManifest(top.data, top.mediaType, `reading manifest of ${what}`);
    let manifest = top;
    let list: FetchedManifest | undefined;
    if (parsed.kind === 'index') {
      list = top;
      const d = selectManifest(parsed.index, platform, `pulling ${what}`);
      manifest = await fetchManifest(client, repo, d.digest, signal);
      parsed = parseManifest(manifest.data, manifest.mediaType || d.mediaType, `reading manifest ${d.digest} of ${what}`);
      if (parsed.kind !== 'image') throw new EngineError('invalid-argument', `${what}: nested manifest lists are not supported`);
      manifest.mediaType = parsed.mediaType;
    } else manifest.mediaType = parsed.mediaType;
    const m: ImageManifest = parsed.manifest;
    emit({ type: 'resolved', reference: what, repository: `${client.registry}/${repo}`, tagOrDigest: ref, manifestDigest: (list ?? manifest).digest });

    const configDigest = m.config.digest;
    const id = parseDigest(configDigest).hex;
    const store = this.deps.store;
    let config: Buffer;
    if (await store.blobs.has(configDigest)) config = await store.blobs.read(configDigest);
    else config = await fetchSmallBlob(client, repo, m.config, signal);
    let cfg: ImageConfigFile;
    try {
      cfg = JSON.parse(config.toString('utf8')) as ImageConfigFile;
    } catch {
      throw new EngineError('internal', `${what}: the image config is not valid JSON`);
    }
    const diffIDs = cfg.rootfs?.diff_ids ?? [];
    if (diffIDs.length !== m.layers.length) {
      throw new EngineError('internal', `${what}: the manifest has ${m.layers.length} layers but the config ${diffIDs.length} diff IDs`);
    }
    for (const l of m.layers) {
      if (!isLayerMediaType(l.mediaType)) throw new EngineError('invalid-argument', `${what}: unsupported layer type ${l.mediaType}`);
    }
    const chains = chainIDs(diffIDs);
    const existed = (await store.lookup(id)) !== undefined && chains.every((c) => store.layers.has(c));

    const lease = store.lease?.();
    chains.forEach((c, i) => {
      lease?.layer(c);
      lease?.blob(m.layers[i]!.digest);
    });
    const joined: LayerJob[] = [];
    try {
      // An image already stored whole shows no layer progress (as Docker's "up to date" pull).
      if (!existed) await this.fetchLayers(client, repo, m.layers, diffIDs, chains, emit, joined, signal);
    } catch (e) {
      // Nothing of a failed pull stays: the layers and blobs it added go unless another image or pull uses them.
      for (const j of joined) {
        if (j.created.layer) lease?.layer(j.chain, true);
        if (j.created.blob) lease?.blob(j.digest, true);
      }
      await lease?.abort();
      throw e;
    }
    emit({ type: 'config', digest: configDigest });
    emit({ type: 'writing-manifest' });
    const layers: ResolvedPull['layers'] = [];
    for (let i = 0; i < chains.length; i++) {
      const d = m.layers[i]!;
      const st = await store.blobs.stat(d.digest);
      layers.push({ chainID: chains[i]!, diffID: diffIDs[i]!, ...(st ? { blob: { digest: d.digest, size: st.size, mediaType: d.mediaType } } : {}) });
    }
    return { id, configDigest, config, manifest, list, diffIDs, chains, layers, existed, lease };
  }

  private async fetchLayers(
    client: RegistryClient,
    repo: string,
    layers: Descriptor[],
    diffIDs: string[],
    chains: string[],
    emit: Listener,
    joined: LayerJob[],
    signal?: AbortSignal,
  ): Promise<void> {
    const store = this.deps.store;
    const shortId = (d: Descriptor) => parseDigest(d.digest).hex.slice(0, 12);
    // First the statuses Docker shows before anything moves.
    const seen = new Set<string>();
    for (let i = 0; i < layers.length; i++) {
      const d = layers[i]!;
      const sid = shortId(d);
      if (seen.has(sid)) continue;
      seen.add(sid);
      emit({ type: 'layer', id: sid, digest: d.digest, status: store.layers.has(chains[i]!) ? 'Already exists' : 'Pulling fs layer' });
    }
    let parentJob: LayerJob | undefined;
    for (let i = 0; i < layers.length; i++) {
      const chain = chains[i]!;
      if (store.layers.has(chain) && !this.jobs.has(chain)) {
        parentJob = undefined;
        continue;
      }
      let job = this.jobs.get(chain);
      if (!job) {
        job = this.startJob(client, repo, layers[i]!, diffIDs[i]!, i === 0 ? null : chains[i - 1]!, chain, parentJob);
        this.jobs.set(chain, job);
        const j = job;
        void j.promise.then(
          () => this.jobs.delete(chain),
          () => this.jobs.delete(chain),
        );
      }
      job.listeners.add(emit);
      joined.push(job);
      parentJob = job;
    }
    const onAbort = () => {
      for (const j of joined) {
        j.listeners.delete(emit);
        if (j.listeners.size === 0) j.abort.abort(signal?.reason);
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const results = await Promise.allSettled(joined.map((j) => j.promise));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      for (const j of joined) j.listeners.delete(emit);
    }
  }

  private startJob(client: RegistryClient, repo: string, d: Descriptor, diffID: string, parent: string | null, chain: string, parentJob: LayerJob | undefined): LayerJob {
    const store = this.deps.store;
    const abort = new AbortController();
    const job: LayerJob = { promise: Promise.resolve(), listeners: new Set(), committed: false, abort, chain, digest: d.digest, created: { layer: false, blob: false } };
    const sid = parseDigest(d.digest).hex.slice(0, 12);
    const emit = (status: LayerStatus, current?: number, total?: number) => {
      for (const l of job.listeners) l({ type: 'layer', id: sid, digest: d.digest, status, current, total });
    };
    const what = `fetching blob ${d.digest} from ${client.registry}/${repo}`;
    const parentStored = () => parent === null || store.layers.has(parent);
    const waitParent = async () => {
      if (parentJob) await parentJob.promise;
      if (!parentStored()) throw new EngineError('internal', `${what}: parent layer ${parent} is missing`);
    };
    const put = async (input: AsyncIterable<Buffer>) => {
      const r = await store.layers.put(input, parent, { expectedDiffID: diffID, signal: abort.signal });
      job.committed = true;
      if (!r.existed) job.created.layer = true;
      return r;
    };
    const unpackStoredBlob = async (total: number) => {
      const te = throttled((n) => emit('Extracting', n, total));
      emit('Extracting', 0, total);
      await put(readStream(await store.blobs.open(d.digest), (n) => te.tick(n)));
      te.flush();
      emit('Pull complete');
    };
    job.promise = (async () => {
      // Give the listeners of the pull that created this job a turn to subscribe.
      await Promise.resolve();
      if (store.layers.has(chain)) {
        emit('Already exists');
        return;
      }
      if (await store.blobs.has(d.digest)) {
        // Kept already (by a load or an earlier pull): no download.
        await waitParent();
        await unpackStoredBlob(d.size);
        return;
      }
      if (parentJob && !parentJob.committed) emit('Waiting');
      await this.slots.acquire();
      let held = true;
      const release = () => {
        if (held) this.slots.release();
        held = false;
      };
      try {
        abort.signal.throwIfAborted();
        const res = await client.request('GET', `/v2/${repo}/blobs/${d.digest}`, { scopes: [`repository:${repo}:pull`], follow: true, signal: abort.signal });
        if (res.status !== 200) throw await registryError(res, client.registry, what);
        const total = d.size >= 0 ? d.size : Number(responseHeader(res, 'content-length') ?? 0);
        const t = throttled((n) => emit('Downloading', n, total));
        const body = verified(res.body, d, client.registry, what, (n) => t.tick(n));
        if (parentStored()) {
          // Stream: verify, keep the blob and unpack as the bytes come.
          await put(keepBlob(store, d.digest, body, () => (job.created.blob = true)));
          t.flush();
          emit('Verifying Checksum');
          emit('Download complete');
          release();
          emit('Extracting', total, total);
          emit('Pull complete');
          return;
        }
        // The parent is not there yet: download into the blob store, unpack from there later.
        await keepBlob(store, d.digest, body, () => (job.created.blob = true), true).next();
        t.flush();
        emit('Verifying Checksum');
        emit('Download complete');
        release();
        await waitParent();
        abort.signal.throwIfAborted();
        await unpackStoredBlob(total);
      } catch (e) {
        // A pull that dies (or is aborted) takes the jobs above this layer along.
        abort.abort(e);
        throw e;
      } finally {
        release();
      }
    })();
    if (parentJob) parentJob.promise.catch((e: unknown) => abort.abort(e));
    return job;
  }
}
