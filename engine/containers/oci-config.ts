// From a stored ContainerSpec to the runtime-spec builder's input (OciContainerConfig). The
// facts that need the mounted rootfs or other containers (user, namespace paths, devices) are
// resolved by the caller and passed in.
import { promises as fsp } from 'node:fs';
import { EngineError } from '../errors.js';
import { findExecutable } from '../oci/runc.js';
import type { OciContainerConfig, OciDeviceRequest, OciMountRequest, OciNamespaceMode, OciNamespaces } from '../oci/runtime-spec.js';
import type { SeccompProfile } from '../oci/seccomp.js';
import type { Layout } from './layout.js';
import type { ExecUser } from './rootfs.js';
import { secretRunDirFiles } from './secrets.js';
import { containerArgs } from './spec.js';
import type { ContainerRecord, NamespaceChoice } from './types.js';

export const INIT_PATH_IN_CONTAINER = '/run/podman-init';

/** PID of a running container, by ID or name (for container:<x> namespaces). */
export type PidOf = (ref: string) => number;

function nsMode(choice: NamespaceChoice, type: string, pidOf: PidOf): OciNamespaceMode {
  switch (choice.mode) {
    case 'host':
      return 'host';
    case 'container':
      return { path: `/proc/${pidOf(choice.id)}/ns/${type}` };
    case 'path':
      return { path: choice.path };
    default:
      return 'private';
  }
}

async function deviceRequests(rec: ContainerRecord): Promise<OciDeviceRequest[]> {
  const out: OciDeviceRequest[] = [];
  for (const d of rec.spec.devices) {
    let st;
    try {
      st = await fsp.stat(d.pathOnHost, { bigint: true });
    } catch {
      throw new EngineError('invalid-argument', `device ${d.pathOnHost} does not exist on the host`);
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) throw new EngineError('invalid-argument', `${d.pathOnHost} is not a device`);
    const rdev = st.rdev;
    out.push({
      path: d.pathInContainer,
      type: st.isCharacterDevice() ? 'c' : 'b',
      major: Number(((rdev & 0xfff00n) >> 8n) | ((rdev & 0xfffff00000000000n) >> 32n)),
      minor: Number((rdev & 0xffn) | ((rdev & 0xffffff00000n) >> 12n)),
      fileMode: Number(st.mode & 0o777n),
      uid: 0,
      gid: 0,
      access: d.permissions,
    });
  }
  return out;
}

async function loadSeccomp(spec: string): Promise<'default' | 'unconfined' | SeccompProfile> {
  if (spec === 'default' || spec === 'unconfined') return spec;
  try {
    return JSON.parse(await fsp.readFile(spec, 'utf8')) as SeccompProfile;
  } catch (err) {
    throw new EngineError('invalid-argument', `cannot load seccomp profile ${spec}: ${(err as Error).message}`);
  }
}

export interface OciConfigInputs {
  rootfs: string;
  user: ExecUser;
  hostname: string;
  pidOf: PidOf;
  /** Host directories of the container's volumes, by destination. */
  volumeSources?: Map<string, string>;
  /** The network namespace the networks domain set up ('' = the host's). */
  netnsPath?: string;
  /** NAME=value of the env secrets, read at this start; they override the spec's variables. */
  secretEnv?: string[];
}

