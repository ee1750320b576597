// Engine reports about images (summary, inspect, history, tree) built from the records, the
// index and the config blobs.
import * as path from 'node:path';
import type { ImageHistoryReport, ImageInspectReport, ImageSummaryReport } from './api.js';
import type { ImageRecord } from './image-db.js';
import { type ImageIndex, isDangling, topLayer } from './image-index.js';
import type { ImageStore } from './image-store.js';
import { splitName } from './image-store.js';
import { MT, parseJson } from './oci.js';

/** Tagged names only. */
export function repoTags(rec: ImageRecord): string[] {
  return rec.names.filter((n) => splitName(n)?.tag !== undefined);
}

/** repo@digest for every repository the image is named in and every digest it has (sorted). */
export function repoDigests(rec: ImageRecord): string[] {
  const out = new Set<string>();
  for (const n of rec.names) {
    const parts = splitName(n);
    if (!parts) continue;
    for (const d of rec.digests) out.add(`${parts.repo}@${d}`);
  }
  return [...out].sort();
}

export function unixSeconds(iso: string | undefined): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
}

// Summaries without the container count are cached per index generation: lists stay cheap.
const summaryCache = new WeakMap<ImageIndex, Map<string, Omit<ImageSummaryReport, 'containers'>>>();

export function imageSummary(index: ImageIndex, rec: ImageRecord, containers: number): ImageSummaryReport {
  let cache = summaryCache.get(index);
  if (!cache) summaryCache.set(index, (cache = new Map()));
  let s = cache.get(rec.id);
  if (!s) {
    s = {
      id: rec.id,
      parentId: index.parent.get(rec.id) ?? '',
      names: rec.names,
      repoTags: repoTags(rec),
      repoDigests: repoDigests(rec),
      digest: rec.digests[0] ?? rec.manifest.digest,
      created: unixSeconds(rec.created),
      size: rec.size,
      sharedSize: index.sharedSize.get(rec.id) ?? 0,
      virtualSize: rec.size,
      labels: rec.labels,
      dangling: isDangling(index, rec),
      readOnly: Boolean(rec.readOnly),
      namesHistory: rec.namesHistory,
      architecture: rec.architecture,
      os: rec.os,
    };
    cache.set(rec.id, s);
  }
  return { ...s, containers };
}

export async function imageInspect(store: ImageStore, rec: ImageRecord): Promise<ImageInspectReport> {
  const index = store.index();
  const config = await store.config(rec);
  const top = topLayer(rec);
  const data: Record<string, string> = {};
  if (top && store.layers.has(top)) {
    const dirs = store.layers.lowerDirs(top);
    data.UpperDir = dirs[0]!;
    data.WorkDir = path.join(path.dirname(dirs[0]!), 'work');
    if (dirs.length > 1) data.LowerDir = dirs.slice(1).join(':');
  }
  let annotations: Record<string, string> = {};
  if (rec.manifest.mediaType === MT.ociManifest) {
    try {
      const m = parseJson(await store.blobs.read(rec.manifest.digest), 'manifest') as { annotations?: Record<string, string> };
      annotations = m.annotations ?? {};
    } catch {
      /* the manifest blob is gone: no annotations */
    }
  }
  const history = config.history ?? [];
  const comment = typeof config.comment === 'string' ? config.comment : (history.at(-1)?.comment ?? '');
  const report: ImageInspectReport = {
    id: rec.id,
    digest: rec.digests[0] ?? rec.manifest.digest,
    names: rec.names,
    repoTags: repoTags(rec),
    repoDigests: repoDigests(rec),
    parent: index.parent.get(rec.id) ?? '',
    comment,
    created: rec.created,
    author: typeof config.author === 'string' ? config.author : '',
    architecture: config.architecture || rec.architecture,
    os: config.os || rec.os,
    dockerVersion: typeof config.docker_version === 'string' ? config.docker_version : '',
    config: config.config ?? {},
    size: rec.size,
    virtualSize: rec.size,
    graphDriver: { name: 'overlay', data },
    rootFS: { type: config.rootfs.type || 'layers', layers: [...config.rootfs.diff_ids] },
    labels: rec.labels,
    annotations,
    manifestType: rec.manifest.mediaType,
    history,
    namesHistory: rec.namesHistory,
  };
  if (typeof config.variant === 'string' && config.variant) report.variant = config.variant;
  if (typeof config['os.version'] === 'string') report.osVersion = config['os.version'];
  if (config.container_config && typeof config.container_config === 'object') report.containerConfig = config.container_config;
  if (typeof config.container === 'string') report.container = config.container;
  if (rec.lastTagTime) report.lastTagTime = rec.lastTagTime;
  return report;
}

