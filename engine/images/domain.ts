// The images domain: the image store and the ImagesEngine methods on it, the ImageResolver the
// containers domain uses, and the events every change emits.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import type { DomainCounts, EngineContext } from '../context.js';
import { EngineError } from '../errors.js';
import type {
  ImageImportOptions,
  ImageImportReport,
  ImageLoadReport,
  ImagePruneReport,
  ImageRemoveReport,
  ImagesEngine,
  ImageSummaryReport,
  NameStyle,
} from './api.js';
import { ArchiveLoader, blobCompression, openBlob } from './archive-load.js';
import { ArchiveSaver, type SaveImage } from './archive-save.js';
import { applyChanges, splitChanges } from './changes.js';
import { commitImage } from './commit.js';
import { imageChanges } from './image-changes.js';
import { compileImageFilters } from './filters.js';
import { ImageRemover, type RemoveImagesReport } from './image-remove.js';
import { ImageStore, type ImageUsage } from './image-store.js';
import { isDangling } from './image-index.js';
import { hostPlatform, layerMediaType, normalizeArch } from './oci.js';
import { formatReference, normalizeLocalReference, normalizePullReference, parseReference } from './reference.js';
import { imageHistory, imageInspect, imageSummary, imageTree, repoDigests } from './reports.js';
import type { ImageCommitter, ImageResolver, ResolvedImage } from './types.js';

/** Unrecorded layers and blobs older than this are leftovers of a crash. */
const ORPHAN_AGE_MS = 60 * 60 * 1000;

export interface ImageDomain {
  engine: ImagesEngine;
  store: ImageStore;
  resolver: ImageResolver;
  /** For the containers domain's commit: names and the new image. */
  committer: ImageCommitter;
  /** The containers domain registers how it uses images (in-use checks, forced removals). */
  setUsage(usage: ImageUsage): void;
  counts(): Promise<DomainCounts>;
  close(): Promise<void>;
}

/** A new name, qualified the compat (docker.io) or Podman (localhost/) way. */
export function normalizeNewName(name: string, style: NameStyle): string {
  if (name.startsWith('sha256:')) throw new EngineError('invalid-argument', `${name}: tag by digest not supported`);
  const ref = style === 'docker' ? normalizePullReference(name) : normalizeLocalReference(name);
  if (ref.digest) throw new EngineError('invalid-argument', `${name}: tag by digest not supported`);
  return formatReference(ref);
}

/** Which images have how many containers, as a short key. */
function usageKey(containers: Map<string, string[]>): string {
  let k = '';
  for (const [id, c] of containers) if (c.length > 0) k += `${id.slice(0, 16)}=${c.length},`;
  return k;
}

function exitCode(errors: EngineError[]): number {
  if (errors.length === 0) return 0;
  if (errors.some((e) => e.kind === 'conflict')) return 2;
  if (errors.every((e) => e.kind === 'not-found')) return 1;
  return 125;
}

function toRemoveReport(r: RemoveImagesReport): ImageRemoveReport {
  return {
    untagged: r.untagged,
    deleted: r.removed.filter((x) => x.removed).map((x) => x.id),
    errors: r.errors.map((e) => ({ kind: e.kind, message: e.message })),
    exitCode: exitCode(r.errors),
  };
}

