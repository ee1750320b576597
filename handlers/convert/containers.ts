// Container reports -> the Docker (v1.40) and Libpod shapes: inspect, list, exec inspect,
// stats, and the human-readable "Up 5 minutes" status Docker lists.
import type { CgroupStats, ContainerReport, ContainerStatsSample, ExecReport, HealthcheckReport } from '../../engine/containers/api.js';
import type { ContainerSpec, ContainerState, MountSpec } from '../../engine/containers/types.js';
import type { PublishedPort } from '../../engine/networks/types.js';
import { toDockerEndpoint } from './networks.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Published ports as NetworkSettings.Ports (exposed but unpublished ports map to null). */
function portMap(ports: PublishedPort[], exposed: string[]): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const key of exposed) out[key.includes('/') ? key : `${key}/tcp`] ??= null;
  for (const p of ports) {
    for (let i = 0; i < p.range; i++) (out[`${p.containerPort + i}/${p.protocol}`] ??= []).push({ HostIp: p.hostIP || '0.0.0.0', HostPort: String(p.hostPort + i) });
  }
  return out;
}
const nsOf = (t: string): number => (t ? Date.parse(t) : 0);
const unixSeconds = (t: string): number => (t ? Math.floor(Date.parse(t) / 1000) : 0);

/** Docker's status word (the State.Status of inspect and State of list). */
export function dockerState(r: ContainerReport): string {
  switch (r.state.status) {
    case 'initialized':
      return 'created';
    case 'stopping':
      return 'running';
    default:
      return r.state.status;
  }
}

/** Libpod's status word. */
export function libpodState(r: ContainerReport): string {
  switch (r.state.status) {
    case 'initialized':
      return 'created';
    case 'exited':
      return r.state.runs > 0 ? 'exited' : 'created';
    default:
      return r.state.status;
  }
}

/** Docker's go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const min = Math.floor(s / 60);
  if (min === 1) return 'About a minute';
  if (min < 60) return `${min} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

/** "Up 5 minutes", "Exited (0) 3 seconds ago", "Created", "Up 2 seconds (Paused)". */
export function dockerStatusText(r: ContainerReport, now = Date.now()): string {
  const st = r.state;
  switch (st.status) {
    case 'running':
    case 'stopping': {
      const health = st.health ? ` (${st.health.status === 'starting' ? 'health: starting' : st.health.status})` : '';
      return `Up ${humanDuration(now - nsOf(st.startedAt))}${health}`;
    }
    case 'paused':
      return `Up ${humanDuration(now - nsOf(st.startedAt))} (Paused)`;
    case 'exited':
      return st.runs > 0 || st.finishedAt ? `Exited (${st.exitCode}) ${humanDuration(now - nsOf(st.finishedAt))} ago` : 'Created';
    case 'removing':
      return 'Removal In Progress';
    default:
      return 'Created';
  }
}

function commandString(spec: ContainerSpec): string {
  return [...spec.entrypoint, ...spec.cmd].join(' ');
}

function dockerPorts(spec: ContainerSpec, state?: ContainerState) {
  const out: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] = [];
  if (state?.net) {
    // Published for this run (host ports resolved), then exposed ports not published.
    const published = new Set<string>();
    for (const p of state.net.ports) {
      for (let i = 0; i < p.range; i++) {
        published.add(`${p.containerPort + i}/${p.protocol}`);
        out.push({ IP: p.hostIP || '0.0.0.0', PrivatePort: p.containerPort + i, PublicPort: p.hostPort + i, Type: p.protocol });
      }
    }
    for (const key of Object.keys(spec.exposedPorts)) {
      const [port, proto = 'tcp'] = key.split('/');
      if (!published.has(`${port}/${proto}`)) out.push({ PrivatePort: Number(port), Type: proto });
    }
    return out;
  }
  for (const key of Object.keys(spec.exposedPorts)) {
    const [port, proto = 'tcp'] = key.split('/');
    const bindings = spec.portBindings[key] ?? [];
    if (!bindings.length) out.push({ PrivatePort: Number(port), Type: proto });
    for (const b of bindings) {
      out.push({ IP: b.HostIp || '0.0.0.0', PrivatePort: Number(port), ...(b.HostPort ? { PublicPort: Number(b.HostPort) } : {}), Type: proto });
    }
  }
  return out;
}

