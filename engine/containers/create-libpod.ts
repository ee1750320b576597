// The Libpod SpecGenerator (POST /libpod/containers/create) as ContainerCreateOptions.
import { baseCreateOptions, type ContainerCreateOptions } from './create-options.js';
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
import { networksFromLibpod } from '../networks/requests.js';
import type { MountSpec, NamespaceChoice } from './types.js';


function namespace(field: string, v: unknown, kind: 'net' | 'pid' | 'ipc' | 'uts'): { ns: NamespaceChoice; mode: string } {
  const n = obj(field, v);
  const mode = optString(`${field}.nsmode`, n.nsmode) ?? '';
  const value = optString(`${field}.value`, n.value) ?? '';
  switch (mode) {
    case '':
    case 'default':
    case 'private':
    case 'bridge':
    case 'slirp4netns':
    case 'pasta':
    case 'shareable':
      return { ns: { mode: 'private' }, mode: mode === 'default' ? '' : mode };
    case 'host':
      return { ns: { mode: 'host' }, mode: 'host' };
    case 'none':
    case 'nonetwork':
      return kind === 'net' ? { ns: { mode: 'none' }, mode: 'none' } : { ns: { mode: 'private' }, mode: 'private' };
    case 'container':
      if (!value) throw invalid(`${field}.value`, 'a container is required with nsmode container');
      return { ns: { mode: 'container', id: value }, mode: `container:${value}` };
    case 'path':
      if (!value.startsWith('/')) throw invalid(`${field}.value`, `namespace path "${value}" must be absolute`);
      return { ns: { mode: 'path', path: value }, mode: `ns:${value}` };
    default:
      throw invalid(`${field}.nsmode`, `unsupported namespace mode "${mode}"`);
  }
}

function libpodMounts(v: unknown): MountSpec[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid('mounts', 'expected a list');
  return v.map((raw, i) => {
    const field = `mounts[${i}]`;
    const m = obj(field, raw);
    const type = optString(`${field}.type`, m.type) ?? 'bind';
    const destination = mountDestination(`${field}.destination`, m.destination ?? m.Destination ?? m.target);
    const options = stringList(`${field}.options`, m.options);
    if (type === 'bind') {
      const source = optString(`${field}.source`, m.source) ?? '';
      if (!source.startsWith('/')) throw invalid(`${field}.source`, `bind mount source "${source}" must be an absolute path`);
      const spec: MountSpec = { type: 'bind', source, destination, readonly: false, options, origin: 'mounts' };
      applyBindOptions(field, spec, options);
      return spec;
    }
    if (type === 'tmpfs') return { ...parseTmpfs(field, destination, options.join(',')), origin: 'mounts' };
    throw invalid(`${field}.type`, `mount type "${type}" is not supported`);
  });
}

const UINT32_MAX = 0xffff_ffff;

/** SpecGenerator `secrets`: [{Source, Target, UID, GID, Mode}], as Podman's specgen.Secret. */
function libpodSecrets(v: unknown): ContainerCreateOptions['secrets'] {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw invalid('secrets', 'expected a list');
  return v.map((raw, i) => {
    const f = `secrets[${i}]`;
    const s = obj(f, raw);
    const source = optString(`${f}.Source`, s.Source) ?? '';
    if (!source) throw invalid(`${f}.Source`, 'a secret name or ID is required');
    const id = (k: 'UID' | 'GID' | 'Mode') => {
      const n = optInt(`${f}.${k}`, s[k], { min: 0 }) ?? 0;
      if (n > UINT32_MAX) throw invalid(`${f}.${k}`, `${n} is not a uint32`);
      return n;
    };
    const mode = id('Mode');
    if (mode > 0o7777) throw invalid(`${f}.Mode`, `mode ${mode.toString(8)} is not a file mode`);
    return { source, target: optString(`${f}.Target`, s.Target) ?? '', uid: id('UID'), gid: id('GID'), mode };
  });
}

