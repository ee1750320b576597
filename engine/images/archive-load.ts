// Loading image archives, streamed: docker-archive (`docker save`: manifest.json, <id>.json
// configs and layer tars, in the classic layout or Docker 25's OCI layout with blobs/) and
// oci-archive (oci-layout, index.json, blobs/<alg>/<hex>), gzip (or zstd, xz, bzip2) compressed
// or not. The archive is read once, in order: small files are kept in memory, larger ones are
// written to the blob store as they pass (layers often come before manifest.json), then the
// images are assembled from the manifests: layers unpacked from their blobs into the layer
// store, then the records written. A hostile or broken archive stores nothing: every blob and
// layer this load created is removed again.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../errors.js';
import { chainID } from '../storage/layer-store.js';
import { decompress, detectCompression, readTar } from '../storage/tar-reader.js';
import { type BlobStore, digestOf } from './blob-store.js';
import type { ImageLayerRef } from './image-db.js';
import type { ImageStore, Lease, StoreImageResult } from './image-store.js';
import {
  ANNOTATION_CONTAINERD_NAME,
  ANNOTATION_REF_NAME,
  type Descriptor,
  hostPlatform,
  isIndexMediaType,
  layerMediaType,
  MT,
  normalizeArch,
  parseConfig,
  parseIndex,
  parseJson,
  parseManifest,
} from './oci.js';
import { formatReference, normalizeLocalReference, normalizePullReference } from './reference.js';

/** Files up to this size stay in memory while the archive is read (configs, manifests, small layers). */
const INLINE_MAX = 1 << 20;
/** ... up to this much in all; beyond it everything goes to the blob store. */
const INLINE_BUDGET = 64 << 20;
const MAX_LINKS = 16;

export interface LoadedImage {
  id: string;
  names: string[];
  result: StoreImageResult;
}

interface ArchiveFile {
  size: number;
  /** Content kept in memory. */
  data?: Buffer;
  /** Digest of the content written to the blob store. */
  digest?: string;
  /** Archive path this entry links to (symlink or hardlink), already resolved and checked. */
  link?: string;
}

const refuse = (message: string) => new EngineError('invalid-argument', `refusing archive: ${message}`);

/** A path inside the archive, clean: no leading "./", no "..", not absolute. */
export function archivePath(name: string): string {
  if (name.startsWith('/')) throw refuse(`absolute path ${JSON.stringify(name)}`);
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw refuse(`path ${JSON.stringify(name)} leaves the archive`);
  return parts.join('/');
}

const BLOB_PATH = /^blobs\/(sha256|sha384|sha512)\/([0-9a-f]+)$/;

export class ArchiveLoader {
  private readonly files = new Map<string, ArchiveFile>();
  private inlineBytes = 0;

  constructor(
    private readonly store: ImageStore,
    private readonly lease: Lease,
    private readonly signal?: AbortSignal,
  ) {}

  private get blobs(): BlobStore {
    return this.store.blobs;
  }

  /** Reads the whole archive, keeping or spooling its files. */
  async read(input: AsyncIterable<Buffer>): Promise<void> {
    const { stream } = await decompress(input);
    for await (const entry of readTar(stream)) {
      this.signal?.throwIfAborted();
      const h = entry.header;
      const name = archivePath(h.name);
      if (h.type === 'directory' || name === '') continue;
      if (h.type === 'symlink' || h.type === 'hardlink') {
        const target = h.type === 'symlink' ? archivePath(h.linkname.startsWith('/') ? h.linkname : path.posix.join(path.posix.dirname(name), h.linkname)) : archivePath(h.linkname);
        this.files.set(name, { size: 0, link: target });
        continue;
      }
      if (h.type !== 'file') continue;
      const blobName = BLOB_PATH.exec(name);
      const expectedDigest = blobName ? `${blobName[1]}:${blobName[2]}` : undefined;
      if (h.size <= INLINE_MAX && this.inlineBytes + h.size <= INLINE_BUDGET) {
        const chunks: Buffer[] = [];
        for await (const c of entry.body()) chunks.push(Buffer.from(c));
        const data = Buffer.concat(chunks);
        if (expectedDigest && digestOf(data, blobName![1] as 'sha256') !== expectedDigest) throw refuse(`${name} does not have the digest its name says`);
        this.inlineBytes += data.length;
        this.files.set(name, { size: data.length, data });
      } else {
        let put;
        try {
          put = await this.blobs.put(entry.body(), { expectedDigest, expectedSize: h.size, signal: this.signal });
        } catch (e) {
          if (e instanceof EngineError && e.kind === 'invalid-argument') throw refuse(`${name}: ${e.message}`);
          throw e;
        }
        this.lease.blob(put.digest, !put.existed);
        this.files.set(name, { size: h.size, digest: put.digest });
      }
    }
  }

