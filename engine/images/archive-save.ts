// Writing image archives, streamed: docker-archive (manifest.json, repositories, <id>.json
// configs, <diffID>/layer.tar uncompressed layers, as `docker load` and `podman load` read them),
// oci-archive and oci-dir (an OCI image layout: oci-layout, index.json, blobs/sha256/...), and
// docker-dir (containers/image's dir: transport: manifest.json, version, blobs named by hex).
// Everything is checked before the first byte; layers come from the blobs they were stored as
// (decompressed on the fly where the format wants uncompressed tars, so DiffIDs stay right).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createGzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { EngineError } from '../errors.js';
import { decompress } from '../storage/tar-reader.js';
import { encodeTarHeader, TAR_END, tarPadding } from '../storage/tar-writer.js';
import { blobCompression, openBlob } from './archive-load.js';
import type { ImageRecord } from './image-db.js';
import type { ImageStore } from './image-store.js';
import { splitName } from './image-store.js';
import { ANNOTATION_REF_NAME, buildManifest, convertLayerMediaType, type Descriptor, MT, parseManifest } from './oci.js';
import { familiarName, normalizePullReference } from './reference.js';

export type SaveFormat = 'docker-archive' | 'oci-archive' | 'oci-dir' | 'docker-dir';

export interface SaveImage {
  record: ImageRecord;
  /** Full names to record in the archive. */
  names: string[];
}

export interface SaveOptions {
  format: SaveFormat;
  /** Compress uncompressed layers with gzip (oci-dir, docker-dir). */
  compress?: boolean;
  /** Where temporary compressed layers go. */
  tmpDir: string;
  signal?: AbortSignal;
}

interface Entry {
  name: string;
  size: number;
  body: () => AsyncIterable<Buffer>;
}

interface LayerSource {
  diffID: string;
  /** The blob (as stored) and whether it is compressed. */
  blob: string;
  blobSize: number;
  compressed: boolean;
  uncompressedSize: number;
}

const MTIME = 0;

function bufferEntry(name: string, data: Buffer): Entry {
  return {
    name,
    size: data.length,
    body: async function* () {
      yield data;
    },
  };
}

/** Streams the tar of `entries` (directories first where `dirs` lists them). */
async function* writeTar(dirs: string[], entries: Entry[], signal?: AbortSignal): AsyncGenerator<Buffer> {
  for (const d of dirs) yield encodeTarHeader({ name: d.endsWith('/') ? d : `${d}/`, type: 'directory', mode: 0o755, mtime: MTIME });
  for (const e of entries) {
    signal?.throwIfAborted();
    yield encodeTarHeader({ name: e.name, type: 'file', mode: 0o644, size: e.size, mtime: MTIME });
    let n = 0;
    for await (const c of e.body()) {
      n += c.length;
      if (n > e.size) throw new EngineError('internal', `${e.name} is larger than the ${e.size} bytes announced`);
      yield c;
    }
    if (n !== e.size) throw new EngineError('internal', `${e.name} has ${n} bytes, ${e.size} announced`);
    yield tarPadding(e.size);
  }
  yield TAR_END;
}

export class ArchiveSaver {
  private readonly tmpFiles: string[] = [];

  constructor(
    private readonly store: ImageStore,
    private readonly options: SaveOptions,
  ) {}

  /** Checks that everything needed is there, then returns the archive as a stream of chunks. */
  async prepare(images: SaveImage[]): Promise<AsyncIterable<Buffer>> {
    if (images.length === 0) throw new EngineError('invalid-argument', 'no images to save');
    const sources = new Map<string, LayerSource[]>();
    for (const img of images) {
      if (sources.has(img.record.id)) continue;
      const list: LayerSource[] = [];
      for (const l of img.record.layers) {
        if (!l.blob || !(await this.store.blobs.has(l.blob.digest))) {
          throw new EngineError('not-found', `image ${img.record.id.slice(0, 12)}: the blob of layer ${l.diffID} is not stored, so the image cannot be saved`);
        }
        const layer = this.store.layers.get(l.chainID);
        const compressed = (await blobCompression(this.store.blobs.path(l.blob.digest))) !== 'none';
        if (compressed && !layer) throw new EngineError('not-found', `layer ${l.chainID} is not stored`);
        list.push({ diffID: l.diffID, blob: l.blob.digest, blobSize: l.blob.size, compressed, uncompressedSize: compressed ? layer!.uncompressedSize : l.blob.size });
      }
      sources.set(img.record.id, list);
    }
    if (!(await this.store.blobs.has(images[0]!.record.config.digest))) throw new EngineError('not-found', 'image config blob missing');
    const { format } = this.options;
    const stream = format === 'docker-archive' ? await this.dockerArchive(images, sources) : format === 'docker-dir' ? await this.dockerDir(images, sources) : await this.ociLayout(images, sources);
    const cleanup = () => Promise.all(this.tmpFiles.map((f) => fs.promises.rm(f, { force: true })));
    return (async function* () {
      try {
        yield* stream;
      } finally {
        await cleanup();
      }
    })();
  }