export async function openImageDomain(ctx: EngineContext): Promise<ImageDomain> {
  const store = await ImageStore.open(ctx.root);
  const remover = new ImageRemover(store, ctx.events);
  const tmpDir = path.join(ctx.root, 'images', 'tmp');
  // Compressed layers of saves that did not finish.
  await fs.promises.rm(tmpDir, { recursive: true, force: true });
  // Complete layers and blobs a crash left unrecorded (in the background: not on the start path).
  const orphans = store.collectOrphans(ORPHAN_AGE_MS).catch(() => undefined);
  let listMemo: { key: string; list: ImageSummaryReport[] } | undefined;
  const emit = (action: string, id: string, name?: string, attributes?: Record<string, string>) =>
    ctx.events.append({ type: 'image', action, id, ...(name ? { name } : {}), ...(attributes ? { attributes } : {}) });

  const engine: ImagesEngine = {
    imageLayersSize: async () => store.index().layersSize,
    async imageList(options) {
      const index = store.index();
      const containers = await store.containersByImage();
      // Unfiltered lists (the common case, polled by UIs) are the same array until something
      // changes, so the API layer can reuse its serialisation.
      const unfiltered = Object.values(options.filters ?? {}).every((v) => v.length === 0);
      const key = unfiltered ? `${index.generation}|${Boolean(options.all)}|${usageKey(containers)}` : undefined;
      if (key !== undefined && listMemo?.key === key) return listMemo.list;
      const filter = compileImageFilters(options.filters ?? {}, { store, index, containers });
      const out = [];
      for (const rec of index.records) {
        if (!options.all && rec.names.length === 0 && !isDangling(index, rec)) continue;
        if (!filter(rec)) continue;
        out.push(imageSummary(index, rec, containers.get(rec.id)?.length ?? 0));
      }
      if (key !== undefined) listMemo = { key, list: Object.freeze(out) as ImageSummaryReport[] };
      return out;
    },

    async imageInspect(name) {
      return imageInspect(store, store.lookup(name).record);
    },

    async imageExists(name) {
      return store.find(name) !== undefined;
    },

    async imageHistory(name) {
      return imageHistory(store, store.lookup(name).record);
    },

    async imageTag(name, target, style) {
      const rec = store.lookup(name).record;
      const full = normalizeNewName(target, style);
      const moved = await store.addName(rec.id, full);
      for (const m of moved) await emit('untag', m.from, m.name);
      await emit('tag', rec.id, full);
    },

    async imageUntag(name, target, style) {
      const rec = store.lookup(name).record;
      const names = target === undefined ? [...rec.names] : [untagName(rec.names, target, style)];
      for (const n of names) {
        await store.removeName(rec.id, n);
        await emit('untag', rec.id, n);
      }
    },

    async imageRemove(names, options) {
      const opts = { force: options.force, noprune: options.noprune, ignore: options.ignore, removeContainers: options.removeContainers };
      const report = options.all ? await remover.removeIds(store.index().records.map((r) => r.id), opts) : await remover.removeByName(names, opts);
      return toRemoveReport(report);
    },

    async imagePrune(options) {
      const filters = { ...(options.filters ?? {}) };
      let all = Boolean(options.all);
      if (filters.dangling?.some((v) => /^(0|f|false)$/i.test(v))) {
        all = true;
        delete filters.dangling;
      }
      const out: ImagePruneReport = { removed: [], untagged: [], spaceReclaimed: 0 };
      // Removing an image can leave its parent dangling: go on until a round removes nothing.
      for (let round = 0; round < 1000; round++) {
        const index = store.index();
        const containers = await store.containersByImage();
        const filter = compileImageFilters(filters, { store, index, containers });
        const ids = index.records
          .filter((r) => !r.readOnly && !(containers.get(r.id)?.length) && (all || isDangling(index, r)) && filter(r))
          .map((r) => r.id);
        if (ids.length === 0) break;
        const report = await remover.removeIds(ids, {});
        for (const r of report.removed) {
          out.removed.push({ id: r.id, size: r.freed });
          out.spaceReclaimed += r.freed;
        }
        out.untagged.push(...report.untagged);
        if (report.removed.length === 0) {
          if (report.errors.length > 0) throw report.errors[0]!;
          break;
        }
      }
      if (out.removed.length > 0) await emit('prune', '', undefined, { reclaimed: String(out.spaceReclaimed) });
      return out;
    },

    async imageLoad(input, options): Promise<ImageLoadReport> {
      const lease = store.lease();
      const loader = new ArchiveLoader(store, lease, options.signal);
      let loaded;
      try {
        await loader.read(input);
        loaded = await loader.assemble();
      } catch (e) {
        await lease.abort();
        throw e;
      }
      lease.release();
      // Files of the archive that no image took (spooled before the manifest said).
      await store.collect([], [...lease.createdBlobs]);
      for (const img of loaded) {
        for (const m of img.result.moved) await emit('untag', m.from, m.name);
        await emit('load', img.id, img.names[0] ?? img.id);
      }
      return { images: loaded.map((l) => ({ id: l.id, names: l.names })) };
    },

    async imageSave(names, options) {
      const style = options.nameStyle ?? 'podman';
      const format = options.format ?? 'docker-archive';
      if (names.length === 0) throw new EngineError('invalid-argument', 'no images to save');
      if (names.length > 1 && !options.multiImage && format !== 'docker-archive' && format !== 'oci-archive') {
        throw new EngineError('invalid-argument', `${format} holds one image`);
      }
      const images: SaveImage[] = [];
      for (const n of names) {
        const found = store.lookup(n);
        const saveNames = found.byId || found.byDigest ? [] : [found.name ?? normalizeNewName(n, style)];
        images.push({ record: found.record, names: saveNames });
      }
      const saver = new ArchiveSaver(store, { format, compress: options.compress, tmpDir, signal: options.signal });
      const stream = await saver.prepare(images);
      for (const img of images) await emit('save', img.record.id, img.names[0] ?? img.record.id);
      return stream;
    },

    async imageImport(input, options) {
      return importImage(input ?? (await download(options.url, options.signal)), options);
    },

    async imageChanges(name, parent) {
      return imageChanges(store, name, parent);
    },

    async imageTree(name, whatRequires) {
      return imageTree(store, store.lookup(name).record, whatRequires);
    },
  };

  async function importImage(input: AsyncIterable<Buffer>, options: ImageImportOptions): Promise<ImageImportReport> {
    const style = options.nameStyle ?? 'podman';
    const names = options.reference ? [normalizeNewName(options.reference, style)] : [];
    const changes = splitChanges(options.changes);
    const runtimeConfig = applyChanges({}, changes); // bad changes fail before the upload is read
    const lease = store.lease();
    try {
      const blob = await store.blobs.put(input, { signal: options.signal });
      lease.blob(blob.digest, !blob.existed);
      const put = await store.layers.put(openBlob(store.blobs, blob.digest), null, { signal: options.signal });
      lease.layer(put.layer.chainID, !put.existed);
      const host = hostPlatform();
      const now = new Date().toISOString();
      const config: Record<string, unknown> = {
        created: now,
        architecture: options.architecture ? normalizeArch(options.architecture) : host.architecture,
        os: options.os || host.os,
        ...(options.variant ? { variant: options.variant } : options.architecture ? {} : host.variant ? { variant: host.variant } : {}),
        config: runtimeConfig,
        rootfs: { type: 'layers', diff_ids: [put.layer.diffID] },
        history: [{ created: now, ...(options.message ? { comment: options.message } : {}) }],
      };
      const mediaType = layerMediaType(await blobCompression(store.blobs.path(blob.digest)), false);
      const result = await store.storeImage({
        config: Buffer.from(JSON.stringify(config)),
        layers: [{ diffID: put.layer.diffID, chainID: put.layer.chainID, blob: { digest: blob.digest, size: blob.size, mediaType } }],
        names,
      });
      lease.release();
      for (const m of result.moved) await emit('untag', m.from, m.name);
      await emit('import', result.record.id, names[0] ?? result.record.id);
      return { id: result.record.id, names };
    } catch (e) {
      await lease.abort();
      throw e;
    }
  }

  const resolver: ImageResolver = {
    async resolveImage(ref: string): Promise<ResolvedImage> {
      let found;
      try {
        found = store.lookup(ref);
      } catch (e) {
        if (e instanceof EngineError && e.kind === 'not-found') throw new EngineError('not-found', `No such image: ${ref}`, e, 'image not known');
        throw e;
      }
      const rec = found.record;
      const config = await store.config(rec);
      const out: ResolvedImage = {
        id: rec.id,
        names: [...rec.names],
        digests: repoDigests(rec),
        config: structuredClone(config.config ?? {}),
        layerChain: rec.layers.map((l) => l.chainID),
        architecture: rec.architecture,
        os: rec.os,
        created: rec.created,
      };
      if (found.name) out.requestedName = found.name;
      return out;
    },
    lowerDirs(image: ResolvedImage): string[] {
      const top = image.layerChain.at(-1);
      return top ? store.layers.lowerDirs(top) : [];
    },
  };

  const committer: ImageCommitter = {
    newName: normalizeNewName,
    async commit(o) {
      const res = await commitImage(store, o);
      for (const m of res.moved) await emit('untag', m.from, m.name);
      if (o.name) await emit('tag', res.id, o.name);
      return { id: res.id };
    },
  };

  return {
    engine,
    store,
    resolver,
    committer,
    setUsage(usage) {
      store.usage = usage;
    },
    async counts() {
      return { images: store.index().records.length };
    },
    async close() {
      await orphans;
      store.close();
    },
  };
}