  private file(name: string): ArchiveFile {
    let p = archivePath(name);
    for (let i = 0; i <= MAX_LINKS; i++) {
      const f = this.files.get(p);
      if (!f) throw refuse(`${JSON.stringify(name)} is not in the archive`);
      if (f.link === undefined) return f;
      p = f.link;
    }
    throw refuse(`too many links resolving ${JSON.stringify(name)}`);
  }

  private async bytes(name: string): Promise<Buffer> {
    const f = this.file(name);
    if (f.data) return f.data;
    if (f.size > 16 << 20) throw refuse(`${name} is too large for a manifest or config`);
    return this.blobs.read(f.digest!);
  }

  /** The file as a stored blob (storing it now when it was kept in memory). */
  private async blob(name: string): Promise<{ digest: string; size: number }> {
    const f = this.file(name);
    if (f.digest) return { digest: f.digest, size: f.size };
    const put = await this.blobs.putBuffer(f.data!);
    this.lease.blob(put.digest, !put.existed);
    f.digest = put.digest;
    return { digest: put.digest, size: put.size };
  }

  has(name: string): boolean {
    return this.files.has(name);
  }

  /** Assembles and records the images the archive describes. */
  async assemble(): Promise<LoadedImage[]> {
    if (this.files.has('manifest.json')) return this.assembleDocker();
    if (this.files.has('index.json')) return this.assembleOci();
    if (this.files.has('repositories')) throw refuse('legacy (pre-manifest.json) docker archives are not supported');
    throw refuse('neither a docker-archive (manifest.json) nor an oci-archive (index.json)');
  }

  private async assembleDocker(): Promise<LoadedImage[]> {
    const manifest = parseJson(await this.bytes('manifest.json'), 'manifest.json');
    if (!Array.isArray(manifest)) throw refuse('manifest.json is not a list');
    const out: LoadedImage[] = [];
    for (const [i, entry] of manifest.entries()) {
      const e = entry as { Config?: unknown; RepoTags?: unknown; Layers?: unknown };
      if (typeof e.Config !== 'string' || !Array.isArray(e.Layers) || !e.Layers.every((l) => typeof l === 'string')) {
        throw refuse(`manifest.json entry ${i} needs Config and Layers`);
      }
      const tags = e.RepoTags == null ? [] : e.RepoTags;
      if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw refuse(`manifest.json entry ${i}: RepoTags is not a list of names`);
      const names = tags.map((t) => {
        try {
          return formatReference(normalizePullReference(t));
        } catch {
          throw refuse(`manifest.json entry ${i}: invalid name ${JSON.stringify(t)}`);
        }
      });
      const layerPaths = (e.Layers as string[]).map(archivePath);
      const config = await this.bytes(e.Config);
      const layers = await Promise.all(layerPaths.map((p) => this.blob(p)));
      out.push(await this.storeOne(config, layers.map((l) => ({ ...l, mediaType: '' })), undefined, names));
    }
    return out;
  }

