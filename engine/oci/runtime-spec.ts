// Builds the OCI runtime-spec config.json for one container from a normalised, HTTP-free
// description (OciContainerConfig) and a few facts about the host (OciHostFacts). Pure: every
// fact about the machine comes in through `facts` (see host.ts for loading them), so the same
// inputs always give the same spec. Defaults follow Podman's (containers-common and
// pkg/specgen/generate): capabilities, masked and read-only paths, default mounts, rlimits.
import path from 'node:path';
import { containersConfDefaults } from '../config/containers-conf.js';
import { EngineError } from '../errors.js';
import { convertSeccompProfile, type SeccompProfile } from './seccomp.js';
import type {
  OciSpec,
  OciSpecCapabilities,
  OciSpecDevice,
  OciSpecDeviceRule,
  OciSpecMount,
  OciSpecNamespace,
  OciSpecResources,
  OciSpecRlimit,
  OciSpecSeccomp,
  Uint64,
} from './spec-types.js';

export type { OciSpec } from './spec-types.js';

// ---------------------------------------------------------------------------------------------
// Constants (Podman's defaults)

/** Every capability the kernel knows of, by number (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40). */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** containers-common's default_capabilities (one list: containers.conf's built-in default). */
export const DEFAULT_CAPABILITIES: readonly string[] = containersConfDefaults.containers.defaultCapabilities;

/** containers-common's masked paths (plus per-CPU thermal_throttle dirs, see OciHostFacts.extraMaskedPaths). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/sys/devices/virtual/powercap',
  '/sys/firmware',
  '/sys/fs/selinux',
  '/proc/interrupts',
];

/** containers-common's read-only paths. */
export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
export const DEFAULT_CGROUP_PARENT = '/libpod_parent';
/** Podman's rootful defaults for RLIMIT_NOFILE and RLIMIT_NPROC (then clamped to the host's hard limits). */
export const DEFAULT_NOFILE = 1048576;
export const DEFAULT_NPROC = 4194304;
/** 2^64-1: RLIM_INFINITY as the runtime spec writes it. */
export const RLIM_INFINITY = 18446744073709551615n;

const RLIMIT_NAMES = [
  'RLIMIT_AS',
  'RLIMIT_CORE',
  'RLIMIT_CPU',
  'RLIMIT_DATA',
  'RLIMIT_FSIZE',
  'RLIMIT_LOCKS',
  'RLIMIT_MEMLOCK',
  'RLIMIT_MSGQUEUE',
  'RLIMIT_NICE',
  'RLIMIT_NOFILE',
  'RLIMIT_NPROC',
  'RLIMIT_RSS',
  'RLIMIT_RTPRIO',
  'RLIMIT_RTTIME',
  'RLIMIT_SIGPENDING',
  'RLIMIT_STACK',
];

// ---------------------------------------------------------------------------------------------
// Inputs

/** A namespace: a new one ('private'), the host's ('host'), or join the one at `path`. */
export type OciNamespaceMode = 'private' | 'host' | { path: string };

export interface OciNamespaces {
  pid?: OciNamespaceMode;
  ipc?: OciNamespaceMode;
  uts?: OciNamespaceMode;
  /** Must be private (the runtime always needs its own mount namespace). */
  mount?: OciNamespaceMode;
  network?: OciNamespaceMode;
  /** Default: private on cgroups v2, host on v1 (as Podman). */
  cgroup?: OciNamespaceMode;
}

export type OciPropagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';

export interface OciBindMountRequest {
  type: 'bind';
  source: string;
  destination: string;
  readonly?: boolean;
  /** Default 'rprivate'. */
  propagation?: OciPropagation;
  /** rbind (default) or a plain bind. */
  recursive?: boolean;
  /** More mount options appended as they are (nosuid, nodev, noexec, ...). */
  options?: string[];
}

