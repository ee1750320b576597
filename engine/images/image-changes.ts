// What an image's file system changed (podman image diff), as Podman 5.1 answers it
// (libpod/diff.go GetDiff -> containers/storage store.Changes(from, to) with the overlay driver):
//   - without a parent: the image's top layer against the layers below it;
//   - with a parent image whose top layer is the one right below this image's top layer: the
//     same (the overlay driver reads the top layer's directory);
//   - with any other parent (an older ancestor, an unrelated image, the image itself): the two
//     merged file trees compared, as the driver's naive diff compares the two mounts.
// Paths the runtime creates in every container (/etc/hosts, /proc, ...) are left out, as
// GetDiff does. Results come depth first with sorted names.
import { EngineError } from '../errors.js';
import { compareChangePaths, type FsChange, layerChanges } from '../storage/changes.js';
import { readXattrTree } from '../storage/layer-diff.js';
import type { LayerStore } from '../storage/layer-store.js';
import { stackChanges } from '../storage/tree-changes.js';
import type { ImageStore } from './image-store.js';

/** libpod/diff.go initInodes. */
const INIT_INODES = new Set(['/dev', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/proc', '/run', '/run/notify', '/run/.containerenv', '/run/secrets', '/run/podman-init', '/sys', '/etc/mtab']);

/** The top layer's chain ID of an image (undefined: no layers), not-found named as Podman does. */
function topLayer(store: ImageStore, name: string): string | undefined {
  try {
    return store.lookup(name).record.layers.at(-1)?.chainID;
  } catch (e) {
    if (e instanceof EngineError && e.kind === 'not-found') throw new EngineError('not-found', `${name} not found: ${e.message}`, e, e.reason);
    throw e;
  }
}

async function opaqueDirs(dir: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const [file, attrs] of await readXattrTree(dir)) {
    if (['trusted.overlay.opaque', 'user.overlay.opaque'].some((k) => attrs.get(k)?.toString() === 'y') && file.startsWith(`${dir}/`)) {
      out.add(file.slice(dir.length + 1));
    }
  }
  return out;
}

/** Layer directories of the stack topped by `chain`, bottom first. */
const stackDirs = (layers: LayerStore, chain: string | undefined) => (chain ? layers.lowerDirs(chain).reverse() : []);

export async function imageChanges(store: ImageStore, name: string, parent?: string): Promise<FsChange[]> {
  const layers = store.layers;
  const top = topLayer(store, name);
  const below = top ? layers.require(top).parent : null;
  const from = parent ? topLayer(store, parent) : below ?? undefined;
  let changes: FsChange[];
  if (!top) {
    changes = await stackChanges([], stackDirs(layers, from));
  } else if ((from ?? null) === below) {
    const dir = layers.diffDir(top);
    changes = await layerChanges(dir, below ? layers.lowerDirs(below) : [], { opaqueDirs: await opaqueDirs(dir), skipUnchangedDirs: true });
  } else {
    changes = await stackChanges(stackDirs(layers, top), stackDirs(layers, from));
  }
  return changes.filter((c) => !INIT_INODES.has(c.path)).sort((a, b) => compareChangePaths(a.path, b.path));
}