function mountPoints(spec: ContainerSpec) {
  return spec.mounts.map((m: MountSpec) => ({
    Type: m.type,
    ...(m.type === 'volume' ? { Name: m.source, Driver: 'local' } : {}),
    Source: m.type === 'volume' ? (m.volumeMountpoint ?? '') : m.source,
    Destination: m.destination,
    ...(m.type === 'bind' ? { Driver: '' } : {}),
    Mode: m.options.filter((o) => o === 'z' || o === 'Z' || o === 'ro' || o === 'rw').join(','),
    RW: !m.readonly,
    Propagation: m.type === 'bind' ? (m.propagation ?? 'rprivate') : '',
  }));
}

function healthOut(h: ContainerReport['state']['health'] | HealthcheckReport | undefined) {
  if (!h) return undefined;
  const fs = 'failingStreak' in h ? h.failingStreak : 0;
  return { Status: h.status, FailingStreak: fs, Log: h.log };
}

function dockerHealthConfig(spec: ContainerSpec) {
  const h = spec.healthcheck;
  if (!h) return undefined;
  return { Test: h.test, Interval: h.interval, Timeout: h.timeout, StartPeriod: h.startPeriod, Retries: h.retries };
}

function dockerConfig(r: ContainerReport) {
  const s = r.spec;
  const hc = dockerHealthConfig(s);
  return {
    Hostname: r.hostname,
    Domainname: s.domainname,
    User: s.user,
    AttachStdin: s.attachStdin,
    AttachStdout: s.attachStdout,
    AttachStderr: s.attachStderr,
    ...(Object.keys(s.exposedPorts).length ? { ExposedPorts: s.exposedPorts } : {}),
    Tty: s.tty,
    OpenStdin: s.openStdin,
    StdinOnce: s.stdinOnce,
    Env: s.env,
    Cmd: s.cmd.length ? s.cmd : null,
    ...(hc ? { Healthcheck: hc } : {}),
    Image: s.image,
    Volumes: Object.keys(s.volumes).length ? s.volumes : null,
    WorkingDir: s.workingDir,
    Entrypoint: s.entrypoint.length ? s.entrypoint : null,
    OnBuild: null,
    Labels: s.labels,
    StopSignal: s.stopSignalName,
    StopTimeout: s.stopTimeout,
  };
}