export interface OciTmpfsMountRequest {
  type: 'tmpfs';
  destination: string;
  /** Bytes, or a size string tmpfs understands ("64m"). */
  size?: number | string;
  /** Octal permission bits of the tmpfs root (e.g. 0o1777). */
  mode?: number;
  readonly?: boolean;
  /** More mount options appended as they are (later options win: "exec" undoes "noexec"). */
  options?: string[];
}

export type OciMountRequest = OciBindMountRequest | OciTmpfsMountRequest;

/** A file from the container's run dir bind-mounted over an /etc file (hosts, hostname, resolv.conf). */
export interface OciRunDirFile {
  source: string;
  destination: string;
  readonly?: boolean;
}

export interface OciRlimitRequest {
  /** "nofile", "NOFILE" or "RLIMIT_NOFILE". */
  type: string;
  /** A number, or -1 / 'unlimited' for RLIM_INFINITY. */
  soft: number | bigint | 'unlimited';
  hard: number | bigint | 'unlimited';
}

export interface OciResourcesRequest {
  /** Bytes; memory.limit. */
  memory?: number;
  /** Bytes of memory plus swap (Docker's MemorySwap); -1 = unlimited. */
  memorySwap?: number;
  memoryReservation?: number;
  memorySwappiness?: number;
  oomKillDisable?: boolean;
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  /** 0 or -1: unlimited. */
  pidsLimit?: number;
  blkioWeight?: number;
}

export interface OciDeviceRequest {
  /** Path inside the container. */
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
  /** Cgroup access for this device; default "rwm". */
  access?: string;
}

export interface OciContainerConfig {
  /** The container ID (used for the cgroup path). */
  id: string;
  /** Absolute path of the (mounted) root filesystem. */
  rootfs: string;
  readonlyRootfs?: boolean;
  args: string[];
  /** KEY=value strings; a default PATH is added when missing. */
  env?: string[];
  /** Default "/". */
  cwd?: string;
  user?: { uid: number; gid: number; additionalGids?: number[]; umask?: number };
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  /** Only used with a private UTS namespace. */
  hostname?: string;
  /** All capabilities, no seccomp, no masked or read-only paths, rw /sys, all devices allowed. */
  privileged?: boolean;
  /** CAP_ names with or without the CAP_ prefix, any case; 'ALL' for all. */
  capAdd?: string[];
  capDrop?: string[];
  noNewPrivileges?: boolean;
  /** 'default' (facts.seccompProfile, the default) | 'unconfined' | a profile in the containers-common format. */
  seccomp?: 'default' | 'unconfined' | SeccompProfile;
  /** Paths masked on top of the defaults. */
  maskedPaths?: string[];
  /** Paths removed from the masked and read-only lists, or 'all'. */
  unmaskedPaths?: string[] | 'all';
  sysctls?: Record<string, string>;
  /** Merged over the defaults (nofile, nproc); every limit is clamped to the host's hard limit. */
  rlimits?: OciRlimitRequest[];
  oomScoreAdj?: number;
  /** Size of the /dev/shm tmpfs in bytes (default 64 MiB). */
  shmSize?: number;
  /** Host directory to bind at /dev/shm instead of a tmpfs (shared IPC namespaces). */
  shmPath?: string;
  /** User mounts: they replace default mounts with the same destination. */
  mounts?: OciMountRequest[];
  /** /etc/hosts, /etc/hostname, /etc/resolv.conf, ... bind-mounted from the run dir. */
  runDirFiles?: OciRunDirFile[];
  namespaces?: OciNamespaces;
  resources?: OciResourcesRequest;
  /** cgroupfs parent (default /libpod_parent); the container's cgroup is <parent>/libpod-<id>. */
  cgroupParent?: string;
  /** Devices created in the container (and allowed in the devices cgroup). */
  devices?: OciDeviceRequest[];
  annotations?: Record<string, string>;
}

