// The containers domain's own data: one normalised description of a container (ContainerSpec),
// built from either API's create body and stored as JSON, and its mutable runtime state
// (ContainerState). Nothing here knows about HTTP or either API's field names.
import { eventClockNs } from '../events/time.js';
import type { NetworkAttachment, PerNetworkRequest, PublishedPort } from '../networks/types.js';

export type RestartPolicyName = 'no' | 'always' | 'on-failure' | 'unless-stopped';

export interface RestartPolicy {
  name: RestartPolicyName;
  /** on-failure only: give up after this many restarts (0 = no limit). */
  maxRetries: number;
}

/** A bind mount, tmpfs or volume reference as given, parsed and checked. */
export interface MountSpec {
  type: 'bind' | 'tmpfs' | 'volume';
  /** Host path (bind) or volume name (volume); empty for tmpfs and anonymous volumes. */
  source: string;
  destination: string;
  readonly: boolean;
  /** Bind propagation (rprivate by default). */
  propagation?: 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';
  /** SELinux relabel request (z/Z) as given; accepted, not acted on. */
  relabel?: 'z' | 'Z';
  /** Options as written by the client ("ro", "z", "nosuid", ...), for inspect. */
  options: string[];
  /** tmpfs: size in bytes and mode bits. */
  tmpfsSize?: number;
  tmpfsMode?: number;
  /** Where the mount came from: Binds/volumes strings, Mounts objects, Tmpfs maps. */
  origin: 'binds' | 'mounts' | 'tmpfs';
  /** bind: non-recursive ("bind" rather than "rbind"). */
  nonRecursive?: boolean;
  /** volume: never copy the image's content in. */
  nocopy?: boolean;
  /** volume: how to create it when it does not exist (Docker VolumeOptions). */
  volumeCreate?: { driver?: string; labels?: Record<string, string>; options?: Record<string, string> };
  /** volume: made for this container (no name given, or an image VOLUME). */
  anonymous?: boolean;
  /** volume: its directory on the host (for inspect), set at create. */
  volumeMountpoint?: string;
}

/** A secret mounted as a file (Libpod SpecGenerator `secrets`), resolved at create. */
export interface SecretMountSpec {
  /** The secret's name and ID when the container was created. */
  name: string;
  id: string;
  /** As given: relative to /run/secrets, or absolute; empty means the secret's name. */
  target: string;
  uid: number;
  gid: number;
  mode: number;
}

export interface UlimitSpec {
  name: string;
  soft: number;
  hard: number;
}

export interface ResourcesSpec {
  memory?: number;
  memorySwap?: number;
  memoryReservation?: number;
  memorySwappiness?: number;
  oomKillDisable?: boolean;
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  nanoCpus?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: number;
  blkioWeight?: number;
}

export interface HealthcheckSpec {
  /** ["CMD", ...], ["CMD-SHELL", "..."] (["NONE"] disables). */
  test: string[];
  /** Nanoseconds (0 = default 30 s). */
  interval: number;
  timeout: number;
  startPeriod: number;
  retries: number;
}

/** A namespace choice: private (own), host, none (network only), or shared with a container. */
export type NamespaceChoice = { mode: 'private' } | { mode: 'host' } | { mode: 'none' } | { mode: 'container'; id: string } | { mode: 'path'; path: string };

export interface DeviceSpec {
  pathOnHost: string;
  pathInContainer: string;
  permissions: string;
}

export interface ContainerSpec {
  /** The image as the client named it (Config.Image). */
  image: string;
  /** Image ID (hex, no prefix). */
  imageId: string;
  /** The image's normalised name, when it was given by name. */
  imageName: string;
  /** Image digest ("sha256:..."), when known. */
  imageDigest?: string;
  /** Lower directories of the rootfs overlay (top first), fixed at create. */
  lowerDirs: string[];

  /** The image's own Entrypoint/Cmd/Env etc. were merged in already. */
  entrypoint: string[];
  cmd: string[];
  /** Whether the client gave Cmd / Entrypoint itself (for inspect's Config fields). */
  env: string[];
  workingDir: string;
  user: string;
  groupAdd: string[];
  hostname: string;
  domainname: string;
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Stop signal number and the name it was given as. */
  stopSignal: number;
  stopSignalName: string;
  /** Seconds before SIGKILL on stop. */
  stopTimeout: number;
  exposedPorts: Record<string, object>;
  /** Port bindings as given ("80/tcp" -> [{HostIp, HostPort}]); published by the networks domain. */
  portBindings: Record<string, Array<{ HostIp: string; HostPort: string }>>;
  publishAllPorts: boolean;
  /** Image volumes (Config.Volumes). */
  volumes: Record<string, object>;
  healthcheck?: HealthcheckSpec;

