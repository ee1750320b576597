// A committed image: the parent image's layers as they are (shared in the layer store, same
// diff IDs), plus one layer with the container's changes, and a config whose rootfs.diff_ids
// and history extend the parent's. As moby's CommitImage (daemon/images/image_commit.go): the
// config starts from the parent's, `created` is now, `author` and `comment` are the commit's,
// the history gains {created, created_by: the container's Cmd joined by spaces, author, comment},
// and a commit with no changes adds no layer but a history entry with empty_layer.
import { EngineError } from '../errors.js';
import { EMPTY_LAYER_DIFF_ID } from '../storage/layer-diff.js';
import { openBlob } from './archive-load.js';
import { applyChanges } from './changes.js';
import type { ImageLayerRef } from './image-db.js';
import type { ImageStore } from './image-store.js';
import { digestOf } from './blob-store.js';
import { buildManifest, layerMediaType, MT, type ImageConfigBlob } from './oci.js';
import type { CommitImageOptions } from './types.js';


export interface CommitImageResult {
  id: string;
  /** Names taken from other images. */
  moved: Array<{ name: string; from: string }>;
}

/** Docker's fields that describe the container an image came from, not the image. */
const CONTAINER_FIELDS = ['container', 'container_config', 'docker_version', 'comment', 'author', 'parent'];
/** Docker-only fields an OCI config does not carry. */
const DOCKER_ONLY = ['container', 'container_config', 'docker_version', 'comment', 'parent'];

export async function commitImage(store: ImageStore, o: CommitImageOptions): Promise<CommitImageResult> {
  const parent = store.index().byId.get(o.parentId);
  if (!parent) throw new EngineError('not-found', `image ${o.parentId} of the container is not known`, undefined, 'image not known');
  const parentConfig = await store.config(parent);
  // What the container does not set (Healthcheck, OnBuild, Shell) stays the image's.
  const runtimeConfig = applyChanges({ ...structuredClone(parentConfig.config ?? {}), ...o.config }, o.changes);
  const parentLayers = parent.layers.map((l) => ({ ...l }));
  const lease = store.lease();
  // The parent's layers must stay while the new image is made.
  for (const l of parentLayers) lease.layer(l.chainID);
  try {
    const blob = await store.blobs.put(o.layer, { signal: o.signal });
    lease.blob(blob.digest, !blob.existed);
    const diffID = blob.digest; // an uncompressed tar: its digest is its diff ID
    const oci = o.format === 'oci';
    const layers: ImageLayerRef[] = [...parentLayers];
    const empty = diffID === EMPTY_LAYER_DIFF_ID;
    if (!empty) {
      const put = await store.layers.put(openBlob(store.blobs, blob.digest), parentLayers.at(-1)?.chainID ?? null, { expectedDiffID: diffID, signal: o.signal });
      lease.layer(put.layer.chainID, !put.existed);
      layers.push({ diffID, chainID: put.layer.chainID, blob: { digest: blob.digest, size: blob.size, mediaType: layerMediaType('none', oci) } });
    }
    const created = new Date().toISOString();
    const config: ImageConfigBlob = { ...parentConfig };
    for (const k of CONTAINER_FIELDS) delete config[k];
    Object.assign(config, {
      created,
      ...(o.author ? { author: o.author } : {}),
      config: runtimeConfig,
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) },
      history: [
        ...(parentConfig.history ?? []),
        {
          created,
          created_by: o.createdBy,
          ...(o.author ? { author: o.author } : {}),
          ...(o.comment ? { comment: o.comment } : {}),
          ...(empty ? { empty_layer: true } : {}),
        },
      ],
      ...(o.comment ? { comment: o.comment } : {}),
      container: o.containerId,
    });
    if (oci) for (const k of DOCKER_ONLY) delete config[k];
    const configBytes = Buffer.from(JSON.stringify(config));
    const descs = layers.map((l) => l.blob ?? { digest: l.diffID, size: store.layers.get(l.chainID)?.uncompressedSize ?? 0, mediaType: layerMediaType('none', oci) });
    const manifest = { data: buildManifest({ mediaType: '', digest: digestOf(configBytes), size: configBytes.length }, descs, oci), mediaType: oci ? MT.ociManifest : MT.dockerManifest };
    const result = await store.storeImage({ config: configBytes, manifest, layers, names: o.name ? [o.name] : [] });
    lease.release();
    // An empty diff left a blob no image lists.
    if (empty && !blob.existed) await store.collect([], [blob.digest]);
    return { id: result.record.id, moved: result.moved };
  } catch (e) {
    await lease.abort();
    throw e;
  }
}