  private uncompressed(src: LayerSource): Entry['body'] {
    const blobs = this.store.blobs;
    return async function* () {
      const raw = openBlob(blobs, src.blob);
      if (!src.compressed) {
        yield* raw;
        return;
      }
      const { stream } = await decompress(raw);
      yield* stream;
    };
  }

  private asBlob(src: LayerSource): Entry['body'] {
    const blobs = this.store.blobs;
    return () => openBlob(blobs, src.blob);
  }

  private async config(rec: ImageRecord): Promise<Buffer> {
    return this.store.blobs.read(rec.config.digest);
  }

  private async dockerArchive(images: SaveImage[], sources: Map<string, LayerSource[]>): Promise<AsyncIterable<Buffer>> {
    const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
    const repositories: Record<string, Record<string, string>> = {};
    const configs: Entry[] = [];
    const layers: Entry[] = [];
    const dirs: string[] = [];
    const seenLayer = new Set<string>();
    const seenImage = new Map<string, (typeof manifest)[number]>();
    for (const img of images) {
      const tags = img.names.filter((n) => splitName(n)?.tag !== undefined).map((n) => familiarName(normalizePullReference(n)));
      const known = seenImage.get(img.record.id);
      if (known) {
        known.RepoTags = [...new Set([...(known.RepoTags ?? []), ...tags])];
      } else {
        const srcs = sources.get(img.record.id)!;
        const layerPaths = srcs.map((s) => `${s.diffID.slice(7)}/layer.tar`);
        for (const s of srcs) {
          if (seenLayer.has(s.diffID)) continue;
          seenLayer.add(s.diffID);
          dirs.push(s.diffID.slice(7));
          layers.push({ name: `${s.diffID.slice(7)}/layer.tar`, size: s.uncompressedSize, body: this.uncompressed(s) });
        }
        configs.push(bufferEntry(`${img.record.id}.json`, await this.config(img.record)));
        const entry = { Config: `${img.record.id}.json`, RepoTags: tags.length > 0 ? tags : null, Layers: layerPaths };
        manifest.push(entry);
        seenImage.set(img.record.id, entry);
      }
      const top = sources.get(img.record.id)!.at(-1);
      for (const t of tags) {
        const colon = t.lastIndexOf(':');
        if (top) (repositories[t.slice(0, colon)] ??= {})[t.slice(colon + 1)] = top.diffID.slice(7);
      }
    }
    // Metadata first: a streaming reader (tspod's own) can then unpack layers as they come.
    const meta = [bufferEntry('manifest.json', Buffer.from(JSON.stringify(manifest)))];
    if (Object.keys(repositories).length > 0) meta.push(bufferEntry('repositories', Buffer.from(JSON.stringify(repositories))));
    return writeTar(dirs, [...meta, ...configs, ...layers], this.options.signal);
  }

  /** The image's manifest as OCI (the stored one when it is OCI, else converted). */
  private async ociManifest(img: SaveImage, srcs: LayerSource[]): Promise<{ data: Buffer; layers: Descriptor[] }> {
    const rec = img.record;
    if (rec.manifest.mediaType === MT.ociManifest && !this.options.compress) {
      const data = await this.store.blobs.read(rec.manifest.digest);
      return { data, layers: parseManifest(data).layers };
    }
    const layers = await this.layerDescriptors(rec, srcs, true);
    return { data: buildManifest({ mediaType: MT.ociConfig, digest: rec.config.digest, size: rec.config.size }, layers, true), layers };
  }

  /** Layer descriptors as stored, or gzip-compressed (into temporary files) with `compress`. */
  private async layerDescriptors(rec: ImageRecord, srcs: LayerSource[], oci: boolean): Promise<Descriptor[]> {
    const out: Descriptor[] = [];
    for (const [i, s] of srcs.entries()) {
      const stored = rec.layers[i]!.blob!;
      if (this.options.compress && !s.compressed) {
        const c = await this.compressLayer(s);
        out.push({ mediaType: oci ? MT.ociLayerGzip : MT.dockerLayerGzip, digest: c.digest, size: c.size });
      } else {
        out.push({ mediaType: convertLayerMediaType(stored.mediaType || (s.compressed ? MT.ociLayerGzip : MT.ociLayer), oci), digest: stored.digest, size: stored.size });
      }
    }
    return out;
  }

