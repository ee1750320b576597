// The containers part of the engine interface: options in, reports out, streams as async
// iterables and Node streams. handlers/convert/containers.ts turns the reports into the Docker
// and Libpod shapes.
import type { Writable } from 'node:stream';
import type { ContainerCreateOptions } from './create-options.js';
import type { ContainerSpec, ContainerState, ExecConfig } from './types.js';

export type { ContainerCreateOptions } from './create-options.js';
export type { ContainerSpec, ContainerState, ExecConfig, HealthState, MountSpec, RestartPolicy } from './types.js';
export { fromDockerCreate } from './create-docker.js';
export { fromSpecGenerator } from './create-libpod.js';

export interface ContainerCreateReport {
  id: string;
  warnings: string[];
}

/** Everything known about a container (inspect); list items are the same without sizes. */
export interface ContainerReport {
  id: string;
  name: string;
  /** RFC 3339 with ns. */
  created: string;
  spec: ContainerSpec;
  state: ContainerState;
  hostname: string;
  /** Files and directories of the container. */
  paths: {
    rootfs: string;
    upperDir: string;
    workDir: string;
    logPath: string;
    hostsPath: string;
    hostnamePath: string;
    resolvConfPath: string;
    bundle: string;
    configPath: string;
    conmonPidFile: string;
    pidFile: string;
    userdata: string;
  };
  execIds: string[];
  /** Bytes in the writable layer / in the whole rootfs (when sizes were asked for). */
  sizeRw?: number;
  sizeRootFs?: number;
  /** From the runtime config of the current run, when there is one. */
  effectiveCaps?: string[];
  boundingCaps?: string[];
  ociVersion?: string;
  cgroupPath?: string;
}

export interface ContainerListOptions {
  all?: boolean;
  /** Newest `limit` containers (all containers implied). */
  limit?: number;
  size?: boolean;
  filters?: Record<string, string[]>;
}

export interface ContainerRemoveOptions {
  force?: boolean;
  /** Remove anonymous volumes (accepted; volumes belong to the volumes domain). */
  volumes?: boolean;
  /** Seconds to wait for a stop before SIGKILL (force only; default 0 = kill at once). */
  timeout?: number;
  /** No error when the container does not exist. */
  ignore?: boolean;
}

export interface ContainerRemoveReport {
  id: string;
  error?: string;
}

export interface ContainerPruneReport {
  deleted: string[];
  spaceReclaimed: number;
}

/** Docker conditions (not-running, next-exit, removed) and Libpod states (running, exited, stopped, ...). */
export type WaitCondition = string;

export interface ContainerWaitReport {
  exitCode: number;
  error?: string;
}

export interface ContainerLogsOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** Unix ns. */
  since?: bigint;
  until?: bigint;
  /** Last N lines (undefined: all). */
  tail?: number;
  /** The caller prints timestamps (lines then carry timeNano). */
  timestamps?: boolean;
}

export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
  /** Unix ns (log lines). */
  timeNano?: bigint;
}

export interface ContainerLogsReport {
  tty: boolean;
  lines: AsyncIterable<OutputChunk>;
}

export interface ContainerAttachOptions {
  /** Live output (and stdin); default true. With neither stream nor logs the session is empty. */
  stream?: boolean;
  /** Replay the container's logs first. */
  logs?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** "ctrl-p,ctrl-q" style; "" disables. */
  detachKeys?: string;
}

/** A live connection to a container's (or exec session's) stdio. */
export interface StdioSession {
  tty: boolean;
  output: AsyncIterable<OutputChunk>;
  /** Present when stdin was asked for (end() closes the process's stdin). */
  stdin?: Writable;
  /**
   * The client is gone: the output ends at once; what was written to `stdin` up to its end()
   * still reaches the process (the caller ends stdin when the client's input ends); the process
   * keeps running.
   */
  close(): void;
}

export interface ExecCreateOptions extends Partial<ExecConfig> {
  cmd: string[];
}

export interface ExecStartOptions {
  detach?: boolean;
  tty?: boolean;
  consoleSize?: { height: number; width: number };
}

