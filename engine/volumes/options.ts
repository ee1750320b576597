// Volume names and the local driver's options, checked at create so that a bad volume is never
// stored: Docker's `type`, `device` and `o` (mount(8)'s -t, device and -o), plus Podman's
// additions inside `o` (uid=, gid= for the volume's owner; size=, inodes= only on tmpfs, since
// tspod sets no project quotas; noquota, timeout accepted) and `nocopy` (never copy image
// content in). Pure functions: nothing here touches the host but the existence check of a bind
// source.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../errors.js';

export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_NAME = 255;

const invalid = (message: string) => new EngineError('invalid-argument', message);

export function checkVolumeName(name: string): void {
  if (!VOLUME_NAME.test(name)) {
    throw invalid(`invalid volume name ${JSON.stringify(name)}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
  }
  if (name.length > MAX_NAME) throw invalid(`invalid volume name: longer than ${MAX_NAME} characters`);
}

/** How a volume with options is mounted on its _data directory. */
export interface MountPlan {
  /** `-t` value; undefined for bind mounts (and a device without a type: mount(8) probes). */
  type?: string;
  device: string;
  /** `-o` value (may be empty). */
  data: string;
  bind: boolean;
}

export interface LocalOptions {
  /** Undefined: a plain directory under the storage root. */
  mount?: MountPlan;
  uid: number;
  gid: number;
  /** uid= or gid= was given (the owner is fixed: no chown to the container's user). */
  ownerFixed: boolean;
  nocopy: boolean;
}

const KEYS = new Set(['type', 'device', 'o', 'nocopy', 'copy']);
const GENERIC_FLAGS = new Set([
  'ro', 'rw', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'sync', 'async', 'dirsync', 'noatime', 'atime',
  'relatime', 'norelatime', 'strictatime', 'nostrictatime', 'nodiratime', 'diratime', 'lazytime', 'nolazytime',
  'silent', 'loud', 'mand', 'nomand', 'defaults', 'iversion', 'noiversion', 'private', 'rprivate', 'shared',
  'rshared', 'slave', 'rslave', 'unbindable', 'runbindable',
]);
// Options that would turn the mount into something else than a new mount of the volume.
const FORBIDDEN = new Set(['remount', 'move', 'make-private', 'make-shared', 'make-slave', 'make-unbindable', 'owner', 'user', 'users', 'X-mount.mkdir']);
const TMPFS_VALUED = new Set(['size', 'nr_blocks', 'nr_inodes', 'mode', 'uid', 'gid', 'huge', 'mpol', 'inodes']);
const TMPFS_FLAGS = new Set(['noswap', 'inode32', 'inode64', 'quota', 'usrquota', 'grpquota', 'noquota']);
const HUGE = new Set(['never', 'always', 'within_size', 'advise', 'deny', 'force']);

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * A tmpfs size as the kernel takes it: bytes with an optional k/m/g/t/p/e suffix, or a
 * percentage of RAM. Human forms (100MB, 1.5GiB, 512 kb) become plain bytes (binary units, as
 * Docker's RAMInBytes). Throws on anything else.
 */
export function tmpfsSize(value: string, what = 'size'): string {
  const v = value.trim();
  if (/^\d+[kKmMgGtTpPeE]?$/.test(v) || /^\d+%$/.test(v)) return v;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i.exec(v);
  if (m && !(m[2] === '' && m[1]!.includes('.'))) {
    const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
    if (Number.isSafeInteger(bytes)) return String(bytes);
  }
  throw invalid(`invalid tmpfs ${what} ${JSON.stringify(value)}: expected bytes with an optional k, m, g suffix (64m) or a percentage of memory (50%)`);
}

function parseId(what: 'uid' | 'gid', value: string | undefined): number {
  if (value === undefined || !/^\d+$/.test(value) || Number(value) > 0xffffffff) {
    throw invalid(`invalid volume option o=${what}=${value ?? ''}: ${what} must be a number`);
  }
  return Number(value);
}

/**
 * Checks the options of a `local` volume and says how it is mounted. Keys are matched without
 * regard to case (as Podman). Throws invalid-argument naming the offending option.
 */
export function parseLocalOptions(options: Record<string, string>): LocalOptions {
  const norm: Record<string, string> = {};
  for (const [k, v] of Object.entries(options)) {
    const key = k.toLowerCase();
    if (!KEYS.has(key)) throw invalid(`invalid option ${JSON.stringify(k)} for volume driver "local": the options are type, device and o`);
    norm[key] = v;
  }
  const out: LocalOptions = { uid: 0, gid: 0, ownerFixed: false, nocopy: 'nocopy' in norm && norm.nocopy !== 'false' };
  const type = norm.type?.trim() || undefined;
  const device = norm.device?.trim() || undefined;
  const oItems = (norm.o ?? '').split(',').map((s) => s.trim()).filter(Boolean);

  if (type !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9._+-]*$/.test(type)) throw invalid(`invalid volume option type=${JSON.stringify(type)}: not a file system type`);
  if (device !== undefined && device.startsWith('-')) throw invalid(`invalid volume option device=${JSON.stringify(device)}: a device cannot start with "-"`);

  const data: string[] = [];
  let bind = type === 'bind';
  const tmpfs = type === 'tmpfs';
  for (const item of oItems) {
    const eq = item.indexOf('=');
    const key = (eq < 0 ? item : item.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? undefined : item.slice(eq + 1);
    if (FORBIDDEN.has(key)) throw invalid(`invalid volume option o=${item}: not allowed for a volume`);
    if (key === 'bind' || key === 'rbind') {
      bind = true;
      data.push(key);
      continue;
    }
    if (key === 'uid' || key === 'gid') {
      out[key] = parseId(key, value);
      out.ownerFixed = true;
      data.push(`${key}=${out[key]}`);
      continue;
    }
    if (key === 'noquota' || key === 'timeout') {
      if (key === 'timeout' && (value === undefined || !/^\d+$/.test(value))) throw invalid(`invalid volume option o=${item}: timeout must be a number of seconds`);
      continue; // Podman's, with no meaning for tspod's local driver
    }
    if ((key === 'size' || key === 'inodes') && !tmpfs) {
      throw invalid(`invalid volume option o=${item}: ${key} is only supported with type=tmpfs (tspod sets no project quotas)`);
    }
    if (tmpfs) {
      if (TMPFS_VALUED.has(key)) {
        if (value === undefined || value === '') throw invalid(`invalid tmpfs option o=${item}: ${key} needs a value`);
        if (key === 'size' || key === 'nr_blocks') data.push(`${key}=${tmpfsSize(value, key)}`);
        else if (key === 'nr_inodes' || key === 'inodes') data.push(`nr_inodes=${tmpfsSize(value, key)}`);
        else if (key === 'mode') {
          if (!/^0?[0-7]{1,4}$/.test(value)) throw invalid(`invalid tmpfs option o=${item}: mode must be octal (1777)`);
          data.push(`mode=${value}`);
        } else if (key === 'huge') {
          if (!HUGE.has(value)) throw invalid(`invalid tmpfs option o=${item}: huge is one of ${[...HUGE].join(', ')}`);
          data.push(item);
        } else data.push(item);
        continue;
      }
      if (value === undefined && (TMPFS_FLAGS.has(key) || GENERIC_FLAGS.has(key))) {
        data.push(item);
        continue;
      }
      throw invalid(`invalid tmpfs option o=${item}: tmpfs takes size, nr_inodes, mode, uid, gid, huge, mpol and the generic mount flags`);
    }
    if (/[\s\\]/.test(item)) throw invalid(`invalid volume option o=${JSON.stringify(item)}`);
    data.push(item);
  }

  const needsMount = type !== undefined || device !== undefined || bind || data.some((d) => !/^(uid|gid)=/.test(d));
  if (!needsMount) return out; // plain directory, owned by uid:gid
  if (bind) {
    if (!device) throw invalid('volume option o=bind needs device=<host directory>');
    if (!path.isAbsolute(device)) throw invalid(`volume option device=${JSON.stringify(device)}: a bind source must be an absolute path`);
    let st: fs.Stats;
    try {
      st = fs.statSync(device);
    } catch (e) {
      throw invalid(`invalid volume option device=${device}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
    if (!st.isDirectory()) throw invalid(`invalid volume option device=${device}: not a directory`);
    const bindData = data.filter((d) => !/^(uid|gid)=/.test(d)); // meaningless to a bind mount
    if (!bindData.includes('bind') && !bindData.includes('rbind')) bindData.unshift('bind');
    out.mount = { device, data: bindData.join(','), bind: true };
  } else {
    if (!type && !device) throw invalid(`volume option o=${norm.o} needs type= (and device=) to mount`);
    if (type === 'none') throw invalid('volume option type=none needs o=bind (a bind mount of device=<host directory>)');
    if (!device && type !== 'tmpfs') throw invalid(`volume option type=${type} needs device=`);
    out.mount = { type, device: device ?? type!, data: data.join(','), bind: false };
  }
  if (out.mount.data.length > 4095) throw invalid('volume option o is longer than the kernel takes (4095 bytes)');
  return out;
}

/** mount(8) arguments for a plan: `mount [-t type] [-o data] device target`. */
export function mountArgs(plan: MountPlan, target: string): string[] {
  const args: string[] = [];
  if (plan.type && !plan.bind && plan.type !== 'none') args.push('-t', plan.type);
  if (plan.data) args.push('-o', plan.data);
  args.push('--', plan.device, target);
  return args;
}