/** What the spec builder needs to know about the host. */
export interface OciHostFacts {
  /** /sys/fs/cgroup is a cgroup2 mount (unified hierarchy). */
  cgroupV2: boolean;
  /** Go architecture name: amd64, arm64, ... */
  arch: string;
  /** Kernel release (os.release()). */
  kernel: string;
  /** The host's capability bounding set (capabilities outside it are dropped). */
  boundingCaps: readonly string[];
  /** Hard limits by RLIMIT_ name; absent or 'unlimited' means no clamp. */
  hardLimits: Readonly<Record<string, number | 'unlimited'>>;
  /** The containers-common default seccomp profile, when the host has one. */
  seccompProfile?: SeccompProfile;
  /** Host-specific paths to mask as well (per-CPU thermal_throttle dirs). */
  extraMaskedPaths?: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Helpers

const invalid = (msg: string) => new EngineError('invalid-argument', msg);

/** Normalises a capability name ("net_admin" -> "CAP_NET_ADMIN"); 'ALL' stays 'ALL'. */
export function normalizeCapability(name: string): string {
  const up = name.trim().toUpperCase();
  if (up === 'ALL') return 'ALL';
  const cap = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!ALL_CAPABILITIES.includes(cap)) throw invalid(`unknown capability "${name}"`);
  return cap;
}

/** Podman's cap merge: defaults + add - drop, with 'ALL' on either side. */
export function mergeCapabilities(base: readonly string[], add: readonly string[] = [], drop: readonly string[] = []): string[] {
  const adds = add.map(normalizeCapability);
  const drops = drop.map(normalizeCapability);
  if (adds.includes('ALL')) {
    if (drops.includes('ALL')) throw invalid('cannot both add and drop all capabilities');
    return ALL_CAPABILITIES.filter((c) => !drops.includes(c));
  }
  for (const c of adds) {
    if (drops.includes(c)) throw invalid(`capability "${c}" cannot be both added and dropped`);
  }
  const start = drops.includes('ALL') ? [] : base.filter((c) => !drops.includes(c));
  const out = [...start];
  for (const c of adds) if (!out.includes(c)) out.push(c);
  return out;
}

/** Normalises "nofile" / "NOFILE" / "RLIMIT_NOFILE" to "RLIMIT_NOFILE". */
export function normalizeRlimitType(type: string): string {
  const up = type.trim().toUpperCase();
  const name = up.startsWith('RLIMIT_') ? up : `RLIMIT_${up}`;
  if (!RLIMIT_NAMES.includes(name)) throw invalid(`unknown rlimit "${type}"`);
  return name;
}

function rlimitValue(v: number | bigint | 'unlimited'): bigint {
  if (v === 'unlimited') return RLIM_INFINITY;
  if (typeof v === 'bigint') return v < 0n ? RLIM_INFINITY : v;
  if (!Number.isInteger(v)) throw invalid(`invalid rlimit value ${v}`);
  return v < 0 ? RLIM_INFINITY : BigInt(v);
}

const toUint64 = (v: bigint): Uint64 => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);

/** Clamps soft/hard to the host's hard limit for that type (and soft to hard). */
export function clampRlimit(type: string, soft: bigint, hard: bigint, facts: Pick<OciHostFacts, 'hardLimits'>): OciSpecRlimit {
  const host = facts.hardLimits[type];
  let h = hard;
  if (host !== undefined && host !== 'unlimited' && h > BigInt(host)) h = BigInt(host);
  const s = soft > h ? h : soft;
  return { type, soft: toUint64(s), hard: toUint64(h) };
}

function buildRlimits(cfg: OciContainerConfig, facts: OciHostFacts): OciSpecRlimit[] {
  const byType = new Map<string, { soft: bigint; hard: bigint }>();
  byType.set('RLIMIT_NOFILE', { soft: BigInt(DEFAULT_NOFILE), hard: BigInt(DEFAULT_NOFILE) });
  byType.set('RLIMIT_NPROC', { soft: BigInt(DEFAULT_NPROC), hard: BigInt(DEFAULT_NPROC) });
  for (const r of cfg.rlimits ?? []) {
    const type = normalizeRlimitType(r.type);
    const soft = rlimitValue(r.soft);
    const hard = rlimitValue(r.hard);
    if (soft > hard) throw invalid(`${type}: soft limit ${soft} is greater than hard limit ${hard}`);
    byType.set(type, { soft, hard });
  }
  return [...byType].map(([type, { soft, hard }]) => clampRlimit(type, soft, hard, facts));
}

