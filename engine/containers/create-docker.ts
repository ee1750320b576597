// The Docker ContainerCreate body (Config + HostConfig + NetworkingConfig) as ContainerCreateOptions.
// Lenient where real clients are (null for empty lists, MemorySwappiness -1, LogConfig.Type ""),
// strict on values that would make a broken container: those fail with invalid-argument naming
// the field, before anything is created.
import { baseCreateOptions, namespaceFromMode, type ContainerCreateOptions } from './create-options.js';
import {
  applyBindOptions,
  invalid,
  mountDestination,
  obj,
  type Obj,
  optInt,
  optString,
  optStringList,
  parseBind,
  parseBytes,
  parseDurationNs,
  parseRestartPolicy,
  parseTmpfs,
  signalNumber,
  stringList,
  stringMap,
} from './parse.js';
import { networksFromDocker } from '../networks/requests.js';
import type { DeviceSpec, HealthcheckSpec, MountSpec, UlimitSpec } from './types.js';

const bool = (v: unknown) => v === true;

/** Docker's Config.Healthcheck. */
export function healthFromDocker(field: string, v: unknown): HealthcheckSpec | undefined {
  if (v === undefined || v === null) return undefined;
  const h = obj(field, v);
  const test = stringList(`${field}.Test`, h.Test);
  if (!test.length) return undefined;
  return {
    test,
    interval: parseDurationNs(`${field}.Interval`, h.Interval),
    timeout: parseDurationNs(`${field}.Timeout`, h.Timeout),
    startPeriod: parseDurationNs(`${field}.StartPeriod`, h.StartPeriod),
    retries: optInt(`${field}.Retries`, h.Retries, { min: 0 }) ?? 0,
  };
}

function dockerMounts(v: unknown): MountSpec[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid('HostConfig.Mounts', 'expected a list');
  return v.map((raw, i) => {
    const field = `HostConfig.Mounts[${i}]`;
    const m = obj(field, raw);
    const type = m.Type ?? 'volume';
    const destination = mountDestination(`${field}.Target`, m.Target ?? m.Destination);
    const readonly = bool(m.ReadOnly);
    if (type === 'bind') {
      const source = optString(`${field}.Source`, m.Source) ?? '';
      if (!source.startsWith('/')) throw invalid(`${field}.Source`, `bind mount source "${source}" must be an absolute path`);
      const spec: MountSpec = { type: 'bind', source, destination, readonly, options: [], origin: 'mounts' };
      const bo = obj(`${field}.BindOptions`, m.BindOptions);
      if (bo.Propagation) applyBindOptions(`${field}.BindOptions.Propagation`, spec, [String(bo.Propagation)]);
      if (bo.NonRecursive === true) spec.nonRecursive = true;
      return spec;
    }
    if (type === 'tmpfs') {
      const to = obj(`${field}.TmpfsOptions`, m.TmpfsOptions);
      const spec: MountSpec = { type: 'tmpfs', source: '', destination, readonly, options: [], origin: 'mounts' };
      if (to.SizeBytes !== undefined && to.SizeBytes !== null && to.SizeBytes !== 0) spec.tmpfsSize = parseBytes(`${field}.TmpfsOptions.SizeBytes`, to.SizeBytes);
      if (to.Mode !== undefined && to.Mode !== null && to.Mode !== 0) spec.tmpfsMode = optInt(`${field}.TmpfsOptions.Mode`, to.Mode, { min: 0 });
      return spec;
    }
    if (type === 'volume') {
      const source = optString(`${field}.Source`, m.Source) ?? '';
      const vo = obj(`${field}.VolumeOptions`, m.VolumeOptions);
      const dc = obj(`${field}.VolumeOptions.DriverConfig`, vo.DriverConfig);
      const spec: MountSpec = { type: 'volume', source, destination, readonly, options: [], origin: 'mounts' };
      if (vo.NoCopy === true) spec.nocopy = true;
      const labels = stringMap(`${field}.VolumeOptions.Labels`, vo.Labels);
      const options = stringMap(`${field}.VolumeOptions.DriverConfig.Options`, dc.Options);
      const driver = optString(`${field}.VolumeOptions.DriverConfig.Name`, dc.Name);
      if (Object.keys(labels).length || Object.keys(options).length || driver) spec.volumeCreate = { ...(driver ? { driver } : {}), labels, options };
      return spec;
    }
    throw invalid(`${field}.Type`, `mount type "${String(type)}" is not supported`);
  });
}

