// Engine disk-usage and system-prune reports -> the Docker (compat) and Libpod answer shapes.
import type { DataUsageReport, SystemPruneReport } from '../../engine/api.js';
import { libpodState, toDockerListItem } from './containers.js';
import { toDockerImageSummary, toLibpodPruneReport } from './images.js';
import { toDockerVolume, toLibpodPrune } from './volumes.js';

/** GET /system/df: Docker's summaries of every image, container and volume. */
export function toDockerDataUsage(r: DataUsageReport, now = Date.now()) {
  return {
    LayersSize: r.layersSize,
    Images: r.images.map(toDockerImageSummary),
    Containers: r.containers.map((c) => toDockerListItem(c, now)),
    Volumes: r.volumes.map(toDockerVolume),
    BuildCache: [],
  };
}

/** Go's RFC 3339 form of a time: no fraction when it is zero. */
const rfc3339 = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');

/** Repository and tag of an image's first name, "<none>" for what it lacks (as `podman system df -v`). */
function repoAndTag(names: string[]): { repo: string; tag: string } {
  const name = names[0];
  if (!name) return { repo: '<none>', tag: '<none>' };
  const at = name.indexOf('@');
  if (at >= 0) return { repo: name.slice(0, at), tag: '<none>' };
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? { repo: name.slice(0, colon), tag: name.slice(colon + 1) } : { repo: name, tag: '<none>' };
}

/** GET /libpod/system/df: Libpod's SystemDfReport. */
export function toLibpodDataUsage(r: DataUsageReport) {
  return {
    Images: r.images.map((i) => {
      const { repo, tag } = repoAndTag(i.names);
      return {
        Repository: repo,
        Tag: tag,
        ImageID: i.id,
        Created: rfc3339(i.created),
        Size: i.size,
        SharedSize: i.sharedSize,
        UniqueSize: i.size - i.sharedSize,
        Containers: i.containers,
      };
    }),
    Containers: r.containers.map((c) => ({
      ContainerID: c.id,
      Image: c.spec.imageId,
      Command: [...c.spec.entrypoint, ...c.spec.cmd],
      LocalVolumes: c.spec.mounts.filter((m) => m.type === 'volume').length,
      Size: c.sizeRootFs ?? 0,
      RWSize: c.sizeRw ?? 0,
      Created: c.created,
      Status: libpodState(c),
      Names: c.name,
    })),
    Volumes: r.volumes.map((v) => {
      const size = Math.max(v.usage?.size ?? 0, 0);
      const links = v.usage?.refCount ?? 0;
      return { VolumeName: v.name, Links: links, Size: size, ReclaimableSize: links === 0 ? size : 0 };
    }),
    ImagesSize: r.layersSize,
  };
}

/** POST /libpod/system/prune: one report list per kind of object. */
export function toLibpodSystemPrune(r: SystemPruneReport) {
  return {
    PodPruneReport: [],
    ContainerPruneReports: r.containers.deleted.map((id) => ({ Id: id, Size: 0 })),
    ImagePruneReports: toLibpodPruneReport(r.images),
    NetworkPruneReports: r.networks.map((n) => ({ Name: n.name, ...(n.error ? { Error: n.error } : {}) })),
    VolumePruneReports: toLibpodPrune(r.volumes),
    ReclaimedSpace: r.reclaimed,
  };
}