export async function ociConfigFor(layout: Layout, rec: ContainerRecord, inp: OciConfigInputs): Promise<OciContainerConfig> {
  const s = rec.spec;
  let args = containerArgs(s);
  if (!args.length) throw new EngineError('invalid-argument', 'no command or entrypoint provided, and no CMD or ENTRYPOINT from image');
  const mounts: OciMountRequest[] = [];
  if (s.init) {
    const init = s.initPath || findExecutable('catatonit') || '/usr/libexec/podman/catatonit';
    try {
      await fsp.access(init);
    } catch {
      throw new EngineError('internal', `container-init binary not found on the host: ${init} (install catatonit)`);
    }
    mounts.push({ type: 'bind', source: init, destination: INIT_PATH_IN_CONTAINER, readonly: true, recursive: false });
    args = [INIT_PATH_IN_CONTAINER, '--', ...args];
  }
  for (const m of s.mounts) {
    if (m.type === 'bind') {
      try {
        await fsp.stat(m.source);
      } catch {
        throw new EngineError('invalid-argument', `statfs ${m.source}: no such file or directory`);
      }
      mounts.push({ type: 'bind', source: m.source, destination: m.destination, readonly: m.readonly, propagation: m.propagation ?? 'rprivate', recursive: !m.nonRecursive });
    } else if (m.type === 'tmpfs') {
      mounts.push({ type: 'tmpfs', destination: m.destination, readonly: m.readonly, ...(m.tmpfsSize ? { size: m.tmpfsSize } : {}), ...(m.tmpfsMode !== undefined ? { mode: m.tmpfsMode } : {}), options: m.options.filter((o) => !['rw', 'ro'].includes(o)) });
    } else {
      const source = inp.volumeSources?.get(m.destination);
      if (!source) throw new EngineError('not-implemented', `volume mounts (${m.source || 'anonymous'}:${m.destination}) need the volumes domain`);
      mounts.push({ type: 'bind', source, destination: m.destination, readonly: m.readonly, propagation: 'rprivate', recursive: true });
    }
  }
  const secretKeys = new Set((inp.secretEnv ?? []).map((e) => e.slice(0, e.indexOf('='))));
  const env = [...s.env.filter((e) => !secretKeys.has(e.split('=')[0]!)), ...(inp.secretEnv ?? [])];
  const has = (k: string) => env.some((e) => e.startsWith(`${k}=`));
  if (!has('HOSTNAME')) env.push(`HOSTNAME=${inp.hostname}`);
  if (!has('HOME')) env.push(`HOME=${inp.user.home}`);
  if (!has('container')) env.push('container=podman');
  if (s.tty && !has('TERM')) env.push('TERM=xterm');

  const namespaces: OciNamespaces = {
    pid: nsMode(s.pidns, 'pid', inp.pidOf),
    ipc: nsMode(s.ipcns, 'ipc', inp.pidOf),
    uts: nsMode(s.utsns, 'uts', inp.pidOf),
    network:
      inp.netnsPath !== undefined
        ? inp.netnsPath === ''
          ? 'host'
          : { path: inp.netnsPath }
        : nsMode(s.netns.mode === 'none' ? { mode: 'private' } : s.netns, 'net', inp.pidOf),
  };
  const runDirFiles = [
    { source: layout.resolvConfPath(rec.id), destination: '/etc/resolv.conf' },
    { source: layout.hostsPath(rec.id), destination: '/etc/hosts' },
    { source: layout.hostnamePath(rec.id), destination: '/etc/hostname' },
    ...secretRunDirFiles(layout, rec.id, s),
  ].filter((f) => !s.mounts.some((m) => m.destination === f.destination));

  const r = s.resources;
  let cpuQuota = r.cpuQuota;
  let cpuPeriod = r.cpuPeriod;
  if (r.nanoCpus) {
    cpuPeriod = 100_000;
    cpuQuota = Math.round((r.nanoCpus * cpuPeriod) / 1e9);
  }
  const cfg: OciContainerConfig = {
    id: rec.id,
    rootfs: inp.rootfs,
    readonlyRootfs: s.readonlyRootfs,
    args,
    env,
    cwd: s.workingDir || '/',
    user: { uid: inp.user.uid, gid: inp.user.gid, additionalGids: inp.user.additionalGids, ...(s.umask ? { umask: parseInt(s.umask, 8) } : {}) },
    terminal: s.tty,
    ...(s.tty && s.consoleSize ? { consoleSize: s.consoleSize } : {}),
    hostname: inp.hostname,
    privileged: s.privileged,
    capAdd: s.capAdd,
    capDrop: s.capDrop,
    noNewPrivileges: s.noNewPrivileges,
    seccomp: await loadSeccomp(s.seccomp),
    maskedPaths: s.maskedPaths,
    unmaskedPaths: s.unmask.some((u) => u.toUpperCase() === 'ALL') ? 'all' : s.unmask,
    sysctls: s.sysctls,
    rlimits: s.ulimits.map((u) => ({ type: u.name, soft: u.soft, hard: u.hard })),
    oomScoreAdj: s.oomScoreAdj || undefined,
    shmSize: s.shmSize,
    mounts,
    runDirFiles,
    namespaces,
    resources: {
      memory: r.memory,
      memorySwap: r.memorySwap,
      memoryReservation: r.memoryReservation,
      memorySwappiness: r.memorySwappiness,
      oomKillDisable: r.oomKillDisable,
      cpuShares: r.cpuShares,
      cpuQuota,
      cpuPeriod,
      cpusetCpus: r.cpusetCpus,
      cpusetMems: r.cpusetMems,
      pidsLimit: r.pidsLimit,
      blkioWeight: r.blkioWeight,
    },
    ...(s.cgroupParent ? { cgroupParent: s.cgroupParent.startsWith('/') ? s.cgroupParent : `/${s.cgroupParent}` } : {}),
    devices: await deviceRequests(rec),
    annotations: { ...s.annotations, 'io.container.manager': 'libpod', 'org.opencontainers.image.stopSignal': String(s.stopSignal) },
  };
  return cfg;
}
