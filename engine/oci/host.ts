// Reads the facts about this host that the runtime-spec builder needs (OciHostFacts): the
// cgroup layout, the capability bounding set, the hard resource limits, the default seccomp
// profile and a few more. Kept apart from runtime-spec.ts so that one stays pure.
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ALL_CAPABILITIES, type OciDeviceRequest, type OciHostFacts } from './runtime-spec.js';
import { goArch, type SeccompProfile } from './seccomp.js';

export const DEFAULT_SECCOMP_PROFILE_PATHS = ['/usr/share/containers/seccomp.json', '/etc/containers/seccomp.json'];
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** True when /sys/fs/cgroup itself is a cgroup2 mount (not a hybrid layout with cgroup2 at .../unified). */
export async function isCgroupV2(root = '/sys/fs/cgroup'): Promise<boolean> {
  try {
    const st = await fsp.statfs(root);
    return Number(st.type) === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/** Capability names of a /proc/<pid>/status Cap* hex mask. */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim()}`);
  return ALL_CAPABILITIES.filter((_c, i) => (mask >> BigInt(i)) & 1n);
}

/** The bounding set of this process (CapBnd in /proc/self/status). */
export async function hostBoundingCaps(): Promise<string[]> {
  try {
    const status = await fsp.readFile('/proc/self/status', 'utf8');
    const m = /^CapBnd:\s*([0-9a-fA-F]+)$/m.exec(status);
    if (m) return capabilitiesFromMask(m[1]!);
  } catch {
    // fall through
  }
  return [...ALL_CAPABILITIES];
}

const LIMITS_NAMES: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

/** Parses /proc/<pid>/limits into hard limits by RLIMIT_ name. */
export function parseProcLimits(text: string): Record<string, number | 'unlimited'> {
  const out: Record<string, number | 'unlimited'> = {};
  for (const line of text.split('\n')) {
    for (const [label, name] of Object.entries(LIMITS_NAMES)) {
      if (!line.startsWith(label + ' ')) continue;
      const fields = line.slice(label.length).trim().split(/\s+/);
      const hard = fields[1];
      if (hard === 'unlimited') out[name] = 'unlimited';
      else if (hard !== undefined && /^\d+$/.test(hard)) out[name] = Number(hard);
    }
  }
  return out;
}

export async function hostHardLimits(): Promise<Record<string, number | 'unlimited'>> {
  try {
    return parseProcLimits(await fsp.readFile('/proc/self/limits', 'utf8'));
  } catch {
    return {};
  }
}

/** The default containers-common seccomp profile, or undefined when the host has none. */
export async function loadSeccompProfile(paths = DEFAULT_SECCOMP_PROFILE_PATHS): Promise<SeccompProfile | undefined> {
  for (const p of paths) {
    let text: string;
    try {
      text = await fsp.readFile(p, 'utf8');
    } catch {
      continue;
    }
    return JSON.parse(text) as SeccompProfile;
  }
  return undefined;
}

/** /sys/devices/system/cpu/cpu<N>/thermal_throttle dirs (masked by Podman). */
async function thermalThrottlePaths(): Promise<string[]> {
  const root = '/sys/devices/system/cpu';
  const out: string[] = [];
  try {
    for (const e of await fsp.readdir(root)) {
      if (!/^cpu/.test(e)) continue;
      const p = path.join(root, e, 'thermal_throttle');
      try {
        await fsp.access(p);
        out.push(p);
      } catch {
        // absent
      }
    }
  } catch {
    // no sysfs
  }
  return out.sort();
}

export interface LoadHostFactsOptions {
  seccompProfilePaths?: string[];
}

export async function loadOciHostFacts(opts: LoadHostFactsOptions = {}): Promise<OciHostFacts> {
  const [cgroupV2, boundingCaps, hardLimits, seccompProfile, extraMaskedPaths] = await Promise.all([
    isCgroupV2(),
    hostBoundingCaps(),
    hostHardLimits(),
    loadSeccompProfile(opts.seccompProfilePaths),
    thermalThrottlePaths(),
  ]);
  const facts: OciHostFacts = {
    cgroupV2,
    arch: goArch(process.arch),
    kernel: os.release(),
    boundingCaps,
    hardLimits,
    extraMaskedPaths,
  };
  if (seccompProfile) facts.seccompProfile = seccompProfile;
  return facts;
}

/**
 * Every character and block device under /dev on the host, for privileged containers (Podman
 * gives them all host devices). Skips /dev/pts, /dev/shm, /dev/mqueue, and the console/ptmx the
 * runtime makes itself.
 */
export async function listHostDevices(root = '/dev'): Promise<OciDeviceRequest[]> {
  const skip = new Set(['/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/console', '/dev/ptmx', '/dev/tty']);
  const out: OciDeviceRequest[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (skip.has(p)) continue;
      if (e.isDirectory()) await walk(p);
      else if (e.isCharacterDevice() || e.isBlockDevice()) {
        try {
          const st = await fsp.stat(p, { bigint: true });
          const rdev = st.rdev;
          const major = Number(((rdev & 0xfff00n) >> 8n) | ((rdev & 0xfffff00000000000n) >> 32n));
          const minor = Number((rdev & 0xffn) | ((rdev & 0xffffff00000n) >> 12n));
          out.push({
            path: p,
            type: e.isCharacterDevice() ? 'c' : 'b',
            major,
            minor,
            fileMode: Number(st.mode & 0o7777n),
            uid: Number(st.uid),
            gid: Number(st.gid),
          });
        } catch {
          // vanished
        }
      }
    }
  };
  await walk(root);
  return out;
}