export interface ExecStartReport {
  session?: StdioSession;
  /** Settles with the exit code once the process has exited (attached sessions). */
  exited?: Promise<number>;
}

export interface ExecReport {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  exitCode: number | null;
  pid: number;
  canRemove: boolean;
}

export interface ContainerTopReport {
  titles: string[];
  processes: string[][];
}

export interface ContainerChange {
  path: string;
  /** 0 modified, 1 added, 2 deleted (Docker's kinds). */
  kind: 0 | 1 | 2;
}

export interface PathStat {
  name: string;
  size: number;
  /** Go os.FileMode bits (type bits included). */
  mode: number;
  mtime: string;
  linkTarget: string;
  /** Whether the path (after following a final symlink) is a directory: podman-remote cp reads it. */
  isDir: boolean;
}

export interface ArchivePutOptions {
  noOverwriteDirNonDir?: boolean;
  copyUIDGID?: boolean;
  signal?: AbortSignal;
}

export interface CgroupStats {
  /** ns since the epoch of the sample. */
  readNano: bigint;
  cpuTotal: number;
  cpuKernel: number;
  cpuUser: number;
  perCpu: number[];
  systemCpu: number;
  onlineCpus: number;
  throttling: { periods: number; throttledPeriods: number; throttledTime: number };
  memoryUsage: number;
  memoryLimit: number;
  memoryMaxUsage: number;
  memoryStats: Record<string, number>;
  pids: number;
  pidsLimit: number;
  blkio: { major: number; minor: number; op: string; value: number }[];
  networks: Record<string, { rxBytes: number; rxPackets: number; rxErrors: number; rxDropped: number; txBytes: number; txPackets: number; txErrors: number; txDropped: number }>;
}

export interface ContainerStatsSample {
  id: string;
  name: string;
  running: boolean;
  cur: CgroupStats;
  /** The previous sample (zeros for the first). */
  pre: CgroupStats;
  /** Seconds since the container started. */
  upSeconds: number;
}

export interface ContainerUpdateOptions {
  resources?: ContainerSpec['resources'];
  restartPolicy?: { name: string; maxRetries?: number };
}

