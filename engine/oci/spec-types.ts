// The subset of the OCI runtime-spec (config.json, version 1.0.2) that tspod writes. Field names
// are the spec's own; see opencontainers/runtime-spec config.md and config-linux.md.

/** Rlimit and other uint64 values: a bigint is written as an exact JSON integer (see serializeRuntimeSpec). */
export type Uint64 = number | bigint;

export interface OciSpecUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

export interface OciSpecCapabilities {
  bounding: string[];
  effective: string[];
  inheritable: string[];
  permitted: string[];
  ambient: string[];
}

export interface OciSpecRlimit {
  type: string;
  hard: Uint64;
  soft: Uint64;
}

export interface OciSpecProcess {
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: OciSpecUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities: OciSpecCapabilities;
  rlimits: OciSpecRlimit[];
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
  apparmorProfile?: string;
  selinuxLabel?: string;
}

export interface OciSpecMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface OciSpecNamespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';
  path?: string;
}

export interface OciSpecDevice {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciSpecDeviceRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access?: string;
}

export interface OciSpecResources {
  devices: OciSpecDeviceRule[];
  memory?: {
    limit?: number;
    reservation?: number;
    swap?: number;
    swappiness?: number;
    disableOOMKiller?: boolean;
  };
  cpu?: {
    shares?: number;
    quota?: number;
    period?: number;
    cpus?: string;
    mems?: string;
  };
  pids?: { limit: number };
  blockIO?: { weight?: number };
}

export interface OciSpecSeccompArg {
  index: number;
  value: Uint64;
  valueTwo?: Uint64;
  op: string;
}

export interface OciSpecSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: OciSpecSeccompArg[];
}

export interface OciSpecSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: OciSpecSyscall[];
}

export interface OciSpecLinux {
  namespaces: OciSpecNamespace[];
  devices?: OciSpecDevice[];
  resources: OciSpecResources;
  cgroupsPath?: string;
  sysctl?: Record<string, string>;
  seccomp?: OciSpecSeccomp;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  rootfsPropagation?: string;
}

export interface OciSpec {
  ociVersion: string;
  process: OciSpecProcess;
  root: { path: string; readonly: boolean };
  hostname?: string;
  mounts: OciSpecMount[];
  annotations?: Record<string, string>;
  linux: OciSpecLinux;
}