function dockerHostConfig(r: ContainerReport) {
  const s = r.spec;
  const res = s.resources;
  const e = s.extra;
  return {
    Binds: s.binds.length ? s.binds : null,
    ContainerIDFile: (e.ContainerIDFile as string) ?? '',
    LogConfig: { Type: s.logDriver, Config: s.logOptions },
    NetworkMode: s.networkMode,
    PortBindings: s.portBindings,
    RestartPolicy: { Name: s.restartPolicy.name === 'no' ? 'no' : s.restartPolicy.name, MaximumRetryCount: s.restartPolicy.maxRetries },
    AutoRemove: s.autoRemove,
    VolumeDriver: (e.VolumeDriver as string) ?? '',
    VolumesFrom: (e.VolumesFrom as string[]) ?? null,
    CapAdd: s.capAdd.length ? s.capAdd : null,
    CapDrop: s.capDrop.length ? s.capDrop : null,
    Dns: s.dns,
    DnsOptions: s.dnsOptions,
    DnsSearch: s.dnsSearch,
    ExtraHosts: s.extraHosts.length ? s.extraHosts : null,
    GroupAdd: s.groupAdd.length ? s.groupAdd : null,
    IpcMode: s.ipcMode || 'private',
    Cgroup: (e.Cgroup as string) ?? '',
    Links: null,
    OomScoreAdj: s.oomScoreAdj,
    PidMode: s.pidMode,
    Privileged: s.privileged,
    PublishAllPorts: s.publishAllPorts,
    ReadonlyRootfs: s.readonlyRootfs,
    SecurityOpt: s.securityOpt.length ? s.securityOpt : null,
    ...(Object.keys(s.tmpfs).length ? { Tmpfs: s.tmpfs } : {}),
    UTSMode: s.utsMode,
    UsernsMode: '',
    ShmSize: s.shmSize,
    Runtime: 'runc',
    ConsoleSize: [s.consoleSize?.height ?? 0, s.consoleSize?.width ?? 0],
    Isolation: '',
    CpuShares: res.cpuShares ?? 0,
    Memory: res.memory ?? 0,
    NanoCpus: res.nanoCpus ?? 0,
    CgroupParent: s.cgroupParent,
    BlkioWeight: res.blkioWeight ?? 0,
    BlkioWeightDevice: null,
    BlkioDeviceReadBps: null,
    BlkioDeviceWriteBps: null,
    BlkioDeviceReadIOps: null,
    BlkioDeviceWriteIOps: null,
    CpuPeriod: res.cpuPeriod ?? 0,
    CpuQuota: res.cpuQuota ?? 0,
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: res.cpusetCpus ?? '',
    CpusetMems: res.cpusetMems ?? '',
    Devices: s.devices.map((d) => ({ PathOnHost: d.pathOnHost, PathInContainer: d.pathInContainer, CgroupPermissions: d.permissions })),
    DeviceCgroupRules: null,
    DeviceRequests: null,
    KernelMemory: 0,
    KernelMemoryTCP: 0,
    MemoryReservation: res.memoryReservation ?? 0,
    MemorySwap: res.memorySwap ?? 0,
    MemorySwappiness: res.memorySwappiness ?? 0,
    OomKillDisable: res.oomKillDisable ?? false,
    Init: s.init,
    PidsLimit: res.pidsLimit ?? 0,
    Ulimits: s.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
    MaskedPaths: s.maskedPaths ?? null,
    ReadonlyPaths: s.readonlyPaths ?? null,
  };
}

function networkSettings(r: ContainerReport) {
  const networks: Record<string, unknown> = {};
  const mode = r.spec.networkMode;
  const net = r.state.net;
  if (net) {
    // Set up for the current run: the real attachments and published ports.
    for (const [name, a] of Object.entries(net.status)) networks[name] = toDockerEndpoint(a, r.id);
    const first = Object.values(net.status)[0];
    const v4 = first?.addresses.find((x) => x.family === 4);
    const v6 = first?.addresses.find((x) => x.family === 6);
    return {
      Bridge: '',
      SandboxID: '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: portMap(net.ports, Object.keys(r.spec.exposedPorts)),
      SandboxKey: r.state.pid ? `/proc/${r.state.pid}/ns/net` : '',
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: '',
      Gateway: v4?.gateway ?? '',
      GlobalIPv6Address: v6?.address ?? '',
      GlobalIPv6PrefixLen: v6?.prefixLength ?? 0,
      IPAddress: v4?.address ?? '',
      IPPrefixLen: v4?.prefixLength ?? 0,
      IPv6Gateway: v6?.gateway ?? '',
      MacAddress: first?.macAddress ?? '',
      Networks: networks,
    };
  }
  if (mode !== 'none' && mode !== 'host' && !mode.startsWith('container:')) {
    for (const n of r.spec.networks.length ? r.spec.networks : [mode === 'bridge' ? 'bridge' : mode]) {
      networks[n] = { IPAMConfig: null, Links: null, Aliases: null, NetworkID: n, EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: '', DriverOpts: null };
    }
  } else if (mode === 'none' || mode === 'host') {
    networks[mode] = { IPAMConfig: null, Links: null, Aliases: null, NetworkID: mode, EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: '', DriverOpts: null };
  }
  const ports: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const key of Object.keys(r.spec.exposedPorts)) ports[key] = r.spec.portBindings[key] ?? null;
  return {
    Bridge: '',
    SandboxID: '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: ports,
    SandboxKey: r.state.pid ? `/proc/${r.state.pid}/ns/net` : '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: '',
    Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    MacAddress: '',
    Networks: networks,
  };
}

