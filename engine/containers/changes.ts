// What a container changed in its filesystem, read from its overlay upper directory
// (engine/storage/changes.ts): entries there were added (absent from the image) or modified
// (present in it), whiteouts (0:0 character devices) are deletions. Directories holding changes
// count as modified, as Docker.
import { layerChanges } from '../storage/changes.js';
import type { ContainerChange } from './api.js';

export async function upperChanges(upper: string, lowerDirs: string[]): Promise<ContainerChange[]> {
  return (await scanUpper(upper, lowerDirs)).changes;
}

/**
 * What commit leaves out of the new layer: the entries of the upper directory that are no
 * changes of the container (upperChanges drops them), as paths relative to it.
 */
export async function runtimeOnlyEntries(upper: string, lowerDirs: string[]): Promise<Set<string>> {
  const { all, changes } = await scanUpper(upper, lowerDirs);
  const kept = new Set(changes.map((c) => c.path));
  return new Set(all.filter((c) => !kept.has(c.path)).map((c) => c.path.slice(1)));
}

async function scanUpper(upper: string, lowerDirs: string[]): Promise<{ all: ContainerChange[]; changes: ContainerChange[] }> {
  // Every entry of the upper dir is a change (no directory is left out as unchanged): the
  // runtime-only filtering below needs to see the directories that were copied up.
  const out: ContainerChange[] = await layerChanges(upper, lowerDirs);
  // Mount points the runtime made for the files it binds in are not changes of the container,
  // nor are the directories that were only copied up to hold them.
  const kept = out.filter((c) => !(MOUNT_POINTS.has(c.path) && c.kind === 1));
  const result = kept.filter((c) => c.kind !== 0 || !isCopiedUpOnly(c.path, out, kept));
  return { all: out, changes: result.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) };
}

const MOUNT_POINTS = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/run/podman-init', '/run/.containerenv']);

/** A modified directory whose only changes underneath were dropped mount points. */
function isCopiedUpOnly(dir: string, all: ContainerChange[], kept: ContainerChange[]): boolean {
  const prefix = `${dir}/`;
  return all.some((c) => c.path.startsWith(prefix)) && !kept.some((c) => c.path.startsWith(prefix));
}