function nsMode(m: OciNamespaceMode | undefined, dflt: 'private' | 'host'): OciNamespaceMode {
  return m ?? dflt;
}

const isHost = (m: OciNamespaceMode) => m === 'host';

function buildNamespaces(cfg: OciContainerConfig, facts: OciHostFacts): OciSpecNamespace[] {
  const ns = cfg.namespaces ?? {};
  const mount = nsMode(ns.mount, 'private');
  if (mount === 'host') throw invalid('the mount namespace cannot be shared with the host');
  const list: [OciSpecNamespace['type'], OciNamespaceMode][] = [
    ['pid', nsMode(ns.pid, 'private')],
    ['network', nsMode(ns.network, 'private')],
    ['ipc', nsMode(ns.ipc, 'private')],
    ['uts', nsMode(ns.uts, 'private')],
    ['mount', mount],
    ['cgroup', nsMode(ns.cgroup, facts.cgroupV2 ? 'private' : 'host')],
  ];
  const out: OciSpecNamespace[] = [];
  for (const [type, mode] of list) {
    if (mode === 'host') continue;
    if (mode === 'private') out.push({ type });
    else {
      if (!path.isAbsolute(mode.path)) throw invalid(`${type} namespace path must be absolute: ${mode.path}`);
      out.push({ type, path: mode.path });
    }
  }
  return out;
}

function buildCapabilities(cfg: OciContainerConfig, facts: OciHostFacts): OciSpecCapabilities {
  const host = new Set(facts.boundingCaps);
  let caps: string[];
  if (cfg.privileged) caps = ALL_CAPABILITIES.filter((c) => host.has(c));
  else caps = mergeCapabilities(DEFAULT_CAPABILITIES, cfg.capAdd, cfg.capDrop).filter((c) => host.has(c));
  const uid = cfg.user?.uid ?? 0;
  if (uid === 0) {
    return { bounding: caps, effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] };
  }
  // A non-root user only gets the capabilities asked for explicitly (as Podman).
  const added = mergeCapabilities([], cfg.capAdd ?? [], []).filter((c) => host.has(c));
  return { bounding: caps, effective: added, permitted: [...added], inheritable: [...added], ambient: [...added] };
}

const IPC_SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

function buildSysctls(cfg: OciContainerConfig): Record<string, string> | undefined {
  const entries = Object.entries(cfg.sysctls ?? {});
  if (!entries.length) return undefined;
  const ns = cfg.namespaces ?? {};
  const out: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) {
      if (ns.ipc === 'host') throw invalid(`sysctl ${key}=${value} can't be set since IPC namespace set to host`);
    } else if (key.startsWith('net.')) {
      if (ns.network === 'host') throw invalid(`sysctl ${key}=${value} can't be set since network namespace set to host`);
    } else if (key === 'kernel.hostname' || key === 'kernel.domainname') {
      if (ns.uts === 'host') throw invalid(`sysctl ${key}=${value} can't be set since UTS namespace set to host`);
    } else {
      throw invalid(`sysctl ${key} is not namespaced and can't be set in a container`);
    }
    out[key] = value;
  }
  return out;
}

function checkDestination(d: string): string {
  if (!path.isAbsolute(d)) throw invalid(`mount destination must be an absolute path: ${d}`);
  return path.posix.normalize(d).replace(/(.)\/+$/, '$1');
}