/**
 * History, newest first, as Podman computes it: each entry that added a layer takes the next
 * layer down; an entry whose layer is the top layer of a local image shows that image's ID
 * (once) and names.
 */
export async function imageHistory(store: ImageStore, rec: ImageRecord): Promise<ImageHistoryReport[]> {
  const index = store.index();
  const config = await store.config(rec);
  const byTop = new Map<string, ImageRecord[]>();
  for (const r of index.records) {
    const t = topLayer(r);
    if (t) byTop.set(t, [...(byTop.get(t) ?? []), r]);
  }
  // Our own image first at its top layer.
  const top = topLayer(rec);
  if (top) byTop.set(top, [rec, ...(byTop.get(top) ?? []).filter((r) => r.id !== rec.id)]);
  let history = config.history ?? [];
  if (history.length === 0) history = rec.layers.map(() => ({ created: rec.created }));
  const out: ImageHistoryReport[] = [];
  const used = new Set<string>();
  let layerIdx = rec.layers.length - 1;
  for (let x = history.length - 1; x >= 0; x--) {
    const h = history[x]!;
    const entry: ImageHistoryReport = { id: '<missing>', created: unixSeconds(h.created), createdBy: h.created_by ?? '', tags: null, size: 0, comment: h.comment ?? '' };
    const layer = layerIdx >= 0 ? rec.layers[layerIdx] : undefined;
    if (layer) {
      if (!h.empty_layer) entry.size = store.layers.get(layer.chainID)?.size ?? 0;
      const images = byTop.get(layer.chainID) ?? [];
      if (images.length > 0) {
        const id = images[0]!.id;
        if (!used.has(id)) {
          entry.id = id;
          used.add(id);
        }
        const tags = images.flatMap((r) => r.names);
        if (tags.length > 0) entry.tags = tags;
      }
      if (!h.empty_layer) layerIdx--;
    }
    out.push(entry);
  }
  return out;
}

/** Sizes as Podman prints them (go-units HumanSizeWithPrecision, 4 digits, decimal units). */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** Podman's `image tree`: the image and its layers (or, with whatRequires, the images built on it). */
export function imageTree(store: ImageStore, rec: ImageRecord, whatRequires: boolean): string {
  const index = store.index();
  const lines = [`Image ID: ${rec.id.slice(0, 12)}`, `Tags:     [${rec.names.join(' ')}]`, `Size:     ${humanSize(rec.size)}`];
  if (whatRequires) {
    const walk = (id: string, prefix: string) => {
      const kids = index.children.get(id) ?? [];
      kids.forEach((k, i) => {
        const last = i === kids.length - 1;
        const r = index.byId.get(k)!;
        lines.push(`${prefix}${last ? '└── ' : '├── '}ID: ${k.slice(0, 12)} Size: ${humanSize(r.size)}${r.names.length ? ` Top Layer of: [${r.names.join(' ')}]` : ''}`);
        walk(k, prefix + (last ? '    ' : '│   '));
      });
    };
    walk(rec.id, '');
    return lines.join('\n') + '\n';
  }
  lines.push('Image Layers');
  const tops = new Map<string, string[]>();
  for (const r of index.records) {
    const t = topLayer(r);
    if (t) tops.set(t, [...(tops.get(t) ?? []), ...r.names]);
  }
  rec.layers.forEach((l, i) => {
    const last = i === rec.layers.length - 1;
    const names = tops.get(l.chainID);
    const size = store.layers.get(l.chainID)?.size ?? 0;
    lines.push(`${last ? '└── ' : '├── '}ID: ${l.chainID.slice(7, 19)} Size: ${humanSize(size)}${names?.length ? ` Top Layer of: [${names.join(' ')}]` : ''}`);
  });
  return lines.join('\n') + '\n';
}