const timeOr0 = (t: string) => t || ZERO_TIME;
const execIdsOrNull = (r: ContainerReport) => (r.execIds.length ? r.execIds : null);

/** GET /containers/{id}/json */
export function toDockerInspect(r: ContainerReport) {
  const st = r.state;
  const args = [...r.spec.entrypoint, ...r.spec.cmd];
  const running = st.status === 'running' || st.status === 'paused' || st.status === 'stopping';
  const health = healthOut(st.health);
  return {
    Id: r.id,
    Created: r.created,
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      Status: dockerState(r),
      Running: running,
      Paused: st.status === 'paused',
      Restarting: false,
      OOMKilled: st.oomKilled,
      Dead: false,
      Pid: running ? st.pid : 0,
      ExitCode: st.exitCode,
      Error: st.error,
      StartedAt: timeOr0(st.startedAt),
      FinishedAt: timeOr0(st.finishedAt),
      ...(health ? { Health: health } : {}),
    },
    Image: `sha256:${r.spec.imageId}`,
    ResolvConfPath: r.paths.resolvConfPath,
    HostnamePath: r.paths.hostnamePath,
    HostsPath: r.paths.hostsPath,
    LogPath: r.paths.logPath,
    Name: `/${r.name}`,
    RestartCount: st.restartCount,
    Driver: 'overlay',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: execIdsOrNull(r),
    HostConfig: dockerHostConfig(r),
    GraphDriver: graphDriver(r),
    ...(r.sizeRw !== undefined ? { SizeRw: r.sizeRw } : {}),
    ...(r.sizeRootFs !== undefined ? { SizeRootFs: r.sizeRootFs } : {}),
    Mounts: mountPoints(r.spec),
    Config: dockerConfig(r),
    NetworkSettings: networkSettings(r),
  };
}

function graphDriver(r: ContainerReport) {
  return {
    Name: 'overlay',
    Data: {
      LowerDir: r.spec.lowerDirs.join(':'),
      UpperDir: r.paths.upperDir,
      WorkDir: r.paths.workDir,
      MergedDir: r.paths.rootfs,
    },
  };
}

/** GET /containers/json items. */
export function toDockerListItem(r: ContainerReport, now = Date.now()) {
  return {
    Id: r.id,
    Names: [`/${r.name}`],
    Image: r.spec.image,
    ImageID: `sha256:${r.spec.imageId}`,
    Command: commandString(r.spec),
    Created: unixSeconds(r.created),
    Ports: dockerPorts(r.spec, r.state),
    ...(r.sizeRw !== undefined ? { SizeRw: r.sizeRw, SizeRootFs: r.sizeRootFs } : {}),
    Labels: r.spec.labels,
    State: dockerState(r),
    Status: dockerStatusText(r, now),
    HostConfig: { NetworkMode: r.spec.networkMode },
    NetworkSettings: { Networks: networkSettings(r).Networks },
    Mounts: mountPoints(r.spec),
  };
}

