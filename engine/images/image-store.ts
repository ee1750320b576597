// The image store: image records (image-db.ts) over the content-addressed blob store and the
// layer store. It resolves references as Podman does, stores new images, moves names between
// images, and removes what no image uses any more. Changes are serialised by one mutex; work in
// progress (a load or pull unpacking layers) holds a Lease so that a concurrent removal or prune
// never takes away a layer or blob before the new image records it.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { EngineError } from '../errors.js';
import { chainIDs, LayerStore } from '../storage/layer-store.js';
import { BlobStore, digestOf } from './blob-store.js';
import { type ImageLayerRef, type ImageRecord, ImageDb } from './image-db.js';
import { buildIndex, type ImageIndex } from './image-index.js';
import { buildManifest, type HistoryEntry, type ImageConfigBlob, layerMediaType, MT, parseConfig } from './oci.js';
import { DEFAULT_REGISTRY, type ImageReference, LOCAL_REGISTRY, parseReference, repositoryName } from './reference.js';

export interface StoreImageInput {
  /** The config blob's bytes (its sha256 is the image ID). */
  config: Buffer;
  /** The manifest as received; without it a Docker schema 2 manifest is made from the layers. */
  manifest?: { data: Buffer; mediaType: string };
  /** The layers, bottom first, already in the layer store (and their blobs in the blob store). */
  layers: ImageLayerRef[];
  /** Full names to give the image (taken away from images that have them). */
  names?: string[];
  /** More digests the image is known by (a manifest list's). */
  digests?: string[];
}

export interface StoreImageResult {
  record: ImageRecord;
  /** False when the image was already stored (names and digests were merged). */
  created: boolean;
  /** Names taken from other images: name → the image that had it. */
  moved: Array<{ name: string; from: string }>;
}

/** What the containers domain tells the image store about its use of images. */
export interface ImageUsage {
  /** The containers using each image: image ID (hex) → container IDs (only images in use need an entry). */
  containersByImage(): Map<string, string[]> | Promise<Map<string, string[]>>;
  /** Removes containers, for a forced image removal; without it, images in use are never removed. */
  removeContainers?(ids: string[]): Promise<void>;
}

export interface LookupResult {
  record: ImageRecord;
  /** The full name it was found by (undefined when found by ID or digest). */
  name?: string;
  byId: boolean;
  byDigest: boolean;
}

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }
}

/** Layers and blobs that work in progress uses: kept from removal until released. */
export class Lease {
  readonly layers = new Set<string>();
  readonly blobs = new Set<string>();
  /** The ones this work created (thrown away by abort() when no image took them). */
  readonly createdLayers = new Set<string>();
  readonly createdBlobs = new Set<string>();
  private done = false;

  constructor(private readonly store: ImageStore) {}

  layer(chain: string, created = false): void {
    if (!this.layers.has(chain)) {
      this.layers.add(chain);
      this.store.pin('layer', chain, 1);
    }
    if (created) this.createdLayers.add(chain);
  }

  blob(digest: string, created = false): void {
    if (!this.blobs.has(digest)) {
      this.blobs.add(digest);
      this.store.pin('blob', digest, 1);
    }
    if (created) this.createdBlobs.add(digest);
  }

  /** The work succeeded (or its results are recorded): unpin. */
  release(): void {
    if (this.done) return;
    this.done = true;
    for (const l of this.layers) this.store.pin('layer', l, -1);
    for (const b of this.blobs) this.store.pin('blob', b, -1);
  }

  /** The work failed: unpin and remove what it created that no image uses. */
  async abort(): Promise<void> {
    this.release();
    await this.store.collect([...this.createdLayers], [...this.createdBlobs]);
  }
}

/** Cumulative fingerprints of history entries (see ImageRecord.historyChain). */
export function historyChain(history: HistoryEntry[] | undefined): string[] {
  const out: string[] = [];
  let prev = '';
  for (const h of history ?? []) {
    const entry = JSON.stringify([h.created ?? '', h.created_by ?? '', h.author ?? '', h.comment ?? '', Boolean(h.empty_layer)]);
    prev = createHash('sha256').update(prev).update(entry).digest('hex').slice(0, 16);
    out.push(prev);
  }
  return out;
}