function ulimits(field: string, v: unknown): UlimitSpec[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(field, 'expected a list');
  return v.map((raw, i) => {
    const u = obj(`${field}[${i}]`, raw);
    const name = optString(`${field}[${i}].Name`, u.Name);
    if (!name) throw invalid(`${field}[${i}].Name`, 'ulimit name is empty');
    return { name, soft: optInt(`${field}[${i}].Soft`, u.Soft) ?? 0, hard: optInt(`${field}[${i}].Hard`, u.Hard) ?? 0 };
  });
}

function devices(field: string, v: unknown): DeviceSpec[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(field, 'expected a list');
  return v.map((raw, i) => {
    const d = obj(`${field}[${i}]`, raw);
    const pathOnHost = optString(`${field}[${i}].PathOnHost`, d.PathOnHost) ?? '';
    if (!pathOnHost.startsWith('/')) throw invalid(`${field}[${i}].PathOnHost`, `device path "${pathOnHost}" must be absolute`);
    const perms = optString(`${field}[${i}].CgroupPermissions`, d.CgroupPermissions) || 'rwm';
    if (!/^[rwm]{1,3}$/.test(perms)) throw invalid(`${field}[${i}].CgroupPermissions`, `invalid permissions "${perms}"`);
    return { pathOnHost, pathInContainer: optString(`${field}[${i}].PathInContainer`, d.PathInContainer) || pathOnHost, permissions: perms };
  });
}

/** Parses security options: seccomp=unconfined|<path>, no-new-privileges[:true], label=..., apparmor=..., mask/unmask. */
function securityOptions(opts: string[], o: ContainerCreateOptions): void {
  for (const raw of opts) {
    const sep = raw.search(/[=:]/);
    const key = sep < 0 ? raw : raw.slice(0, sep);
    const value = sep < 0 ? '' : raw.slice(sep + 1);
    switch (key) {
      case 'seccomp':
        if (!value) throw invalid('HostConfig.SecurityOpt', `invalid seccomp option "${raw}"`);
        o.seccomp = value === 'unconfined' ? 'unconfined' : value;
        break;
      case 'no-new-privileges':
        o.noNewPrivileges = value === '' || value === 'true';
        if (value !== '' && value !== 'true' && value !== 'false') throw invalid('HostConfig.SecurityOpt', `invalid no-new-privileges value "${value}"`);
        break;
      case 'unmask':
        o.unmask.push(...value.split(':').filter(Boolean));
        break;
      case 'mask':
        o.maskedPaths = [...(o.maskedPaths ?? []), ...value.split(':').filter(Boolean)];
        break;
      case 'label':
      case 'apparmor':
      case 'systempaths':
      case 'proc-opts':
        if (key === 'systempaths' && value === 'unconfined') o.unmask.push('ALL');
        break;
      default:
        throw invalid('HostConfig.SecurityOpt', `invalid security option "${raw}"`);
    }
  }
}