/** GET /libpod/containers/json items. */
export function toLibpodListItem(r: ContainerReport) {
  const st = r.state;
  const ports = st.net
    ? st.net.ports.map((p) => ({ host_ip: p.hostIP, container_port: p.containerPort, host_port: p.hostPort, range: p.range, protocol: p.protocol }))
    : Object.entries(r.spec.portBindings).flatMap(([key, bindings]) => {
        const [port, proto = 'tcp'] = key.split('/');
        return bindings.map((b) => ({ host_ip: b.HostIp, container_port: Number(port), host_port: Number(b.HostPort) || 0, range: 1, protocol: proto }));
      });
  return {
    AutoRemove: r.spec.autoRemove,
    Command: [...r.spec.entrypoint, ...r.spec.cmd],
    Created: r.created,
    CreatedAt: '',
    CIDFile: '',
    Exited: st.status === 'exited',
    ExitedAt: st.finishedAt ? unixSeconds(st.finishedAt) : -62135596800,
    ExitCode: st.exitCode,
    ExposedPorts: Object.keys(r.spec.exposedPorts).length ? Object.fromEntries(Object.keys(r.spec.exposedPorts).map((k) => [k.split('/')[0], [k.split('/')[1] ?? 'tcp']])) : null,
    Id: r.id,
    Image: r.spec.imageName || r.spec.image,
    ImageID: r.spec.imageId,
    IsInfra: false,
    Labels: Object.keys(r.spec.labels).length ? r.spec.labels : null,
    Mounts: r.spec.mounts.map((m) => m.destination),
    Names: [r.name],
    Namespaces: {},
    Networks: r.spec.networks,
    Pid: st.status === 'running' || st.status === 'paused' ? st.pid : 0,
    Pod: '',
    PodName: '',
    Ports: ports.length ? ports : null,
    Restarts: st.restartCount,
    Size: r.sizeRw !== undefined ? { rootFsSize: r.sizeRootFs ?? 0, rwSize: r.sizeRw } : null,
    StartedAt: st.startedAt ? unixSeconds(st.startedAt) : -62135596800,
    State: libpodState(r),
    Status: '',
  };
}

/** Whether a Libpod API version (from the path prefix) is before 5.0 (podman-remote 4.x). */
export function libpodBefore5(version: string | undefined): boolean {
  const major = version ? Number.parseInt(version, 10) : NaN;
  return Number.isInteger(major) && major < 5;
}

