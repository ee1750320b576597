// A read-only view of all image records, rebuilt when they change: lookups by name and ID,
// layer and blob reference counts, and the parent/child relation Podman computes from the layer
// tree (an image is another's parent when it sits on the same or the parent top layer and its
// history is a strict prefix of the other's).
import type { ImageRecord } from './image-db.js';

export interface ImageIndex {
  generation: number;
  /** Newest first (by created, then ID). */
  records: ImageRecord[];
  byId: Map<string, ImageRecord>;
  /** Full name (tagged or digested) → record. */
  byName: Map<string, ImageRecord>;
  /** Chain ID → number of images whose stack includes it. */
  layerUsers: Map<string, number>;
  /** Blob digests (configs, manifests, layer blobs) images refer to. */
  blobUsers: Map<string, number>;
  parent: Map<string, string>;
  children: Map<string, string[]>;
  /** Bytes of layers each image shares with at least one other image. */
  sharedSize: Map<string, number>;
  /** Bytes of all layers images use, each counted once. */
  layersSize: number;
}

/** The chain ID of an image's top layer, undefined for an image without layers. */
export function topLayer(rec: ImageRecord): string | undefined {
  return rec.layers.length > 0 ? rec.layers[rec.layers.length - 1]!.chainID : undefined;
}

function isParentAndChild(parent: ImageRecord, child: ImageRecord): boolean {
  if (parent.layers.length > child.layers.length) return false;
  for (let i = 0; i < parent.layers.length; i++) if (parent.layers[i]!.chainID !== child.layers[i]!.chainID) return false;
  const ph = parent.historyChain;
  const ch = child.historyChain;
  if (ph.length === 0 || ph.length >= ch.length) return false;
  return ph[ph.length - 1] === ch[ph.length - 1];
}

export function buildIndex(all: Map<string, ImageRecord>, generation: number, layerParent: (chain: string) => string | null | undefined, layerSize: (chain: string) => number): ImageIndex {
  const records = [...all.values()].sort((a, b) => {
    const d = Date.parse(b.created) - Date.parse(a.created);
    return d !== 0 && !Number.isNaN(d) ? d : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  const byId = new Map<string, ImageRecord>();
  const byName = new Map<string, ImageRecord>();
  const layerUsers = new Map<string, number>();
  const blobUsers = new Map<string, number>();
  const byTop = new Map<string, ImageRecord[]>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const rec of records) {
    byId.set(rec.id, rec);
    for (const n of rec.names) byName.set(n, rec);
    for (const l of rec.layers) {
      bump(layerUsers, l.chainID);
      if (l.blob) bump(blobUsers, l.blob.digest);
    }
    bump(blobUsers, rec.config.digest);
    bump(blobUsers, rec.manifest.digest);
    const top = topLayer(rec);
    if (top) {
      let list = byTop.get(top);
      if (!list) byTop.set(top, (list = []));
      list.push(rec);
    }
  }
  const parent = new Map<string, string>();
  const children = new Map<string, string[]>();
  for (const rec of records) {
    const top = topLayer(rec);
    if (!top) continue;
    let found: ImageRecord | undefined;
    for (const other of byTop.get(top) ?? []) {
      if (other.id !== rec.id && isParentAndChild(other, rec)) {
        found = other;
        break;
      }
    }
    if (!found) {
      const below = layerParent(top);
      if (below) found = (byTop.get(below) ?? []).find((other) => isParentAndChild(other, rec));
    }
    if (found) {
      parent.set(rec.id, found.id);
      let list = children.get(found.id);
      if (!list) children.set(found.id, (list = []));
      list.push(rec.id);
    }
  }
  const sharedSize = new Map<string, number>();
  for (const rec of records) {
    let shared = 0;
    for (const l of rec.layers) if ((layerUsers.get(l.chainID) ?? 0) > 1) shared += layerSize(l.chainID);
    sharedSize.set(rec.id, shared);
  }
  let layersSize = 0;
  for (const chain of layerUsers.keys()) layersSize += layerSize(chain);
  return { generation, records, byId, byName, layerUsers, blobUsers, parent, children, sharedSize, layersSize };
}

/** Untagged and not a parent: what `image prune` removes by default. */
export function isDangling(index: ImageIndex, rec: ImageRecord): boolean {
  return rec.names.length === 0 && !(index.children.get(rec.id)?.length);
}

/** Untagged but a parent of another image: hidden from lists unless `all`. */
export function isIntermediate(index: ImageIndex, rec: ImageRecord): boolean {
  return rec.names.length === 0 && (index.children.get(rec.id)?.length ?? 0) > 0;
}