function sizeOption(size: number | string): string {
  if (typeof size === 'number') {
    if (!Number.isInteger(size) || size < 0) throw invalid(`invalid tmpfs size ${size}`);
    return `size=${size}`;
  }
  if (!/^\d+[kmgKMG%]?$/.test(size)) throw invalid(`invalid tmpfs size "${size}"`);
  return `size=${size}`;
}

function userMount(m: OciMountRequest): OciSpecMount {
  const destination = checkDestination(m.destination);
  if (m.type === 'bind') {
    if (!path.isAbsolute(m.source)) throw invalid(`bind mount source must be an absolute path: ${m.source}`);
    const options = [m.recursive === false ? 'bind' : 'rbind', m.readonly ? 'ro' : 'rw', m.propagation ?? 'rprivate'];
    for (const o of m.options ?? []) if (!options.includes(o)) options.push(o);
    return { destination, type: 'bind', source: m.source, options };
  }
  if (m.type === 'tmpfs') {
    const options = [m.readonly ? 'ro' : 'rw', 'rprivate', 'nosuid', 'nodev', 'tmpcopyup'];
    if (m.size !== undefined) options.push(sizeOption(m.size));
    if (m.mode !== undefined) options.push(`mode=${m.mode.toString(8)}`);
    for (const o of m.options ?? []) if (!options.includes(o)) options.push(o);
    return { destination, type: 'tmpfs', source: 'tmpfs', options };
  }
  throw invalid(`unsupported mount type "${(m as { type: string }).type}"`);
}

const depth = (p: string) => (p === '/' ? 0 : p.split('/').length - 1);

function buildMounts(cfg: OciContainerConfig): OciSpecMount[] {
  const ns = cfg.namespaces ?? {};
  const priv = !!cfg.privileged;
  const mounts: OciSpecMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    priv
      ? { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['rprivate', 'nosuid', 'noexec', 'nodev', 'rw'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['rprivate', 'nosuid', 'noexec', 'nodev', 'relatime', priv ? 'rw' : 'ro'],
    },
  ];
  if (ns.ipc === 'host') {
    mounts.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate', 'nosuid', 'noexec', 'nodev'] });
  } else if (cfg.shmPath) {
    mounts.push({ destination: '/dev/shm', type: 'bind', source: cfg.shmPath, options: ['bind', 'rprivate', 'nosuid', 'noexec', 'nodev'] });
  } else {
    const size = cfg.shmSize ?? DEFAULT_SHM_SIZE;
    if (!Number.isInteger(size) || size <= 0) throw invalid(`invalid shm size ${size}`);
    mounts.push({
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['rprivate', 'nosuid', 'noexec', 'nodev', 'mode=1777', `size=${size}`],
    });
  }
  for (const f of cfg.runDirFiles ?? []) {
    if (!path.isAbsolute(f.source)) throw invalid(`run dir file source must be an absolute path: ${f.source}`);
    mounts.push({
      destination: checkDestination(f.destination),
      type: 'bind',
      source: f.source,
      options: ['bind', 'rprivate', ...(f.readonly ? ['ro'] : [])],
    });
  }
  // User mounts supersede the defaults (and each other: the last one for a destination wins).
  const user = new Map<string, OciSpecMount>();
  for (const m of cfg.mounts ?? []) {
    const sm = userMount(m);
    user.set(sm.destination, sm);
  }
  const all = [...mounts.filter((m) => !user.has(m.destination)), ...user.values()];
  // Parents before children, otherwise in the order above (Array.prototype.sort is stable).
  return all.sort((a, b) => depth(a.destination) - depth(b.destination));
}