  private readonly compressed = new Map<string, { digest: string; size: number; file: string }>();

  private async compressLayer(s: LayerSource): Promise<{ digest: string; size: number; file: string }> {
    const have = this.compressed.get(s.blob);
    if (have) return have;
    await fs.promises.mkdir(this.options.tmpDir, { recursive: true, mode: 0o700 });
    const file = path.join(this.options.tmpDir, `save-${randomBytes(8).toString('hex')}.gz`);
    this.tmpFiles.push(file);
    const hash = createHash('sha256');
    let size = 0;
    const gz = createGzip();
    gz.on('data', (c: Buffer) => {
      hash.update(c);
      size += c.length;
    });
    await pipeline(Readable.from(openBlob(this.store.blobs, s.blob)), gz, fs.createWriteStream(file, { mode: 0o600 }));
    const out = { digest: `sha256:${hash.digest('hex')}`, size, file };
    this.compressed.set(s.blob, out);
    return out;
  }

  private blobEntry(name: string, d: Descriptor, srcs: LayerSource[]): Entry {
    const c = [...this.compressed.values()].find((x) => x.digest === d.digest);
    if (c) return { name, size: c.size, body: () => fileChunks(c.file) };
    const src = srcs.find((s) => s.blob === d.digest);
    if (!src) throw new EngineError('internal', `no source for blob ${d.digest}`);
    return { name, size: src.blobSize, body: this.asBlob(src) };
  }

  private async ociLayout(images: SaveImage[], sources: Map<string, LayerSource[]>): Promise<AsyncIterable<Buffer>> {
    const index: { schemaVersion: 2; mediaType: string; manifests: Descriptor[] } = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] };
    const blobs: Entry[] = [];
    const seen = new Set<string>();
    const addBlob = (e: Entry, digest: string) => {
      if (seen.has(digest)) return;
      seen.add(digest);
      blobs.push(e);
    };
    for (const img of images) {
      const srcs = sources.get(img.record.id)!;
      const m = await this.ociManifest(img, srcs);
      const mDigest = `sha256:${createHash('sha256').update(m.data).digest('hex')}`;
      addBlob(bufferEntry(`blobs/sha256/${mDigest.slice(7)}`, m.data), mDigest);
      addBlob(bufferEntry(`blobs/sha256/${img.record.id}`, await this.config(img.record)), img.record.config.digest);
      for (const l of m.layers) addBlob(this.blobEntry(`blobs/${l.digest.replace(':', '/')}`, l, srcs), l.digest);
      const names = img.names.length > 0 ? img.names : [undefined];
      for (const n of names) {
        const d: Descriptor = { mediaType: MT.ociManifest, digest: mDigest, size: m.data.length };
        if (n) d.annotations = { [ANNOTATION_REF_NAME]: n };
        index.manifests.push(d);
      }
    }
    const meta = [bufferEntry('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')), bufferEntry('index.json', Buffer.from(JSON.stringify(index)))];
    return writeTar(['blobs', 'blobs/sha256'], [...meta, ...blobs], this.options.signal);
  }

  private async dockerDir(images: SaveImage[], sources: Map<string, LayerSource[]>): Promise<AsyncIterable<Buffer>> {
    if (images.length !== 1) throw new EngineError('invalid-argument', 'docker-dir holds exactly one image');
    const img = images[0]!;
    const srcs = sources.get(img.record.id)!;
    const layers = await this.layerDescriptors(img.record, srcs, false);
    const manifest = buildManifest({ mediaType: MT.dockerConfig, digest: img.record.config.digest, size: img.record.config.size }, layers, false);
    const entries = [
      bufferEntry('manifest.json', manifest),
      bufferEntry('version', Buffer.from('Directory Transport Version: 1.1\n')),
      bufferEntry(img.record.id, await this.config(img.record)),
      ...layers.map((l) => this.blobEntry(l.digest.slice(7), l, srcs)),
    ];
    return writeTar([], entries, this.options.signal);
  }
}

async function* fileChunks(file: string): AsyncGenerator<Buffer> {
  const s = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
  try {
    for await (const c of s) yield c as Buffer;
  } finally {
    s.destroy();
  }
}