const notFound = (ref: string) => new EngineError('not-found', `${ref}: image not known`, undefined, 'image not known');

export class ImageStore {
  private indexCache: ImageIndex | undefined;
  private readonly configs = new Map<string, ImageConfigBlob>();
  private readonly pins = { layer: new Map<string, number>(), blob: new Map<string, number>() };
  readonly mutex = new Mutex();
  usage: ImageUsage | undefined;
  /** Registries tried for short names after localhost (Libpod's unqualified-search-registries). */
  searchRegistries: string[] = [];

  private constructor(
    readonly blobs: BlobStore,
    readonly layers: LayerStore,
    readonly db: ImageDb,
  ) {}

  static async open(root: string): Promise<ImageStore> {
    const [blobs, layers] = await Promise.all([BlobStore.open(root), LayerStore.open(root)]);
    return new ImageStore(blobs, layers, ImageDb.open(root));
  }

  close(): void {
    this.db.close();
  }

  /** The current index (rebuilt when the records changed). */
  index(): ImageIndex {
    const all = this.db.all();
    if (this.indexCache && this.indexCache.generation === this.db.generation) return this.indexCache;
    this.indexCache = buildIndex(
      all,
      this.db.generation,
      (c) => this.layers.get(c)?.parent,
      (c) => this.layers.get(c)?.size ?? 0,
    );
    return this.indexCache;
  }

  pin(kind: 'layer' | 'blob', key: string, delta: number): void {
    const m = this.pins[kind];
    const n = (m.get(key) ?? 0) + delta;
    if (n <= 0) m.delete(key);
    else m.set(key, n);
  }

  lease(): Lease {
    return new Lease(this);
  }

  /** The parsed config blob of an image (cached). */
  async config(rec: ImageRecord): Promise<ImageConfigBlob> {
    let c = this.configs.get(rec.id);
    if (!c) {
      c = parseConfig(await this.blobs.read(rec.config.digest));
      this.configs.set(rec.id, c);
    }
    return c;
  }

  // ---------------------------------------------------------------------------------------------
  // Lookup

  /**
   * Finds an image as Podman's LookupImage does: a full ID (with or without "sha256:"), then for
   * names the candidates localhost/NAME, the search registries and docker.io, then a unique ID
   * prefix, then any image whose repository ends in /NAME with that tag. A tag beside a digest
   * is ignored. Throws not-found, or invalid-argument for a malformed reference or an ambiguous
   * ID prefix.
   */
  lookup(ref: string): LookupResult {
    const index = this.index();
    if (ref === '') throw new EngineError('invalid-argument', 'no image name or ID given');
    let name = ref;
    if (name.startsWith('sha256:')) {
      const hex = name.slice(7);
      if (!/^[0-9a-f]{1,64}$/.test(hex)) throw notFound(ref);
      const rec = this.byIdPrefix(index, hex, ref);
      if (!rec) throw notFound(ref);
      return { record: rec, byId: true, byDigest: false };
    }
    if (/^[0-9a-f]{64}$/.test(name)) {
      const rec = index.byId.get(name);
      if (!rec) throw notFound(ref);
      return { record: rec, byId: true, byDigest: false };
    }
    const parsed = parseReference(name);
    const tag = parsed.digest ? undefined : (parsed.tag ?? 'latest');
    const candidates: ImageReference[] = [];
    if (parsed.domain !== undefined) {
      candidates.push({ domain: parsed.domain, path: parsed.path, tag, digest: parsed.digest });
    } else {
      candidates.push({ domain: LOCAL_REGISTRY, path: parsed.path, tag, digest: parsed.digest });
      for (const reg of this.searchRegistries) {
        if (reg === DEFAULT_REGISTRY || reg === LOCAL_REGISTRY) continue;
        candidates.push({ domain: reg, path: parsed.path, tag, digest: parsed.digest });
      }
      const dockerPath = parsed.path.includes('/') ? parsed.path : `library/${parsed.path}`;
      candidates.push({ domain: DEFAULT_REGISTRY, path: dockerPath, tag, digest: parsed.digest });
    }
    if (parsed.domain === 'index.docker.io' || parsed.domain === 'registry-1.docker.io') candidates[0]!.domain = DEFAULT_REGISTRY;
    if (parsed.domain === DEFAULT_REGISTRY && !parsed.path.includes('/')) candidates[0]!.path = `library/${parsed.path}`;
    for (const c of candidates) {
      const found = this.byCandidate(index, c);
      if (found) return found;
    }
    if (parsed.domain === undefined && !parsed.tag && !parsed.digest && /^[0-9a-f]+$/.test(name)) {
      const rec = this.byIdPrefix(index, name, ref);
      if (rec) return { record: rec, byId: true, byDigest: false };
    }
    if (parsed.domain === undefined) {
      // Fuzzy: "busybox" finds quay.io/x/busybox:latest.
      for (const rec of index.records) {
        for (const n of rec.names) {
          const r = splitName(n);
          if (!r || !(r.repo === parsed.path || r.repo.endsWith(`/${parsed.path}`))) continue;
          if (parsed.digest) {
            if (rec.digests.includes(parsed.digest)) return { record: rec, name: `${r.repo}@${parsed.digest}`, byId: false, byDigest: true };
          } else if (r.tag === tag) {
            return { record: rec, name: n, byId: false, byDigest: false };
          }
        }
      }
    }
    throw notFound(ref);
  }

