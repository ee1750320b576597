// Engine image reports -> the Docker (compat) and Libpod answer shapes.
import type {
  HistoryEntry,
  ImageConfigBlob,
  ImageChange,
  ImageHistoryReport,
  ImageInspectReport,
  ImagePruneReport,
  ImageRemoveReport,
  ImageSummaryReport,
} from '../../engine/images/api.js';

const sha = (id: string) => (id ? `sha256:${id}` : '');

export function toDockerImageSummary(s: ImageSummaryReport) {
  return {
    Id: sha(s.id),
    ParentId: sha(s.parentId),
    RepoTags: s.repoTags,
    RepoDigests: s.repoDigests,
    Created: s.created,
    Size: s.size,
    SharedSize: s.sharedSize,
    VirtualSize: s.virtualSize,
    Labels: s.labels,
    Containers: s.containers,
  };
}

export function toLibpodImageSummary(s: ImageSummaryReport) {
  return {
    Id: s.id,
    ParentId: s.parentId,
    RepoTags: s.names,
    RepoDigests: s.repoDigests,
    Created: s.created,
    Size: s.size,
    SharedSize: s.sharedSize,
    VirtualSize: s.virtualSize,
    Labels: s.labels,
    Containers: s.containers,
    ReadOnly: s.readOnly,
    Dangling: s.dangling,
    Names: s.names,
    Digest: s.digest,
    History: s.namesHistory,
    Arch: s.architecture,
    Os: s.os,
    IsManifestList: false,
  };
}

type RuntimeConfig = NonNullable<ImageConfigBlob['config']>;

/** Docker's container-config shape of an image config (every field, Docker's defaults). */
function dockerConfig(c: RuntimeConfig) {
  const out: Record<string, unknown> = {
    Hostname: c.Hostname ?? '',
    Domainname: c.Domainname ?? '',
    User: c.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    Image: c.Image ?? '',
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels ?? null,
  };
  if (c.ExposedPorts) out.ExposedPorts = c.ExposedPorts;
  if (c.Healthcheck) out.Healthcheck = c.Healthcheck;
  if (c.ArgsEscaped !== undefined) out.ArgsEscaped = c.ArgsEscaped;
  if (c.StopSignal) out.StopSignal = c.StopSignal;
  if (c.Shell) out.Shell = c.Shell;
  return out;
}

export function toDockerImageInspect(r: ImageInspectReport) {
  const out: Record<string, unknown> = {
    Id: sha(r.id),
    RepoTags: r.repoTags,
    RepoDigests: r.repoDigests,
    Parent: sha(r.parent),
    Comment: r.comment,
    Created: r.created,
    Container: r.container ?? '',
    ContainerConfig: dockerConfig({ ...((r.containerConfig as RuntimeConfig | undefined) ?? {}), Hostname: (r.containerConfig?.Hostname as string | undefined) ?? r.id.slice(0, 12) }),
    DockerVersion: r.dockerVersion,
    Author: r.author,
    Config: dockerConfig(r.config),
    Architecture: r.architecture,
    Os: r.os,
    Size: r.size,
    VirtualSize: r.virtualSize,
    GraphDriver: { Name: r.graphDriver.name, Data: r.graphDriver.data },
    RootFS: { Type: r.rootFS.type, Layers: r.rootFS.layers },
    Metadata: { LastTagTime: r.lastTagTime ?? '0001-01-01T00:00:00Z' },
  };
  if (r.variant) out.Variant = r.variant;
  if (r.osVersion) out.OsVersion = r.osVersion;
  return out;
}

function ociConfig(c: RuntimeConfig) {
  const out: Record<string, unknown> = {};
  if (c.User) out.User = c.User;
  if (c.ExposedPorts) out.ExposedPorts = c.ExposedPorts;
  if (c.Env) out.Env = c.Env;
  if (c.Entrypoint) out.Entrypoint = c.Entrypoint;
  if (c.Cmd) out.Cmd = c.Cmd;
  if (c.Volumes) out.Volumes = c.Volumes;
  if (c.WorkingDir) out.WorkingDir = c.WorkingDir;
  if (c.Labels) out.Labels = c.Labels;
  if (c.StopSignal) out.StopSignal = c.StopSignal;
  if (c.ArgsEscaped !== undefined) out.ArgsEscaped = c.ArgsEscaped;
  return out;
}