/** GET /libpod/containers/{name}/json; Podman 4 clients read Entrypoint as a string and StopSignal as a number. */
export function toLibpodInspect(r: ContainerReport, apiVersion?: string) {
  const v4 = libpodBefore5(apiVersion);
  const d = toDockerInspect(r);
  const st = r.state;
  const s = r.spec;
  const health = healthOut(st.health);
  return {
    Id: r.id,
    Created: r.created,
    Path: d.Path,
    Args: d.Args,
    State: {
      OciVersion: r.ociVersion ?? '1.0.2-dev',
      Status: libpodState(r),
      Running: d.State.Running,
      Paused: d.State.Paused,
      Restarting: false,
      OOMKilled: st.oomKilled,
      Dead: false,
      Pid: d.State.Pid,
      ConmonPid: st.conmonPid,
      ExitCode: st.exitCode,
      Error: st.error,
      StartedAt: timeOr0(st.startedAt),
      FinishedAt: timeOr0(st.finishedAt),
      ...(health ? { Health: health } : {}),
      Checkpointed: st.checkpointed ?? false,
      ...(st.checkpointedAt ? { CheckpointedAt: st.checkpointedAt } : {}),
      ...(st.checkpointPath ? { CheckpointPath: st.checkpointPath } : {}),
      ...(st.checkpointLog ? { CheckpointLog: st.checkpointLog } : {}),
      ...(st.restored ? { Restored: true, RestoredAt: st.restoredAt } : {}),
      ...(st.restoreLog ? { RestoreLog: st.restoreLog } : {}),
      CgroupPath: r.cgroupPath ?? '',
      StoppedByUser: st.stoppedByUser,
    },
    Image: s.imageId,
    ImageDigest: s.imageDigest ?? '',
    ImageName: s.imageName || s.image,
    Rootfs: '',
    Pod: '',
    ResolvConfPath: r.paths.resolvConfPath,
    HostnamePath: r.paths.hostnamePath,
    HostsPath: r.paths.hostsPath,
    StaticDir: r.paths.userdata,
    OCIConfigPath: r.paths.configPath,
    OCIRuntime: 'runc',
    ConmonPidFile: r.paths.conmonPidFile,
    PidFile: r.paths.pidFile,
    Name: r.name,
    RestartCount: st.restartCount,
    Driver: 'overlay',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    EffectiveCaps: r.effectiveCaps ?? null,
    BoundingCaps: r.boundingCaps ?? null,
    ExecIDs: r.execIds,
    GraphDriver: graphDriver(r),
    ...(r.sizeRw !== undefined ? { SizeRw: r.sizeRw, SizeRootFs: r.sizeRootFs ?? 0 } : {}),
    Mounts: d.Mounts,
    Dependencies: [],
    NetworkSettings: d.NetworkSettings,
    Namespace: '',
    IsInfra: false,
    IsService: false,
    KubeExitCodePropagation: 'invalid',
    lockNumber: 0,
    Config: {
      Hostname: r.hostname,
      Domainname: s.domainname,
      User: s.user,
      AttachStdin: s.attachStdin,
      AttachStdout: s.attachStdout,
      AttachStderr: s.attachStderr,
      Tty: s.tty,
      OpenStdin: s.openStdin,
      StdinOnce: s.stdinOnce,
      Env: s.env,
      Cmd: s.cmd,
      Image: s.imageName || s.image,
      Volumes: null,
      WorkingDir: s.workingDir,
      Entrypoint: v4 ? s.entrypoint.join(' ') : s.entrypoint,
      OnBuild: v4 ? null : '',
      Labels: s.labels,
      Annotations: s.annotations,
      StopSignal: v4 ? s.stopSignal : s.stopSignalName,
      StopTimeout: s.stopTimeout,
      ...(s.healthcheck ? { Healthcheck: dockerHealthConfig(s) } : {}),
      CreateCommand: s.createCommand ?? [],
      ...(s.secrets?.length ? { Secrets: s.secrets.map((x) => ({ Name: x.name, ID: x.id, UID: x.uid, GID: x.gid, Mode: x.mode })) } : {}),
      Umask: s.umask ?? '0022',
      Timeout: s.timeout,
      Passwd: true,
      sdNotifyMode: 'container',
    },
    HostConfig: {
      ...d.HostConfig,
      Binds: s.binds,
      CapAdd: s.capAdd,
      CapDrop: s.capDrop,
      Dns: s.dns,
      ExtraHosts: s.extraHosts,
      GroupAdd: s.groupAdd,
      SecurityOpt: s.securityOpt,
      Tmpfs: s.tmpfs,
      RestartPolicy: { Name: s.restartPolicy.name === 'no' ? '' : s.restartPolicy.name, MaximumRetryCount: s.restartPolicy.maxRetries },
      CgroupManager: 'cgroupfs',
      CgroupMode: 'private',
      Cgroups: 'default',
      Links: [],
      VolumesFrom: [],
      Devices: [],
      BlkioWeightDevice: [],
      BlkioDeviceReadBps: [],
      BlkioDeviceWriteBps: [],
      BlkioDeviceReadIOps: [],
      BlkioDeviceWriteIOps: [],
      DeviceCgroupRules: undefined,
      DeviceRequests: undefined,
      MaskedPaths: undefined,
      ReadonlyPaths: undefined,
      Annotations: s.annotations,
      IDMappings: {},
    },
  };
}

export function toDockerExecInspect(e: ExecReport) {
  return {
    CanRemove: e.canRemove,
    ContainerID: e.containerId,
    DetachKeys: e.config.detachKeys,
    ExitCode: e.exitCode ?? 0,
    ID: e.id,
    OpenStderr: e.config.attachStderr,
    OpenStdin: e.config.attachStdin,
    OpenStdout: e.config.attachStdout,
    ProcessConfig: {
      arguments: e.config.cmd.slice(1),
      entrypoint: e.config.cmd[0] ?? '',
      privileged: e.config.privileged,
      tty: e.config.tty,
      user: e.config.user,
    },
    Running: e.running,
    Pid: e.pid,
  };
}

export function toLibpodExecInspect(e: ExecReport) {
  return { ...toDockerExecInspect(e), ProcessConfig: { ...toDockerExecInspect(e).ProcessConfig, workDir: e.config.workingDir, env: e.config.env } };
}