  /** lookup() that returns undefined for not-found. */
  find(ref: string): LookupResult | undefined {
    try {
      return this.lookup(ref);
    } catch (e) {
      if (e instanceof EngineError && e.kind === 'not-found') return undefined;
      throw e;
    }
  }

  private byIdPrefix(index: ImageIndex, hex: string, ref: string): ImageRecord | undefined {
    const exact = index.byId.get(hex);
    if (exact) return exact;
    let found: ImageRecord | undefined;
    for (const rec of index.records) {
      if (!rec.id.startsWith(hex)) continue;
      if (found) throw new EngineError('invalid-argument', `short ID ${JSON.stringify(ref)} is ambiguous: more than one image matches`);
      found = rec;
    }
    return found;
  }

  private byCandidate(index: ImageIndex, c: ImageReference): LookupResult | undefined {
    const repo = repositoryName(c);
    if (!c.digest) {
      const name = `${repo}:${c.tag}`;
      const rec = index.byName.get(name);
      return rec ? { record: rec, name, byId: false, byDigest: false } : undefined;
    }
    const digested = `${repo}@${c.digest}`;
    const direct = index.byName.get(digested);
    if (direct) return { record: direct, name: digested, byId: false, byDigest: true };
    for (const rec of index.records) {
      if (!rec.digests.includes(c.digest)) continue;
      if (rec.names.some((n) => splitName(n)?.repo === repo)) return { record: rec, name: digested, byId: false, byDigest: true };
    }
    return undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Storing

  /**
   * Records an image whose layers (and layer blobs) are stored. The config blob and manifest
   * are written to the blob store. An image that exists gets the names and digests added.
   */
  async storeImage(input: StoreImageInput): Promise<StoreImageResult> {
    const configDigest = digestOf(input.config);
    const id = configDigest.slice(7);
    const config = parseConfig(input.config);
    const diffIDs = config.rootfs.diff_ids;
    if (diffIDs.length !== input.layers.length) {
      throw new EngineError('invalid-argument', `image config lists ${diffIDs.length} layers, ${input.layers.length} given`);
    }
    const chains = chainIDs(diffIDs);
    input.layers.forEach((l, i) => {
      if (l.diffID !== diffIDs[i] || l.chainID !== chains[i]) throw new EngineError('invalid-argument', `layer ${i} does not match the image config (${l.diffID})`);
    });
    let manifest = input.manifest;
    if (!manifest) {
      const descs = input.layers.map((l) => {
        const rec = this.layers.get(l.chainID);
        return l.blob ?? { digest: l.diffID, size: rec?.uncompressedSize ?? 0, mediaType: layerMediaType('none', false) };
      });
      manifest = { data: buildManifest({ mediaType: MT.dockerConfig, digest: configDigest, size: input.config.length }, descs, false), mediaType: MT.dockerManifest };
    }
    const manifestDigest = digestOf(manifest.data);
    const lease = this.lease();
    try {
      const cfg = await this.blobs.putBuffer(input.config, configDigest);
      lease.blob(configDigest, !cfg.existed);
      const man = await this.blobs.putBuffer(manifest.data, manifestDigest);
      lease.blob(manifestDigest, !man.existed);
      const now = new Date().toISOString();
      const result = await this.mutex.run(async () => {
        for (const l of input.layers) {
          if (!this.layers.has(l.chainID)) throw new EngineError('not-found', `layer ${l.chainID} is not stored`);
          if (l.blob && !(await this.blobs.has(l.blob.digest))) throw new EngineError('not-found', `blob ${l.blob.digest} is not stored`);
        }
        return this.db.update((records) => {
          const put = new Map<string, ImageRecord>();
          const old = records.get(id);
          const moved: StoreImageResult['moved'] = [];
          const rec: ImageRecord = old
            ? { ...old, names: [...old.names], digests: [...old.digests], namesHistory: [...old.namesHistory] }
            : {
                id,
                names: [],
                digests: [manifestDigest],
                namesHistory: [],
                created: validTime(config.created) ?? now,
                stored: now,
                manifest: { digest: manifestDigest, mediaType: manifest.mediaType, size: manifest.data.length },
                config: { digest: configDigest, size: input.config.length },
                layers: input.layers.map((l) => ({ diffID: l.diffID, chainID: l.chainID, ...(l.blob ? { blob: { ...l.blob } } : {}) })),
                size: input.layers.reduce((n, l) => n + (this.layers.get(l.chainID)?.size ?? 0), 0),
                architecture: config.architecture,
                os: config.os,
                ...(typeof config.variant === 'string' && config.variant ? { variant: config.variant } : {}),
                labels: { ...(config.config?.Labels ?? {}) },
                historyChain: historyChain(config.history),
              };
          if (old) {
            // Layers kept as blobs now when they were not before.
            rec.layers = rec.layers.map((l, i) => (l.blob || !input.layers[i]?.blob ? l : { ...l, blob: { ...input.layers[i]!.blob! } }));
          }
          for (const d of [manifestDigest, ...(input.digests ?? [])]) if (!rec.digests.includes(d)) rec.digests.push(d);
          for (const name of input.names ?? []) {
            this.takeName(records, put, name, id, moved);
            if (!rec.names.includes(name)) rec.names.push(name);
            rec.namesHistory = [name, ...rec.namesHistory.filter((n) => n !== name)];
            rec.lastTagTime = now;
          }
          put.set(id, rec);
          return { put: [...put.values()], result: { record: rec, created: !old, moved } };
        });
      });
      return result;
    } finally {
      lease.release();
    }
  }

  /** Removes `name` from whichever other image has it (within an update). */
  private takeName(records: Map<string, ImageRecord>, put: Map<string, ImageRecord>, name: string, keep: string, moved: StoreImageResult['moved']): void {
    for (const other of records.values()) {
      if (other.id === keep) continue;
      const cur = put.get(other.id) ?? other;
      if (!cur.names.includes(name)) continue;
      put.set(other.id, { ...cur, names: cur.names.filter((n) => n !== name) });
      moved.push({ name, from: other.id });
    }
  }

  /** Adds a full name to an image (taking it from any other image). */
  async addName(id: string, name: string): Promise<StoreImageResult['moved']> {
    return this.mutex.run(async () =>
      this.db.update((records) => {
        const rec = records.get(id);
        if (!rec) throw notFound(id);
        const put = new Map<string, ImageRecord>();
        const moved: StoreImageResult['moved'] = [];
        this.takeName(records, put, name, id, moved);
        const names = rec.names.includes(name) ? rec.names : [...rec.names, name];
        put.set(id, { ...rec, names, namesHistory: [name, ...rec.namesHistory.filter((n) => n !== name)], lastTagTime: new Date().toISOString() });
        return { put: [...put.values()], result: moved };
      }),
    );
  }

  /** Removes a full name from an image; not-found when it does not have it. */
  async removeName(id: string, name: string): Promise<void> {
    return this.mutex.run(async () =>
      this.db.update((records) => {
        const rec = records.get(id);
        if (!rec) throw notFound(id);
        if (!rec.names.includes(name)) throw new EngineError('not-found', `${name}: tag not known`, undefined, 'tag not known');
        return { put: [{ ...rec, names: rec.names.filter((n) => n !== name) }], result: undefined };
      }),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Removal

  /** Container IDs using each image (from the containers domain; empty without one). */
  async containersByImage(): Promise<Map<string, string[]>> {
    return (await this.usage?.containersByImage()) ?? new Map();
  }

  /**
   * Deletes an image record (the caller decided it may go) and then every layer and blob that
   * no image uses any more. Returns the bytes of layers freed.
   */
  async deleteRecord(id: string): Promise<number> {
    return this.mutex.run(async () => {
      const rec = this.db.all().get(id);
      if (!rec) return 0;
      this.db.update(() => ({ remove: [id], result: undefined }));
      this.configs.delete(id);
      const blobs = [rec.config.digest, rec.manifest.digest, ...rec.layers.flatMap((l) => (l.blob ? [l.blob.digest] : []))];
      return this.collectLocked(rec.layers.map((l) => l.chainID), blobs);
    });
  }

  /**
   * Removes layers and blobs that no image uses and that are older than `minAgeMs`: what a
   * crash left between unpacking or downloading and recording an image. The age keeps work in
   * progress in another tspod process on the same root safe.
   */
  async collectOrphans(minAgeMs: number): Promise<{ layers: number; blobs: number }> {
    const cutoff = Date.now() - minAgeMs;
    const index = this.index();
    const layers = this.layers.list().filter((l) => !index.layerUsers.has(l.chainID) && Date.parse(l.created) < cutoff).map((l) => l.chainID);
    const blobs: string[] = [];
    for (const b of await this.blobs.list()) {
      if (index.blobUsers.has(b.digest)) continue;
      try {
        if ((await fs.promises.stat(this.blobs.path(b.digest))).mtimeMs < cutoff) blobs.push(b.digest);
      } catch {
        /* gone meanwhile */
      }
    }
    const before = { layers: this.layers.list().length, blobs: blobs.length };
    await this.collect(layers, blobs);
    let kept = 0;
    for (const d of blobs) if (await this.blobs.has(d)) kept++;
    return { layers: before.layers - this.layers.list().length, blobs: before.blobs - kept };
  }

  /** Removes the given layers and blobs if nothing uses them (see collectLocked). */
  async collect(layers: string[], blobs: string[]): Promise<number> {
    return this.mutex.run(() => this.collectLocked(layers, blobs));
  }

  /** Removes the layers (top first) and blobs no image, lease or child layer uses; returns layer bytes freed. */
  private async collectLocked(layers: string[], blobs: string[]): Promise<number> {
    const index = this.index();
    let freed = 0;
    const depth = (c: string) => {
      let n = 0;
      for (let cur: string | null | undefined = c; cur; cur = this.layers.get(cur)?.parent) n++;
      return n;
    };
    const ordered = [...new Set(layers)].filter((c) => this.layers.has(c)).sort((a, b) => depth(b) - depth(a));
    for (const chain of ordered) {
      if (index.layerUsers.has(chain) || this.pins.layer.has(chain)) continue;
      if (this.layers.childrenOf(chain).length > 0) continue;
      const size = this.layers.get(chain)?.size ?? 0;
      await this.layers.remove(chain);
      freed += size;
    }
    for (const digest of new Set(blobs)) {
      if (index.blobUsers.has(digest) || this.pins.blob.has(digest)) continue;
      await this.blobs.remove(digest);
    }
    return freed;
  }
}

/** Splits a stored full name into repository and tag or digest. */
export function splitName(name: string): { repo: string; tag?: string; digest?: string } | undefined {
  const at = name.indexOf('@');
  if (at !== -1) return { repo: name.slice(0, at), digest: name.slice(at + 1) };
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) return { repo: name.slice(0, colon), tag: name.slice(colon + 1) };
  return { repo: name };
}

function validTime(s: unknown): string | undefined {
  if (typeof s !== 'string' || Number.isNaN(Date.parse(s))) return undefined;
  return s;
}