  // HostConfig
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  noNewPrivileges: boolean;
  /** 'default' | 'unconfined' | path of a profile file. */
  seccomp: string;
  securityOpt: string[];
  maskedPaths?: string[];
  readonlyPaths?: string[];
  unmask: string[];
  readonlyRootfs: boolean;
  sysctls: Record<string, string>;
  ulimits: UlimitSpec[];
  oomScoreAdj: number;
  shmSize: number;
  mounts: MountSpec[];
  /** Binds as given (for inspect HostConfig.Binds). */
  binds: string[];
  /** Tmpfs map as given (for inspect HostConfig.Tmpfs). */
  tmpfs: Record<string, string>;
  resources: ResourcesSpec;
  init: boolean;
  initPath: string;
  logDriver: string;
  logOptions: Record<string, string>;
  /** Bytes (from max-size), 0 = unlimited. */
  logSizeMax: number;
  restartPolicy: RestartPolicy;
  autoRemove: boolean;
  /** As the client named it (bridge, default, none, host, container:<id>, <network>). */
  networkMode: string;
  /** Networks to join, by name (the networks domain connects them). */
  networks: string[];
  /** Bridge mode: per-network options (aliases, static IPs, MAC) by network name. */
  networkRequests?: Record<string, PerNetworkRequest>;
  netns: NamespaceChoice;
  pidns: NamespaceChoice;
  ipcns: NamespaceChoice;
  utsns: NamespaceChoice;
  /** Mode strings as given, for inspect (PidMode "", "host", "container:x"). */
  pidMode: string;
  ipcMode: string;
  utsMode: string;
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  extraHosts: string[];
  devices: DeviceSpec[];
  cgroupParent: string;
  consoleSize?: { height: number; width: number };
  /** Umask (octal string) for the container process. */
  umask?: string;
  /** The Libpod create command, for inspect. */
  createCommand?: string[];
  /** Kill the container after this many seconds (0 = never). */
  timeout: number;
  /** Secrets mounted as files (their data copied into the container's dir at create). */
  secrets?: SecretMountSpec[];
  /** Environment variable -> secret name: the value is read from the secret at each start. */
  envSecrets?: Record<string, string>;
  /** Raw Docker HostConfig fields kept only to echo them back in inspect. */
  extra: Record<string, unknown>;
}

export type ContainerStatus = 'created' | 'initialized' | 'running' | 'paused' | 'stopping' | 'exited' | 'removing';

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  status: 'starting' | 'healthy' | 'unhealthy';
  failingStreak: number;
  log: HealthLogEntry[];
}

export interface ContainerState {
  status: ContainerStatus;
  /** Container init PID while it runs (host namespace). */
  pid: number;
  conmonPid: number;
  exitCode: number;
  /** RFC 3339 with ns; "" when never. */
  startedAt: string;
  finishedAt: string;
  error: string;
  oomKilled: boolean;
  restartCount: number;
  /** The last stop (or kill) was asked for by a user: restart policies other than always do not apply. */
  stoppedByUser: boolean;
  /** The overlay rootfs is mounted. */
  mounted: boolean;
  /** Libpod mount calls not yet undone by unmount. */
  userMounts: number;
  /** PID of the process handling the container's exit (cleanup claim), 0 when none. */
  cleanupPid: number;
  /** Increments each time the container is started (tells exits of successive runs apart). */
  runs: number;
  health?: HealthState;
  /** The network set up for the current run (bridge mode): attachments and published ports. */
  net?: { status: Record<string, NetworkAttachment>; ports: PublishedPort[] };
  /** Checkpointed with CRIU (and not restored since); when (RFC 3339 with ns), where its images are. */
  checkpointed?: boolean;
  checkpointedAt?: string;
  checkpointPath?: string;
  /** CRIU's dump.log / restore.log, kept with `keep`. */
  checkpointLog?: string;
  restoreLog?: string;
  /** Restored from a checkpoint (this run), and when. */
  restored?: boolean;
  restoredAt?: string;
}

export interface ContainerRecord {
  id: string;
  name: string;
  /** RFC 3339 with ns. */
  created: string;
  spec: ContainerSpec;
  state: ContainerState;
}

export interface ExecConfig {
  cmd: string[];
  env: string[];
  user: string;
  workingDir: string;
  tty: boolean;
  privileged: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  detachKeys: string;
  consoleSize?: { height: number; width: number };
}

export interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  /** -1 until the process exited (Docker reports null before the first start). */
  exitCode: number | null;
  pid: number;
  conmonPid: number;
  /** The session was started (it cannot start twice). */
  started: boolean;
  created: string;
}

export function initialState(): ContainerState {
  return {
    status: 'created',
    pid: 0,
    conmonPid: 0,
    exitCode: 0,
    startedAt: '',
    finishedAt: '',
    error: '',
    oomKilled: false,
    restartCount: 0,
    stoppedByUser: false,
    mounted: false,
    userMounts: 0,
    cleanupPid: 0,
    runs: 0,
  };
}

/** Unix ns as RFC 3339 with nanoseconds in UTC ("2024-03-25T12:20:42.123456789Z"). */
export function formatTimeNano(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

/** The current time as RFC 3339 with nanoseconds (the event clock: strictly increasing). */
export function nowRfc3339Nano(): string {
  return formatTimeNano(eventClockNs());
}

/** Unix ns of an RFC 3339 time written by formatTimeNano (0n for ""). */
export function parseTimeNano(s: string): bigint {
  if (!s) return 0n;
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(s);
  if (!m) return BigInt(Date.parse(s)) * 1_000_000n;
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}
