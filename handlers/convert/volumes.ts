// Engine volume reports -> the Docker (compat) and Libpod answer shapes.
import type { VolumeInspectReport, VolumePruneReport } from '../../engine/volumes/api.js';

/** Docker's Volume: CreatedAt in RFC 3339 to the second, as Podman's compat API answers. */
export function toDockerVolume(v: VolumeInspectReport) {
  return {
    Name: v.name,
    Driver: v.driver,
    Mountpoint: v.mountpoint,
    CreatedAt: `${v.createdAt.slice(0, 19)}Z`,
    Labels: v.labels,
    Scope: v.scope,
    Options: v.options,
    ...(v.usage ? { UsageData: { Size: v.usage.size, RefCount: v.usage.refCount } } : {}),
  };
}

/** Libpod's VolumeConfigResponse (InspectVolumeData): zero UID/GID and false flags are left out, as Go's omitempty does. */
export function toLibpodVolume(v: VolumeInspectReport) {
  return {
    Name: v.name,
    Driver: v.driver,
    Mountpoint: v.mountpoint,
    CreatedAt: v.createdAt,
    Labels: v.labels,
    Scope: v.scope,
    Options: v.options,
    ...(v.uid ? { UID: v.uid } : {}),
    ...(v.gid ? { GID: v.gid } : {}),
    ...(v.anonymous ? { Anonymous: true } : {}),
    MountCount: v.mountCount,
    ...(v.needsCopyUp ? { NeedsCopyUp: true } : {}),
    ...(v.needsChown ? { NeedsChown: true } : {}),
    LockNumber: v.lockNumber,
  };
}

/** Docker's prune answer; per-volume failures are the caller's to report. */
export function toDockerPrune(reports: VolumePruneReport[]) {
  const ok = reports.filter((r) => !r.error);
  return { VolumesDeleted: ok.map((r) => r.name), SpaceReclaimed: ok.reduce((n, r) => n + r.size, 0) };
}

/** Libpod's prune answer: one PruneReport per volume tried. */
export function toLibpodPrune(reports: VolumePruneReport[]) {
  return reports.map((r) => ({ Id: r.name, Size: r.size, ...(r.error ? { Err: r.error } : {}) }));
}