function historyEntry(h: HistoryEntry) {
  const out: Record<string, unknown> = {};
  if (h.created) out.created = h.created;
  if (h.created_by) out.created_by = h.created_by;
  if (h.author) out.author = h.author;
  if (h.comment) out.comment = h.comment;
  if (h.empty_layer) out.empty_layer = true;
  return out;
}

/** Go durations (ns) as the Libpod healthcheck shape has them. */
function healthcheck(c: RuntimeConfig) {
  const h = c.Healthcheck;
  if (!h) return undefined;
  const out: Record<string, unknown> = {};
  if (h.Test) out.Test = h.Test;
  if (h.Interval !== undefined) out.Interval = h.Interval;
  if (h.Timeout !== undefined) out.Timeout = h.Timeout;
  if (h.StartPeriod !== undefined) out.StartPeriod = h.StartPeriod;
  if (h.Retries !== undefined) out.Retries = h.Retries;
  return out;
}

export function toLibpodImageData(r: ImageInspectReport) {
  const out: Record<string, unknown> = {
    Id: r.id,
    Digest: r.digest,
    RepoTags: r.repoTags,
    RepoDigests: r.repoDigests,
    Parent: r.parent,
    Comment: r.comment,
    Created: r.created,
    Config: ociConfig(r.config),
    Version: r.dockerVersion,
    Author: r.author,
    Architecture: r.architecture,
    Os: r.os,
    Size: r.size,
    VirtualSize: r.virtualSize,
    GraphDriver: { Name: r.graphDriver.name, Data: r.graphDriver.data },
    RootFS: { Type: r.rootFS.type, Layers: r.rootFS.layers },
    Labels: r.labels,
    Annotations: r.annotations,
    ManifestType: r.manifestType,
    User: r.config.User ?? '',
    History: r.history.map(historyEntry),
    NamesHistory: r.namesHistory,
  };
  const hc = healthcheck(r.config);
  if (hc) out.Healthcheck = hc;
  return out;
}

/** History entries; compat prefixes IDs with "sha256:" (Podman does so even for "<missing>"). */
export function toHistory(entries: ImageHistoryReport[], compat: boolean) {
  return entries.map((h) => ({
    Id: compat ? `sha256:${h.id}` : h.id,
    Created: h.created,
    CreatedBy: h.createdBy,
    Tags: h.tags,
    Size: h.size,
    Comment: h.comment,
  }));
}

export function toDockerDeleteItems(r: ImageRemoveReport) {
  return [...r.untagged.map((u) => ({ Untagged: u })), ...r.deleted.map((d) => ({ Deleted: sha(d) }))];
}

export function toLibpodRemoveReport(r: ImageRemoveReport) {
  return { Deleted: r.deleted, Untagged: r.untagged, Errors: r.errors.map((e) => e.message), ExitCode: r.exitCode };
}

export function toDockerPruneReport(r: ImagePruneReport) {
  return {
    ImagesDeleted: [...r.untagged.map((u) => ({ Untagged: u })), ...r.removed.map((x) => ({ Deleted: sha(x.id) }))],
    SpaceReclaimed: r.spaceReclaimed,
  };
}

export function toLibpodPruneReport(r: ImagePruneReport) {
  return r.removed.map((x) => ({ Id: x.id, Size: x.size }));
}

/** "busybox:latest" for docker.io/library/busybox:latest (Docker's familiar form, as `docker load` prints). */
export function familiar(name: string): string {
  if (!name.startsWith('docker.io/')) return name;
  const rest = name.slice('docker.io/'.length);
  return rest.startsWith('library/') && !rest.slice('library/'.length).split(/[:@]/)[0]!.includes('/') ? rest.slice('library/'.length) : rest;
}

/** Libpod's changes answer: []archive.Change, which Go writes as null when nothing changed. */
export function toLibpodChanges(changes: ImageChange[]): Array<{ Path: string; Kind: number }> | null {
  return changes.length ? changes.map((c) => ({ Path: c.path, Kind: c.kind })) : null;
}
