// The image store (engine/images/image-store.ts) as the registry side needs it.
import type { ImageStore } from '../images/image-store.js';
import type { LocalImage, PushSource, RegistryImageStore } from './types.js';

/** Adapts the image store to RegistryImageStore. */
export function registryStoreOf(images: ImageStore): RegistryImageStore {
  const local = (rec: { id: string; names: string[]; digests: string[] }): LocalImage => ({ id: rec.id, names: [...rec.names], digests: [...rec.digests] });
  return {
    blobs: images.blobs,
    layers: images.layers,

    async lookup(ref) {
      const found = images.find(ref);
      return found ? local(found.record) : undefined;
    },

    async recordPulled(p) {
      const r = await images.storeImage({
        config: p.config,
        manifest: { data: p.manifest, mediaType: p.manifestMediaType },
        layers: p.layers.map((l) => ({ diffID: l.diffID, chainID: l.chainID, ...(l.blob ? { blob: { ...l.blob } } : {}) })),
        names: p.name ? [p.name] : [],
        digests: p.listDigest ? [p.listDigest] : [],
      });
      return local(r.record);
    },

    async pushSource(ref): Promise<PushSource> {
      const { record } = images.lookup(ref);
      const config = await images.blobs.read(record.config.digest);
      let manifest: PushSource['manifest'];
      try {
        manifest = { data: await images.blobs.read(record.manifest.digest), digest: record.manifest.digest, mediaType: record.manifest.mediaType };
      } catch {
        manifest = undefined;
      }
      return {
        id: record.id,
        names: [...record.names],
        digests: [...record.digests],
        config,
        configDigest: record.config.digest,
        manifest,
        layers: record.layers.map((l) => {
          const lr = images.layers.get(l.chainID);
          const out: PushSource['layers'][number] = { diffID: l.diffID, chainID: l.chainID };
          if (l.blob) {
            out.compressedDigest = l.blob.digest;
            out.compressedSize = l.blob.size;
          } else if (lr) {
            out.compressedDigest = lr.compressedDigest;
            out.compressedSize = lr.compressedSize;
            out.compression = lr.compression;
          }
          return out;
        }),
      };
    },

    async recordPushed(id, pushed) {
      const { record } = images.lookup(id);
      if (record.digests.includes(pushed.digest)) return;
      await images.storeImage({
        config: await images.blobs.read(record.config.digest),
        manifest: { data: pushed.manifest, mediaType: pushed.mediaType },
        layers: record.layers.map((l) => ({ ...l })),
      });
    },

    lease: () => images.lease(),
  };
}