function buildResources(cfg: OciContainerConfig): OciSpecResources {
  const r = cfg.resources ?? {};
  const devices: OciSpecDeviceRule[] = cfg.privileged ? [{ allow: true, access: 'rwm' }] : [{ allow: false, access: 'rwm' }];
  if (!cfg.privileged) {
    for (const d of cfg.devices ?? []) {
      if (d.type === 'b' || d.type === 'c') {
        devices.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.access ?? 'rwm' });
      }
    }
  }
  const out: OciSpecResources = { devices };
  const nonNeg = (name: string, v: number | undefined) => {
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw invalid(`invalid ${name} ${v}`);
  };
  nonNeg('memory limit', r.memory);
  nonNeg('memory reservation', r.memoryReservation);
  nonNeg('cpu shares', r.cpuShares);
  nonNeg('cpu period', r.cpuPeriod);
  nonNeg('blkio weight', r.blkioWeight);
  if (r.memorySwap !== undefined && (!Number.isInteger(r.memorySwap) || r.memorySwap < -1)) throw invalid(`invalid memory swap ${r.memorySwap}`);
  if (r.memory && r.memorySwap && r.memorySwap > 0 && r.memorySwap < r.memory) {
    throw invalid('memory swap (memory + swap) must be larger than the memory limit');
  }
  if (r.memorySwappiness !== undefined && (r.memorySwappiness < 0 || r.memorySwappiness > 100)) {
    throw invalid(`invalid memory swappiness ${r.memorySwappiness}: must be between 0 and 100`);
  }
  if (r.blkioWeight && (r.blkioWeight < 10 || r.blkioWeight > 1000)) throw invalid(`invalid blkio weight ${r.blkioWeight}: must be between 10 and 1000`);
  const memory: NonNullable<OciSpecResources['memory']> = {};
  if (r.memory) memory.limit = r.memory;
  if (r.memoryReservation) memory.reservation = r.memoryReservation;
  if (r.memorySwap) memory.swap = r.memorySwap;
  if (r.memorySwappiness !== undefined) memory.swappiness = r.memorySwappiness;
  if (r.oomKillDisable) memory.disableOOMKiller = true;
  if (Object.keys(memory).length) out.memory = memory;
  const cpu: NonNullable<OciSpecResources['cpu']> = {};
  if (r.cpuShares) cpu.shares = r.cpuShares;
  if (r.cpuQuota) cpu.quota = r.cpuQuota;
  if (r.cpuPeriod) cpu.period = r.cpuPeriod;
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (r.pidsLimit !== undefined && r.pidsLimit !== 0) out.pids = { limit: r.pidsLimit < 0 ? -1 : r.pidsLimit };
  if (r.blkioWeight) out.blockIO = { weight: r.blkioWeight };
  return out;
}

function buildSeccomp(cfg: OciContainerConfig, facts: OciHostFacts, bounding: string[]): OciSpecSeccomp | undefined {
  const choice = cfg.seccomp ?? 'default';
  if (choice === 'unconfined') return undefined;
  // Privileged containers run unconfined unless given a profile of their own (as Podman).
  if (choice === 'default' && cfg.privileged) return undefined;
  const profile = choice === 'default' ? facts.seccompProfile : choice;
  if (!profile) return undefined;
  return convertSeccompProfile(profile, { arch: facts.arch, kernel: facts.kernel, boundingCaps: bounding });
}

function unmask(list: readonly string[], unmasked: string[] | 'all' | undefined): string[] {
  if (unmasked === 'all') return [];
  const drop = new Set((unmasked ?? []).map((p) => path.posix.normalize(p)));
  return list.filter((p) => !drop.has(p));
}

// ---------------------------------------------------------------------------------------------