export interface HealthcheckReport {
  status: 'starting' | 'healthy' | 'unhealthy';
  failingStreak: number;
  log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

export interface ContainerCommitOptions {
  reference?: string;
  author?: string;
  message?: string;
  changes?: string[];
  pause?: boolean;
  nameStyle?: 'docker' | 'podman';
  /** The image format (Podman's libpod default is oci; compat commits are docker). */
  format?: 'oci' | 'docker';
}

export interface ContainerCheckpointOptions {
  /** Keep CRIU's logs and statistics (dump.log, stats-dump) beside the checkpoint. */
  keep?: boolean;
  /** Checkpoint and leave the container running. */
  leaveRunning?: boolean;
  tcpEstablished?: boolean;
  fileLocks?: boolean;
  /** Also answer the checkpoint as a tar (checkpoint images, container config, rootfs changes). */
  export?: boolean;
  /** Leave the container's filesystem changes out of the export. */
  ignoreRootFS?: boolean;
  /** Only pre-dump the memory (the container keeps running); a later checkpoint withPrevious uses it. */
  preCheckpoint?: boolean;
  withPrevious?: boolean;
  /** Report the runtime's duration (µs), as Podman does only when asked. */
  printStats?: boolean;
}

export interface ContainerCheckpointReport {
  id: string;
  /** Microseconds `runc checkpoint` took (0 unless printStats). */
  runtimeDuration: number;
  /** The export tar, when asked for. */
  archive?: AsyncIterable<Buffer>;
}

export interface ContainerRestoreOptions {
  /** Keep the checkpoint (and CRIU's logs) after restoring. */
  keep?: boolean;
  tcpEstablished?: boolean;
  tcpClose?: boolean;
  fileLocks?: boolean;
  /** A checkpoint export to restore as a new container (instead of a container's own checkpoint). */
  import?: AsyncIterable<Buffer>;
  /** The imported container's name (a new name also gets a new ID). */
  name?: string;
  /** Do not apply the imported filesystem changes. */
  ignoreRootFS?: boolean;
  printStats?: boolean;
}

export interface ContainerRestoreReport {
  id: string;
  /** Microseconds the restore took (0 unless printStats). */
  runtimeDuration: number;
}

export interface ContainersEngine {
  containerCreate(options: ContainerCreateOptions): Promise<ContainerCreateReport>;
  containerStart(nameOrId: string): Promise<void>;
  containerStop(nameOrId: string, options?: { timeout?: number; ignore?: boolean }): Promise<void>;
  containerKill(nameOrId: string, signal?: string | number): Promise<void>;
  containerRestart(nameOrId: string, options?: { timeout?: number }): Promise<void>;
  containerPause(nameOrId: string): Promise<void>;
  containerUnpause(nameOrId: string): Promise<void>;
  containerInit(nameOrId: string): Promise<void>;
  /** `ready` is called once the wait is registered (before the condition is met). */
  containerWait(nameOrId: string, conditions: WaitCondition[], signal: AbortSignal, options?: { intervalMs?: number; ready?: () => void }): Promise<ContainerWaitReport>;
  containerRemove(nameOrId: string, options?: ContainerRemoveOptions): Promise<ContainerRemoveReport>;
  containerPrune(filters: Record<string, string[]>): Promise<ContainerPruneReport>;
  containerRename(nameOrId: string, newName: string): Promise<void>;
  containerUpdate(nameOrId: string, options: ContainerUpdateOptions): Promise<void>;
  containerResize(nameOrId: string, size: { height: number; width: number }): Promise<void>;
  containerList(options: ContainerListOptions): Promise<ContainerReport[]>;
  containerInspect(nameOrId: string, options?: { size?: boolean }): Promise<ContainerReport>;
  containerExists(nameOrId: string): Promise<boolean>;
  containerLogs(nameOrId: string, options: ContainerLogsOptions, signal: AbortSignal): Promise<ContainerLogsReport>;
  containerAttach(nameOrId: string, options: ContainerAttachOptions): Promise<StdioSession>;
  containerTop(nameOrId: string, psArgs?: string): Promise<ContainerTopReport>;
  containerStats(nameOrIds: string[] | undefined, options: { stream: boolean; intervalMs?: number }, signal: AbortSignal): Promise<AsyncIterable<ContainerStatsSample[]>>;
  containerChanges(nameOrId: string): Promise<ContainerChange[]>;
  containerExport(nameOrId: string, signal: AbortSignal): Promise<AsyncIterable<Buffer>>;
  containerArchiveStat(nameOrId: string, path: string): Promise<PathStat>;
  containerArchiveGet(nameOrId: string, path: string, signal: AbortSignal): Promise<{ stat: PathStat; tar: AsyncIterable<Buffer> }>;
  containerArchivePut(nameOrId: string, path: string, input: AsyncIterable<Buffer>, options: ArchivePutOptions): Promise<void>;
  containerMount(nameOrId: string): Promise<string>;
  containerUnmount(nameOrId: string): Promise<void>;
  containerShowMounted(): Promise<Record<string, string>>;
  containerHealthcheck(nameOrId: string): Promise<HealthcheckReport>;
  containerCommit(nameOrId: string, options: ContainerCommitOptions): Promise<{ id: string }>;
  containerCheckpoint(nameOrId: string, options: ContainerCheckpointOptions): Promise<ContainerCheckpointReport>;
  /** Restores a container's own checkpoint, or with `import` a new container from an export (nameOrId unused). */
  containerRestore(nameOrId: string | undefined, options: ContainerRestoreOptions): Promise<ContainerRestoreReport>;
  execCreate(nameOrId: string, options: ExecCreateOptions): Promise<string>;
  execStart(id: string, options: ExecStartOptions): Promise<ExecStartReport>;
  execInspect(id: string): Promise<ExecReport>;
  execResize(id: string, size: { height: number; width: number }): Promise<void>;
}