/** The SpecGenerator body as create options. */
export function fromSpecGenerator(body: unknown): ContainerCreateOptions {
  const s = obj('body', body);
  const image = optString('image', s.image) || optString('raw_image_name', s.raw_image_name);
  if (!image) throw invalid('image', 'an image is required');
  const o = baseCreateOptions(image);
  const name = optString('name', s.name);
  if (name) o.name = name;

  const cmd = optStringList('command', s.command);
  if (cmd && cmd.length) o.cmd = cmd;
  const ep = optStringList('entrypoint', s.entrypoint);
  if (ep) o.entrypoint = ep;
  o.env = Object.entries(stringMap('env', s.env)).map(([k, v]) => `${k}=${v}`);
  for (const e of stringList('envmerge', s.envmerge)) o.env.push(e);
  if (s.unsetenvall === true) o.noImageEnv = true;
  o.unsetEnv = stringList('unsetenv', s.unsetenv);
  o.labels = stringMap('labels', s.labels);
  o.annotations = stringMap('annotations', s.annotations);
  const wd = optString('work_dir', s.work_dir);
  if (wd) {
    if (!wd.startsWith('/')) throw invalid('work_dir', `the working directory "${wd}" is not an absolute path`);
    o.workingDir = wd;
  }
  const user = optString('user', s.user);
  if (user) o.user = user;
  o.groupAdd = stringList('groups', s.groups);
  o.hostname = optString('hostname', s.hostname) ?? '';
  o.tty = s.terminal === true;
  o.openStdin = s.stdin === true;
  o.attachStdin = o.openStdin;
  o.attachStdout = true;
  o.attachStderr = true;
  o.autoRemove = s.remove === true;
  if (s.stop_signal !== undefined && s.stop_signal !== null && s.stop_signal !== 0) {
    o.stopSignal = signalNumber('stop_signal', s.stop_signal as string | number);
  }
  const st = optInt('stop_timeout', s.stop_timeout, { min: 0 });
  if (st !== undefined) o.stopTimeout = st;
  const hc = obj('healthconfig', s.healthconfig);
  const test = stringList('healthconfig.Test', hc.Test);
  if (test.length) {
    o.healthcheck = {
      test,
      interval: parseDurationNs('healthconfig.Interval', hc.Interval),
      timeout: parseDurationNs('healthconfig.Timeout', hc.Timeout),
      startPeriod: parseDurationNs('healthconfig.StartPeriod', hc.StartPeriod),
      retries: optInt('healthconfig.Retries', hc.Retries, { min: 0 }) ?? 0,
    };
  }

  o.privileged = s.privileged === true;
  o.capAdd = stringList('cap_add', s.cap_add);
  o.capDrop = stringList('cap_drop', s.cap_drop);
  o.noNewPrivileges = s.no_new_privileges === true;
  const seccomp = optString('seccomp_profile_path', s.seccomp_profile_path);
  if (seccomp) o.seccomp = seccomp;
  const mask = optStringList('mask', s.mask);
  if (mask) o.maskedPaths = mask;
  o.unmask = stringList('unmask', s.unmask);
  o.readonlyRootfs = s.read_only_filesystem === true;
  o.sysctls = stringMap('sysctl', s.sysctl);
  const rl = s.r_limits;
  if (rl !== undefined && rl !== null) {
    if (!Array.isArray(rl)) throw invalid('r_limits', 'expected a list');
    o.ulimits = rl.map((raw, i) => {
      const r = obj(`r_limits[${i}]`, raw);
      const type = optString(`r_limits[${i}].type`, r.type);
      if (!type) throw invalid(`r_limits[${i}].type`, 'rlimit type is empty');
      return { name: type.replace(/^RLIMIT_/i, '').toLowerCase(), soft: optInt(`r_limits[${i}].soft`, r.soft) ?? 0, hard: optInt(`r_limits[${i}].hard`, r.hard) ?? 0 };
    });
  }
  o.oomScoreAdj = optInt('oom_score_adj', s.oom_score_adj) ?? 0;
  if (o.oomScoreAdj < -1000 || o.oomScoreAdj > 1000) throw invalid('oom_score_adj', `${o.oomScoreAdj} is not between -1000 and 1000`);
  if (s.shm_size !== undefined && s.shm_size !== null && s.shm_size !== 0) o.shmSize = parseBytes('shm_size', s.shm_size);

  o.mounts = libpodMounts(s.mounts);
  const vols = s.volumes;
  if (vols !== undefined && vols !== null) {
    if (!Array.isArray(vols)) throw invalid('volumes', 'expected a list');
    for (const [i, raw] of vols.entries()) {
      const v = obj(`volumes[${i}]`, raw);
      const dest = optString(`volumes[${i}].Dest`, v.Dest) ?? '';
      const opts = stringList(`volumes[${i}].Options`, v.Options);
      const nm = optString(`volumes[${i}].Name`, v.Name) ?? '';
      o.mounts.push(parseBind(`volumes[${i}]`, [nm, dest, opts.join(',')].filter(Boolean).join(':')));
    }
  }
  const seen = new Set<string>();
  for (const m of o.mounts) {
    if (seen.has(m.destination)) throw invalid('mounts', `duplicate mount destination ${m.destination}`);
    seen.add(m.destination);
  }

  const rlim = obj('resource_limits', s.resource_limits);
  const mem = obj('resource_limits.memory', rlim.memory);
  const cpu = obj('resource_limits.cpu', rlim.cpu);
  const pids = obj('resource_limits.pids', rlim.pids);
  const blk = obj('resource_limits.blockIO', rlim.blockIO);
  const r = o.resources;
  const num = (f: string, v: unknown) => (v === undefined || v === null || v === 0 ? undefined : parseBytes(f, v));
  r.memory = num('resource_limits.memory.limit', mem.limit);
  if (r.memory !== undefined && r.memory < 6 * 1024 * 1024 && r.memory > 0) throw invalid('resource_limits.memory.limit', 'minimum memory limit allowed is 6MB');
  r.memorySwap = num('resource_limits.memory.swap', mem.swap);
  r.memoryReservation = num('resource_limits.memory.reservation', mem.reservation);
  const swappiness = optInt('resource_limits.memory.swappiness', mem.swappiness);
  if (swappiness !== undefined && swappiness >= 0) r.memorySwappiness = swappiness;
  if (mem.disableOOMKiller === true) r.oomKillDisable = true;
  r.cpuShares = optInt('resource_limits.cpu.shares', cpu.shares, { min: 0 }) || undefined;
  r.cpuQuota = optInt('resource_limits.cpu.quota', cpu.quota) || undefined;
  r.cpuPeriod = optInt('resource_limits.cpu.period', cpu.period, { min: 0 }) || undefined;
  r.cpusetCpus = optString('resource_limits.cpu.cpus', cpu.cpus) || undefined;
  r.cpusetMems = optString('resource_limits.cpu.mems', cpu.mems) || undefined;
  r.pidsLimit = optInt('resource_limits.pids.limit', pids.limit) || undefined;
  r.blkioWeight = optInt('resource_limits.blockIO.weight', blk.weight, { min: 0 }) || undefined;
  for (const k of Object.keys(r) as (keyof typeof r)[]) if (r[k] === undefined) delete r[k];

  o.init = s.init === true;
  o.initPath = optString('init_path', s.init_path) ?? '';
  const lc = obj('log_configuration', s.log_configuration);
  const driver = optString('log_configuration.driver', lc.driver) || 'k8s-file';
  if (!['k8s-file', 'json-file', 'none', 'passthrough'].includes(driver)) throw invalid('log_configuration.driver', `log driver "${driver}" is not supported (k8s-file, json-file, none)`);
  o.logDriver = driver === 'json-file' ? 'k8s-file' : driver;
  o.logOptions = stringMap('log_configuration.options', lc.options);
  const size = optInt('log_configuration.size', lc.size);
  if (size && size > 0) o.logSizeMax = size;
  else if (o.logOptions['max-size']) o.logSizeMax = parseBytes('log_configuration.options.max-size', o.logOptions['max-size']);

  o.restartPolicy = parseRestartPolicy('restart_policy', optString('restart_policy', s.restart_policy), optInt('restart_tries', s.restart_tries, { min: 0 }));
  if (o.autoRemove && o.restartPolicy.name !== 'no') throw invalid('remove', 'the --rm option conflicts with a restart policy other than "no"');

  const net = namespace('netns', s.netns, 'net');
  o.netns = net.ns;
  o.networkMode = net.ns.mode === 'host' ? 'host' : net.ns.mode === 'none' ? 'none' : net.ns.mode === 'container' ? net.mode : 'bridge';
  if (net.ns.mode === 'private') {
    o.networkRequests = networksFromLibpod({ nsmode: 'bridge' }, obj('Networks', s.Networks) as Parameters<typeof networksFromLibpod>[1]).networks;
    o.networks = Object.keys(o.networkRequests);
  }
  const pid = namespace('pidns', s.pidns, 'pid');
  o.pidns = pid.ns;
  o.pidMode = pid.ns.mode === 'private' ? '' : pid.mode;
  const ipc = namespace('ipcns', s.ipcns, 'ipc');
  o.ipcns = ipc.ns;
  o.ipcMode = ipc.ns.mode === 'private' ? 'private' : ipc.mode;
  const uts = namespace('utsns', s.utsns, 'uts');
  o.utsns = uts.ns;
  o.utsMode = uts.ns.mode === 'private' ? 'private' : uts.mode;
  o.dns = stringList('dns_server', s.dns_server);
  o.dnsSearch = stringList('dns_search', s.dns_search);
  o.dnsOptions = stringList('dns_option', s.dns_option);
  o.extraHosts = stringList('hostadd', s.hostadd);
  for (const e of o.extraHosts) if (!/^[^:]+:.+$/.test(e)) throw invalid('hostadd', `invalid host entry "${e}": expected host:ip`);
  const ports = s.portmappings;
  if (Array.isArray(ports)) {
    for (const [i, raw] of ports.entries()) {
      const p = obj(`portmappings[${i}]`, raw);
      const cport = optInt(`portmappings[${i}].container_port`, p.container_port, { min: 1 });
      if (!cport) throw invalid(`portmappings[${i}].container_port`, 'a container port is required');
      const protos = (optString(`portmappings[${i}].protocol`, p.protocol) || 'tcp').split(',');
      for (const proto of protos) {
        const key = `${cport}/${proto}`;
        o.exposedPorts[key] = {};
        (o.portBindings[key] ??= []).push({ HostIp: optString(`portmappings[${i}].host_ip`, p.host_ip) ?? '', HostPort: String(p.host_port ?? '') });
      }
    }
  }
  for (const [port, proto] of Object.entries(stringMap('expose', Object.fromEntries(Object.entries(obj('expose', s.expose)).map(([k, v]) => [k, String(v)]))))) {
    o.exposedPorts[`${port}/${proto || 'tcp'}`] = {};
  }
  o.publishAllPorts = s.publish_image_ports === true;
  const devs = s.devices;
  if (Array.isArray(devs)) {
    o.devices = devs.map((raw, i) => {
      const d = obj(`devices[${i}]`, raw);
      const p = optString(`devices[${i}].path`, d.path) ?? '';
      const [host, ctr, perms] = p.split(':');
      if (!host?.startsWith('/')) throw invalid(`devices[${i}].path`, `device path "${p}" must be absolute`);
      return { pathOnHost: host, pathInContainer: ctr || host, permissions: perms || 'rwm' };
    });
  }
  o.cgroupParent = optString('cgroup_parent', s.cgroup_parent) ?? '';
  o.timeout = optInt('timeout', s.timeout, { min: 0 }) ?? 0;
  const umask = optString('umask', s.umask);
  if (umask) {
    if (!/^[0-7]{1,4}$/.test(umask)) throw invalid('umask', `invalid umask "${umask}"`);
    o.umask = umask;
  }
  const secrets = libpodSecrets(s.secrets);
  if (secrets?.length) o.secrets = secrets;
  const envSecrets = stringMap('secret_env', s.secret_env);
  for (const [k, v] of Object.entries(envSecrets)) {
    if (!k || k.includes('=')) throw invalid('secret_env', `invalid environment variable name ${JSON.stringify(k)}`);
    if (!v) throw invalid(`secret_env.${k}`, 'a secret name or ID is required');
  }
  if (Object.keys(envSecrets).length) o.envSecrets = envSecrets;
  const cc = optStringList('containerCreateCommand', s.containerCreateCommand);
  if (cc) o.createCommand = cc;
  return o;
}