/** Builds the config.json object for `cfg` on a host described by `facts`. Throws EngineError('invalid-argument'). */
export function buildRuntimeSpec(cfg: OciContainerConfig, facts: OciHostFacts): OciSpec {
  if (!cfg.id) throw invalid('container id is required');
  if (!path.isAbsolute(cfg.rootfs)) throw invalid(`rootfs must be an absolute path: ${cfg.rootfs}`);
  if (!cfg.args.length || !cfg.args[0]) throw invalid('no command specified');
  const cwd = cfg.cwd || '/';
  if (!path.isAbsolute(cwd)) throw invalid(`working directory must be an absolute path: ${cwd}`);

  const env = [...(cfg.env ?? [])];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH_ENV);
  for (const e of env) if (!e.includes('=') || e.startsWith('=')) throw invalid(`invalid environment variable "${e}"`);

  const user = cfg.user ?? { uid: 0, gid: 0 };
  for (const id of [user.uid, user.gid, ...(user.additionalGids ?? [])]) {
    if (!Number.isInteger(id) || id < 0 || id > 0xfffffffe) throw invalid(`invalid user or group id ${id}`);
  }
  const capabilities = buildCapabilities(cfg, facts);
  const namespaces = buildNamespaces(cfg, facts);
  const utsPrivate = namespaces.some((n) => n.type === 'uts');

  const spec: OciSpec = {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: !!cfg.terminal,
      user: {
        uid: user.uid,
        gid: user.gid,
        ...(user.umask !== undefined ? { umask: user.umask } : {}),
        ...(user.additionalGids?.length ? { additionalGids: [...user.additionalGids] } : {}),
      },
      args: [...cfg.args],
      env,
      cwd,
      capabilities,
      rlimits: buildRlimits(cfg, facts),
      noNewPrivileges: !!cfg.noNewPrivileges,
    },
    root: { path: cfg.rootfs, readonly: !!cfg.readonlyRootfs },
    mounts: buildMounts(cfg),
    linux: {
      namespaces,
      resources: buildResources(cfg),
      cgroupsPath: `${(cfg.cgroupParent ?? DEFAULT_CGROUP_PARENT).replace(/\/+$/, '')}/libpod-${cfg.id}`,
    },
  };
  if (cfg.terminal && cfg.consoleSize) spec.process.consoleSize = { ...cfg.consoleSize };
  if (cfg.oomScoreAdj !== undefined) {
    if (!Number.isInteger(cfg.oomScoreAdj) || cfg.oomScoreAdj < -1000 || cfg.oomScoreAdj > 1000) {
      throw invalid(`invalid oom score adj ${cfg.oomScoreAdj}: must be between -1000 and 1000`);
    }
    spec.process.oomScoreAdj = cfg.oomScoreAdj;
  }
  if (cfg.hostname && utsPrivate) spec.hostname = cfg.hostname;

  const devices: OciSpecDevice[] = (cfg.devices ?? []).map((d) => {
    const dev: OciSpecDevice = { path: checkDestination(d.path), type: d.type, major: d.major, minor: d.minor };
    if (d.fileMode !== undefined) dev.fileMode = d.fileMode;
    if (d.uid !== undefined) dev.uid = d.uid;
    if (d.gid !== undefined) dev.gid = d.gid;
    return dev;
  });
  if (devices.length) spec.linux.devices = devices;

  const sysctl = buildSysctls(cfg);
  if (sysctl) spec.linux.sysctl = sysctl;

  const seccomp = buildSeccomp(cfg, facts, capabilities.bounding);
  if (seccomp) spec.linux.seccomp = seccomp;

  if (!cfg.privileged) {
    const masked = [...DEFAULT_MASKED_PATHS, ...(facts.extraMaskedPaths ?? [])];
    for (const p of cfg.maskedPaths ?? []) {
      const n = checkDestination(p);
      if (!masked.includes(n)) masked.push(n);
    }
    spec.linux.maskedPaths = unmask(masked, cfg.unmaskedPaths);
    spec.linux.readonlyPaths = unmask(DEFAULT_READONLY_PATHS, cfg.unmaskedPaths);
  }
  if (cfg.annotations && Object.keys(cfg.annotations).length) spec.annotations = { ...cfg.annotations };
  return spec;
}

/** JSON text of a spec; bigint values (RLIM_INFINITY) are written as exact integers. */
export function serializeRuntimeSpec(spec: OciSpec): string {
  const marker = '\u0000bigint:';
  const text = JSON.stringify(spec, (_k, v: unknown) => (typeof v === 'bigint' ? `${marker}${v.toString()}` : v));
  return text.replace(/"\\u0000bigint:(\d+)"/g, '$1');
}