function dockerCpu(c: CgroupStats) {
  return {
    cpu_usage: { total_usage: c.cpuTotal, percpu_usage: c.perCpu, usage_in_kernelmode: c.cpuKernel, usage_in_usermode: c.cpuUser },
    system_cpu_usage: c.systemCpu,
    online_cpus: c.onlineCpus,
    throttling_data: { periods: c.throttling.periods, throttled_periods: c.throttling.throttledPeriods, throttled_time: c.throttling.throttledTime },
  };
}

const isoOfNano = (ns: bigint) => (ns ? new Date(Number(ns / 1_000_000n)).toISOString() : ZERO_TIME);

/** Docker's stats JSON (also served by Libpod's per-container stats). */
export function toDockerStats(s: ContainerStatsSample) {
  const c = s.cur;
  const networks = Object.fromEntries(
    Object.entries(c.networks).map(([k, n]) => [k, { rx_bytes: n.rxBytes, rx_packets: n.rxPackets, rx_errors: n.rxErrors, rx_dropped: n.rxDropped, tx_bytes: n.txBytes, tx_packets: n.txPackets, tx_errors: n.txErrors, tx_dropped: n.txDropped }]),
  );
  return {
    read: isoOfNano(c.readNano),
    preread: isoOfNano(s.pre.readNano),
    pids_stats: { current: c.pids, ...(c.pidsLimit ? { limit: c.pidsLimit } : {}) },
    blkio_stats: {
      io_service_bytes_recursive: c.blkio.map((b) => ({ major: b.major, minor: b.minor, op: b.op, value: b.value })),
      io_serviced_recursive: null,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: dockerCpu(c),
    precpu_stats: dockerCpu(s.pre),
    memory_stats: s.running ? { usage: c.memoryUsage, max_usage: c.memoryMaxUsage, stats: c.memoryStats, limit: c.memoryLimit } : {},
    name: `/${s.name}`,
    id: s.id,
    ...(Object.keys(networks).length ? { networks } : {}),
  };
}

/** One entry of Libpod's /containers/stats. */
export function toLibpodStats(s: ContainerStatsSample) {
  const c = s.cur;
  const p = s.pre;
  const cpuDelta = c.cpuTotal - p.cpuTotal;
  const sysDelta = c.systemCpu - p.systemCpu;
  const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * (c.onlineCpus || 1) * 100 : 0;
  const upNs = Math.round(s.upSeconds * 1e9);
  const blkIn = c.blkio.filter((b) => /read/i.test(b.op)).reduce((n, b) => n + b.value, 0);
  const blkOut = c.blkio.filter((b) => /write/i.test(b.op)).reduce((n, b) => n + b.value, 0);
  return {
    AvgCPU: upNs > 0 ? (c.cpuTotal / upNs) * 100 : 0,
    ContainerID: s.id,
    Name: s.name,
    PerCPU: c.perCpu,
    CPU: cpu,
    CPUNano: c.cpuTotal,
    CPUSystemNano: c.cpuKernel,
    SystemNano: Number(c.readNano),
    MemUsage: c.memoryUsage,
    MemLimit: c.memoryLimit,
    MemPerc: c.memoryLimit ? (c.memoryUsage / c.memoryLimit) * 100 : 0,
    Network: Object.fromEntries(Object.entries(c.networks).map(([k, n]) => [k, { RxBytes: n.rxBytes, RxPackets: n.rxPackets, RxErrors: n.rxErrors, RxDropped: n.rxDropped, TxBytes: n.txBytes, TxPackets: n.txPackets, TxErrors: n.txErrors, TxDropped: n.txDropped }])),
    // Podman 4's totals (podman-remote 4.x shows NET IO from these; 5.x reads Network).
    NetInput: Object.values(c.networks).reduce((n, x) => n + x.rxBytes, 0),
    NetOutput: Object.values(c.networks).reduce((n, x) => n + x.txBytes, 0),
    BlockInput: blkIn,
    BlockOutput: blkOut,
    PIDs: c.pids,
    UpTime: upNs,
    Duration: upNs,
  };
}

export function toHealthcheck(h: HealthcheckReport) {
  return { Status: h.status, FailingStreak: h.failingStreak, Log: h.log };
}