  private async assembleOci(): Promise<LoadedImage[]> {
    const index = parseIndex(await this.bytes('index.json'), 'index.json');
    const out: LoadedImage[] = [];
    for (const d of index.manifests) {
      const name = d.annotations?.[ANNOTATION_CONTAINERD_NAME] ?? d.annotations?.[ANNOTATION_REF_NAME];
      const names: string[] = [];
      if (name && (name.includes('/') || name.includes(':') || d.annotations?.[ANNOTATION_CONTAINERD_NAME])) {
        try {
          names.push(formatReference(d.annotations?.[ANNOTATION_CONTAINERD_NAME] ? normalizePullReference(name) : normalizeLocalReference(name)));
        } catch {
          /* not a usable name: loaded without one */
        }
      }
      const manifestDesc = await this.pickManifest(d, 0);
      const manifestBytes = await this.bytes(this.blobPath(manifestDesc.digest));
      const m = parseManifest(manifestBytes, `manifest ${manifestDesc.digest}`);
      const config = await this.bytes(this.blobPath(m.config.digest));
      if (digestOf(config, m.config.digest.split(':')[0] as 'sha256') !== m.config.digest) throw refuse(`config ${m.config.digest} does not match its digest`);
      const layers = await Promise.all(
        m.layers.map(async (l) => {
          const b = await this.blob(this.blobPath(l.digest));
          if (b.digest !== l.digest) throw refuse(`layer ${l.digest} does not match its digest`);
          return { ...b, mediaType: l.mediaType };
        }),
      );
      const manifestMediaType = m.mediaType ?? manifestDesc.mediaType ?? MT.ociManifest;
      out.push(await this.storeOne(config, layers, { data: manifestBytes, mediaType: manifestMediaType || MT.ociManifest }, names));
    }
    return out;
  }

  private blobPath(digest: string): string {
    const [alg, hex] = digest.split(':');
    return `blobs/${alg}/${hex}`;
  }

  /** Follows nested indexes to the image manifest for this host's platform. */
  private async pickManifest(d: Descriptor, depth: number): Promise<Descriptor> {
    if (!isIndexMediaType(d.mediaType)) return d;
    if (depth > 4) throw refuse('indexes nested too deeply');
    const idx = parseIndex(await this.bytes(this.blobPath(d.digest)), `index ${d.digest}`);
    const host = hostPlatform();
    const match =
      idx.manifests.find((m) => m.platform && normalizeArch(m.platform.architecture) === host.architecture && m.platform.os === host.os) ??
      (idx.manifests.length === 1 ? idx.manifests[0] : undefined);
    if (!match) throw refuse(`index ${d.digest} has no image for ${host.os}/${host.architecture}`);
    return this.pickManifest(match, depth + 1);
  }

  /** Unpacks the layers (bottom first) and records the image. */
  private async storeOne(config: Buffer, blobs: Array<{ digest: string; size: number; mediaType: string }>, manifest: { data: Buffer; mediaType: string } | undefined, names: string[]): Promise<LoadedImage> {
    const cfg = parseConfig(config);
    const diffIDs = cfg.rootfs.diff_ids;
    if (diffIDs.length !== blobs.length) throw refuse(`the image config lists ${diffIDs.length} layers but the archive gives ${blobs.length}`);
    const layers: ImageLayerRef[] = [];
    let parent: string | null = null;
    const oci = manifest ? manifest.mediaType === MT.ociManifest : false;
    for (const [i, b] of blobs.entries()) {
      this.signal?.throwIfAborted();
      const chain = chainID(parent, diffIDs[i]!);
      this.lease.layer(chain);
      const put = await this.store.layers.put(openBlob(this.blobs, b.digest), parent, { expectedDiffID: diffIDs[i], signal: this.signal }).catch((e: unknown) => {
        if (e instanceof EngineError && e.kind === 'invalid-argument') throw refuse(`layer ${i + 1} (${b.digest}): ${e.message}`);
        throw e;
      });
      if (!put.existed) this.lease.createdLayers.add(chain);
      const mediaType = b.mediaType || layerMediaType(await blobCompression(this.blobs.path(b.digest)), oci);
      layers.push({ diffID: diffIDs[i]!, chainID: chain, blob: { digest: b.digest, size: b.size, mediaType } });
      parent = chain;
    }
    const result = await this.store.storeImage({ config, manifest, layers, names });
    return { id: result.record.id, names, result };
  }
}

/** A blob as chunks, opened only when first read (LayerStore.put may not read it at all). */
export async function* openBlob(blobs: BlobStore, digest: string): AsyncGenerator<Buffer> {
  const stream = await blobs.open(digest);
  try {
    for await (const c of stream) yield c as Buffer;
  } finally {
    stream.destroy();
  }
}

/** The compression of a stored blob, from its first bytes. */
export async function blobCompression(file: string): Promise<ReturnType<typeof detectCompression>> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const head = Buffer.alloc(6);
    const { bytesRead } = await fh.read(head, 0, 6, 0);
    return detectCompression(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}