/** The stored name an untag request means (Podman normalises to localhost/, compat to docker.io; either is accepted). */
function untagName(names: string[], target: string, style: NameStyle): string {
  parseReference(target);
  const candidates = [normalizeNewName(target, style), normalizeNewName(target, style === 'docker' ? 'podman' : 'docker')];
  const hit = candidates.find((c) => names.includes(c));
  if (!hit) throw new EngineError('not-found', `${candidates[0]}: tag not known`, undefined, 'tag not known');
  return hit;
}

/** The body of an http(s) URL, for imports from a URL. */
async function download(url: string | undefined, signal?: AbortSignal): Promise<AsyncIterable<Buffer>> {
  if (!url) throw new EngineError('invalid-argument', 'nothing to import: no body and no URL');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new EngineError('invalid-argument', `invalid URL ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new EngineError('invalid-argument', `cannot import from ${parsed.protocol} URLs`);
  let res: Response;
  try {
    res = await fetch(parsed, { signal });
  } catch (e) {
    throw new EngineError('unavailable', `downloading ${url}: ${(e as Error).message}`, e);
  }
  if (!res.ok || !res.body) throw new EngineError(res.status === 404 ? 'not-found' : 'unavailable', `downloading ${url}: ${res.status} ${res.statusText}`);
  return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>) as AsyncIterable<Buffer>;
}
