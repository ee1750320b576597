// Host and engine facts reported by /info and /version, and the system-wide disk usage and
// prune reports (converted to the API shapes in handlers/convert/system.ts).
import type { ContainerPruneReport, ContainerReport } from '../containers/api.js';
import type { ImagePruneReport, ImageSummaryReport } from '../images/api.js';
import type { NetworkRemoveReport } from '../networks/types.js';
import type { VolumeInspectReport, VolumePruneReport } from '../volumes/api.js';

export interface ToolVersion {
  /** Absolute path found on PATH, or '' when the tool is missing. */
  path: string;
  /** Version as the tool prints it (first line), or '' when missing. */
  version: string;
  /** Debian package that owns the binary (dpkg -S), or ''. */
  package: string;
  /** The whole `--version` output, trimmed (Podman reports runc's this way), or ''. */
  versionOutput?: string;
  /** The package as Podman prints it: `${Package}_${Version}_${Architecture}` (dpkg-query), or ''. */
  packageFull?: string;
}

export interface HostInfo {
  hostname: string;
  kernelVersion: string;
  os: 'linux';
  /** PRETTY_NAME from /etc/os-release, e.g. "Debian GNU/Linux 12 (bookworm)". */
  operatingSystem: string;
  distribution: { id: string; versionId: string; codename: string };
  /** Go-style architecture: amd64, arm64, ... */
  arch: string;
  cpus: number;
  memTotal: number;
  /** Bytes available (MemAvailable when the kernel reports it, else MemFree), as Podman does. */
  memFree: number;
  swapTotal: number;
  swapFree: number;
  /** Seconds since boot. */
  uptimeSeconds: number;
  /** CPU time shares since boot from /proc/stat, in percent (Podman's cpuUtilization). */
  cpuUtilization?: { userPercent: number; systemPercent: number; idlePercent: number };
  cgroupVersion: '1' | '2';
  /** Controllers available to containers (cpu, memory, pids, ...). */
  cgroupControllers: string[];
  cgroupManager: 'cgroupfs';
  rootless: boolean;
  ipv4Forwarding: boolean;
  bridgeNfIptables: boolean;
  bridgeNfIp6tables: boolean;
  seccompEnabled: boolean;
  seccompProfilePath: string;
  apparmorEnabled: boolean;
  selinuxEnabled: boolean;
  /** Default capabilities given to containers (Podman's default set), e.g. CAP_CHOWN. */
  defaultCapabilities: string[];
  ociRuntime: ToolVersion & { name: 'runc' };
  conmon: ToolVersion;
  networkBackend: ToolVersion & { name: 'netavark' };
  dnsServer: ToolVersion; // aardvark-dns
  initBinary: ToolVersion; // catatonit
  store: {
    graphRoot: string;
    runRoot: string;
    volumePath: string;
    graphDriverName: 'overlay';
    /** Bytes used and total on the filesystem of graphRoot. */
    graphRootUsed: number;
    graphRootAllocated: number;
    imageCount: number;
    containers: { total: number; running: number; paused: number; stopped: number };
    volumeCount: number;
  };
  /** Files read for the engine configuration, in order (containers.conf and drop-ins). */
  configFiles: string[];
  eventsLogPath: string;
  /** Remote socket the service listens on, when known. */
  remoteSocket?: string;
  /** Nofile and nproc hard limits of this process (-1: unlimited). */
  limits: { nofileHard: number; nprocHard: number };
  warnings: string[];
}

export interface VersionReport {
  /** tspod's own version (package.json). */
  tspodVersion: string;
  nodeVersion: string;
  os: 'linux';
  arch: string;
  kernelVersion: string;
  /** Build time of tspod (ISO 8601) and its git commit, when known. */
  buildTime: string;
  gitCommit: string;
  ociRuntime: ToolVersion;
  conmon: ToolVersion;
}

/** What `system df` reports: every image, container (with sizes) and volume (with usage). */
export interface DataUsageReport {
  /** Bytes of all image layers, each counted once. */
  layersSize: number;
  images: ImageSummaryReport[];
  /** With sizeRw and sizeRootFs. */
  containers: ContainerReport[];
  /** With usage. */
  volumes: VolumeInspectReport[];
}

export interface SystemPruneOptions {
  /** Remove every unused image, not only dangling ones. */
  all?: boolean;
  /** Prune unused volumes too. */
  volumes?: boolean;
  /** label, label!, until (applied to every kind of object). */
  filters?: Record<string, string[]>;
}

export interface SystemPruneReport {
  containers: ContainerPruneReport;
  images: ImagePruneReport;
  networks: NetworkRemoveReport[];
  volumes: VolumePruneReport[];
  /** Bytes freed in all. */
  reclaimed: number;
}