/** The Docker body (and ?name=) as create options. */
export function fromDockerCreate(body: unknown, name?: string): ContainerCreateOptions {
  const c = obj('body', body);
  const image = optString('Image', c.Image);
  if (!image) throw invalid('Image', 'an image is required');
  const h = obj('HostConfig', c.HostConfig);
  const o = baseCreateOptions(image);
  if (name) o.name = name;

  o.hostname = optString('Hostname', c.Hostname) ?? '';
  o.domainname = optString('Domainname', c.Domainname) ?? '';
  const user = optString('User', c.User);
  if (user) o.user = user;
  o.attachStdin = bool(c.AttachStdin);
  o.attachStdout = c.AttachStdout !== false;
  o.attachStderr = c.AttachStderr !== false;
  o.tty = bool(c.Tty);
  o.openStdin = bool(c.OpenStdin);
  o.stdinOnce = bool(c.StdinOnce);
  o.env = stringList('Env', c.Env);
  for (const e of o.env) if (!e || e.startsWith('=')) throw invalid('Env', `invalid environment variable "${e}"`);
  const cmd = optStringList('Cmd', c.Cmd);
  if (cmd && cmd.length) o.cmd = cmd;
  const ep = optStringList('Entrypoint', c.Entrypoint);
  if (ep) o.entrypoint = ep.length === 1 && ep[0] === '' ? [] : ep;
  const wd = optString('WorkingDir', c.WorkingDir);
  if (wd) {
    if (!wd.startsWith('/')) throw invalid('WorkingDir', `the working directory "${wd}" is not an absolute path`);
    o.workingDir = wd;
  }
  o.labels = stringMap('Labels', c.Labels);
  o.exposedPorts = obj('ExposedPorts', c.ExposedPorts) as Record<string, object>;
  o.volumes = obj('Volumes', c.Volumes) as Record<string, object>;
  const stopSignal = optString('StopSignal', c.StopSignal);
  if (stopSignal) {
    signalNumber('StopSignal', stopSignal);
    o.stopSignal = stopSignal;
  }
  const stopTimeout = optInt('StopTimeout', c.StopTimeout);
  if (stopTimeout !== undefined && stopTimeout !== null) o.stopTimeout = stopTimeout < 0 ? 0 : stopTimeout;
  const hc = healthFromDocker('Healthcheck', c.Healthcheck);
  if (hc) o.healthcheck = hc;

  // HostConfig
  o.binds = stringList('HostConfig.Binds', h.Binds);
  o.mounts.push(...o.binds.map((b, i) => parseBind(`HostConfig.Binds[${i}]`, b)));
  o.mounts.push(...dockerMounts(h.Mounts));
  o.tmpfs = stringMap('HostConfig.Tmpfs', h.Tmpfs);
  for (const [dest, opts] of Object.entries(o.tmpfs)) o.mounts.push(parseTmpfs(`HostConfig.Tmpfs[${dest}]`, dest, opts));
  const seen = new Set<string>();
  for (const m of o.mounts) {
    if (seen.has(m.destination)) throw invalid('HostConfig.Mounts', `duplicate mount destination ${m.destination}`);
    seen.add(m.destination);
  }

  o.privileged = bool(h.Privileged);
  o.capAdd = stringList('HostConfig.CapAdd', h.CapAdd);
  o.capDrop = stringList('HostConfig.CapDrop', h.CapDrop);
  o.securityOpt = stringList('HostConfig.SecurityOpt', h.SecurityOpt);
  securityOptions(o.securityOpt, o);
  const masked = optStringList('HostConfig.MaskedPaths', h.MaskedPaths);
  if (masked) o.maskedPaths = [...(o.maskedPaths ?? []), ...masked];
  const ro = optStringList('HostConfig.ReadonlyPaths', h.ReadonlyPaths);
  if (ro) o.readonlyPaths = ro;
  o.readonlyRootfs = bool(h.ReadonlyRootfs);
  o.sysctls = stringMap('HostConfig.Sysctls', h.Sysctls);
  o.ulimits = ulimits('HostConfig.Ulimits', h.Ulimits);
  o.oomScoreAdj = optInt('HostConfig.OomScoreAdj', h.OomScoreAdj) ?? 0;
  if (o.oomScoreAdj < -1000 || o.oomScoreAdj > 1000) throw invalid('HostConfig.OomScoreAdj', `${o.oomScoreAdj} is not between -1000 and 1000`);
  const shm = h.ShmSize === undefined || h.ShmSize === null || h.ShmSize === 0 ? undefined : parseBytes('HostConfig.ShmSize', h.ShmSize);
  if (shm !== undefined) {
    if (shm < 0) throw invalid('HostConfig.ShmSize', 'must be positive');
    o.shmSize = shm;
  }
  o.groupAdd = stringList('HostConfig.GroupAdd', h.GroupAdd);

  // Resources
  const mem = (f: string) => (h[f] === undefined || h[f] === null || h[f] === 0 ? undefined : parseBytes(`HostConfig.${f}`, h[f]));
  const r = o.resources;
  r.memory = mem('Memory');
  if (r.memory !== undefined && r.memory < 0) throw invalid('HostConfig.Memory', 'must be positive');
  if (r.memory !== undefined && r.memory > 0 && r.memory < 6 * 1024 * 1024) throw invalid('HostConfig.Memory', 'minimum memory limit allowed is 6MB');
  r.memorySwap = mem('MemorySwap');
  r.memoryReservation = mem('MemoryReservation');
  const swappiness = optInt('HostConfig.MemorySwappiness', h.MemorySwappiness);
  if (swappiness !== undefined && swappiness !== -1) {
    if (swappiness < 0 || swappiness > 100) throw invalid('HostConfig.MemorySwappiness', `${swappiness} is not between 0 and 100`);
    r.memorySwappiness = swappiness;
  }
  if (h.OomKillDisable === true) r.oomKillDisable = true;
  r.cpuShares = optInt('HostConfig.CpuShares', h.CpuShares, { min: 0 }) || undefined;
  r.cpuQuota = optInt('HostConfig.CpuQuota', h.CpuQuota) || undefined;
  r.cpuPeriod = optInt('HostConfig.CpuPeriod', h.CpuPeriod, { min: 0 }) || undefined;
  r.nanoCpus = optInt('HostConfig.NanoCpus', h.NanoCpus, { min: 0 }) || undefined;
  if (r.nanoCpus && (r.cpuQuota || r.cpuPeriod)) throw invalid('HostConfig.NanoCpus', 'conflicting options: NanoCpus and CpuPeriod/CpuQuota cannot both be set');
  r.cpusetCpus = optString('HostConfig.CpusetCpus', h.CpusetCpus) || undefined;
  if (r.cpusetCpus && !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(r.cpusetCpus)) throw invalid('HostConfig.CpusetCpus', `invalid cpuset "${r.cpusetCpus}"`);
  r.cpusetMems = optString('HostConfig.CpusetMems', h.CpusetMems) || undefined;
  const pids = optInt('HostConfig.PidsLimit', h.PidsLimit);
  if (pids) r.pidsLimit = pids;
  r.blkioWeight = optInt('HostConfig.BlkioWeight', h.BlkioWeight, { min: 0 }) || undefined;
  if (r.blkioWeight && (r.blkioWeight < 10 || r.blkioWeight > 1000)) throw invalid('HostConfig.BlkioWeight', `${r.blkioWeight} is not between 10 and 1000`);
  for (const k of Object.keys(r) as (keyof typeof r)[]) if (r[k] === undefined) delete r[k];

  const init = h.Init;
  o.init = init === true;
  o.cgroupParent = optString('HostConfig.CgroupParent', h.CgroupParent) ?? '';
  o.devices = devices('HostConfig.Devices', h.Devices);

  // Logging
  const lc = obj('HostConfig.LogConfig', h.LogConfig);
  const driver = optString('HostConfig.LogConfig.Type', lc.Type) || 'k8s-file';
  if (!['k8s-file', 'json-file', 'none', 'passthrough'].includes(driver)) {
    throw invalid('HostConfig.LogConfig.Type', `log driver "${driver}" is not supported (k8s-file, json-file, none)`);
  }
  o.logDriver = driver === 'json-file' ? 'k8s-file' : driver;
  o.logOptions = stringMap('HostConfig.LogConfig.Config', lc.Config);
  if (o.logOptions['max-size']) {
    o.logSizeMax = parseBytes('HostConfig.LogConfig.Config.max-size', o.logOptions['max-size']);
    if (o.logSizeMax < 0) throw invalid('HostConfig.LogConfig.Config.max-size', 'must be positive');
  }

  const rp = obj('HostConfig.RestartPolicy', h.RestartPolicy);
  o.restartPolicy = parseRestartPolicy('HostConfig.RestartPolicy', optString('HostConfig.RestartPolicy.Name', rp.Name), optInt('HostConfig.RestartPolicy.MaximumRetryCount', rp.MaximumRetryCount, { min: 0 }));
  o.autoRemove = bool(h.AutoRemove);
  if (o.autoRemove && o.restartPolicy.name !== 'no') throw invalid('HostConfig.AutoRemove', 'conflicting options: AutoRemove and a restart policy other than "no"');

  // Namespaces and network
  const nm = optString('HostConfig.NetworkMode', h.NetworkMode) || 'default';
  o.networkMode = nm === 'default' ? 'bridge' : nm;
  o.netns = namespaceFromMode(nm, 'net');
  if (o.netns.mode === 'private' && !['default', 'bridge', 'private'].includes(nm)) o.networks = [nm];
  const nc = obj('NetworkingConfig', c.NetworkingConfig);
  const endpoints = obj('NetworkingConfig.EndpointsConfig', nc.EndpointsConfig) as Parameters<typeof networksFromDocker>[1];
  if (o.netns.mode === 'private') {
    o.networkRequests = networksFromDocker(nm, endpoints).networks;
    o.networks = Object.keys(o.networkRequests).filter((n) => n !== 'bridge');
  }
  o.pidMode = optString('HostConfig.PidMode', h.PidMode) ?? '';
  o.pidns = namespaceFromMode(o.pidMode, 'pid');
  o.ipcMode = optString('HostConfig.IpcMode', h.IpcMode) ?? '';
  o.ipcns = namespaceFromMode(o.ipcMode, 'ipc');
  o.utsMode = optString('HostConfig.UTSMode', h.UTSMode) ?? '';
  o.utsns = namespaceFromMode(o.utsMode, 'uts');
  if (o.netns.mode === 'host' && o.hostname) throw invalid('Hostname', 'conflicting options: hostname and the network mode host');
  o.dns = stringList('HostConfig.Dns', h.Dns);
  o.dnsSearch = stringList('HostConfig.DnsSearch', h.DnsSearch);
  o.dnsOptions = stringList('HostConfig.DnsOptions', h.DnsOptions);
  o.extraHosts = stringList('HostConfig.ExtraHosts', h.ExtraHosts);
  for (const e of o.extraHosts) if (!/^[^:]+:.+$/.test(e)) throw invalid('HostConfig.ExtraHosts', `invalid host entry "${e}": expected host:ip`);
  o.portBindings = obj('HostConfig.PortBindings', h.PortBindings) as ContainerCreateOptions['portBindings'];
  o.publishAllPorts = bool(h.PublishAllPorts);
  const cs = h.ConsoleSize;
  if (Array.isArray(cs) && cs.length === 2 && Number(cs[0]) > 0 && Number(cs[1]) > 0) o.consoleSize = { height: Number(cs[0]), width: Number(cs[1]) };

  // Echoed back by inspect as given.
  for (const k of ['ContainerIDFile', 'VolumeDriver', 'VolumesFrom', 'Links', 'Isolation', 'Runtime', 'CgroupnsMode', 'UsernsMode', 'Cgroup', 'KernelMemory', 'CpuCount', 'CpuPercent', 'IOMaximumIOps', 'IOMaximumBandwidth', 'BlkioWeightDevice', 'BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'DeviceCgroupRules', 'DeviceRequests', 'CpuRealtimePeriod', 'CpuRealtimeRuntime']) {
    if (h[k] !== undefined && h[k] !== null) o.extra[k] = h[k];
  }
  if (c.MacAddress) o.extra.MacAddress = c.MacAddress;
  return o;
}
