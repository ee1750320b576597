// containers.conf(5) loading, the way Podman 5 (containers/common) does it.
//
// Files, lowest precedence first (each later file overrides the keys it sets; tables are
// merged key by key, arrays are replaced unless they carry the `{append = true}` attribute):
//   /usr/share/containers/containers.conf
//   /etc/containers/containers.conf
//   /etc/containers/containers.conf.d/*.conf                   (sorted by name)
//   /etc/containers/containers.rootless.conf                    (rootless only)
//   /etc/containers/containers.rootless.conf.d/*.conf           (rootless only)
//   /etc/containers/containers.rootless.conf.d/<UID>/*.conf     (rootless only)
//   $XDG_CONFIG_HOME/containers/containers.conf                 (rootless only; $HOME/.config when unset)
//   $XDG_CONFIG_HOME/containers/containers.conf.d/*.conf        (rootless only)
// When CONTAINERS_CONF is set it names the only file of that list (it must exist). When
// CONTAINERS_CONF_OVERRIDE is set, that file is read last and always wins (ignored when
// missing). Missing files of the default list are skipped. The user files are read for
// rootless users only (Podman 4's rule, which podman-system-service(1) documents).
//
// The loader is synchronous on purpose: it runs once at service start, and with no files it
// costs a handful of failed open(2) calls.
import { readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { EngineError } from '../errors.js';

export interface EngineConf {
  /** Seconds of inactivity before `podman system service` exits (0: never). */
  serviceTimeout?: number;
  /** Name of the default OCI runtime (runc, crun, ...). */
  runtime?: string;
  /** Candidate paths per OCI runtime name. */
  runtimes?: Record<string, string[]>;
  conmonPath?: string[];
  conmonEnvVars?: string[];
  helperBinariesDir?: string[];
  hooksDir?: string[];
  cgroupManager?: string;
  /** file, journald or none. */
  eventsLogger?: string;
  eventsLogFilePath?: string;
  /** Maximum size of the events log file in bytes (the file accepts "1m" style sizes too). */
  eventsLogFileMaxSize?: number;
  env?: string[];
  infraImage?: string;
  infraCommand?: string;
  initPath?: string;
  imageDefaultTransport?: string;
  imageParallelCopies?: number;
  lockType?: string;
  numLocks?: number;
  databaseBackend?: string;
  pullPolicy?: string;
  stopTimeout?: number;
  exitCommandDelay?: number;
  staticDir?: string;
  tmpDir?: string;
  volumePath?: string;
  activeService?: string;
  noPivotRoot?: boolean;
  detachKeys?: string;
  namespace?: string;
  healthcheckEvents?: boolean;
  enablePortReservation?: boolean;
  composeProviders?: string[];
  composeWarningLogs?: boolean;
}

export interface ContainersSectionConf {
  /** Capabilities, normalised to upper case with the CAP_ prefix (as Podman does). */
  defaultCapabilities?: string[];
  defaultSysctls?: string[];
  defaultUlimits?: string[];
  devices?: string[];
  volumes?: string[];
  mounts?: string[];
  env?: string[];
  envHost?: boolean;
  httpProxy?: boolean;
  dnsServers?: string[];
  dnsSearches?: string[];
  dnsOptions?: string[];
  annotations?: string[];
  logDriver?: string;
  logSizeMax?: number;
  logTag?: string;
  pidsLimit?: number;
  seccompProfile?: string;
  apparmorProfile?: string;
  init?: boolean;
  initPath?: string;
  ipcns?: string;
  netns?: string;
  pidns?: string;
  utsns?: string;
  userns?: string;
  cgroupns?: string;
  cgroups?: string;
  shmSize?: string;
  tz?: string;
  umask?: string;
  noHosts?: boolean;
  baseHostsFile?: string;
  label?: boolean;
  readOnly?: boolean;
  oomScoreAdj?: number;
  usernsSize?: number;
  interfaceName?: string;
  hostContainersInternalIp?: string;
  keyring?: boolean;
  prepareVolumeOnCreate?: boolean;
}

export interface SubnetPool {
  base: string;
  size: number;
}

export interface NetworkConf {
  /** netavark or cni. */
  networkBackend?: string;
  defaultNetwork?: string;
  defaultSubnet?: string;
  defaultSubnetPools?: SubnetPool[];
  networkConfigDir?: string;
  defaultRootlessNetworkCmd?: string;
  dnsBindPort?: number;
  firewallDriver?: string;
  netavarkPluginDirs?: string[];
  cniPluginDirs?: string[];
  pastaOptions?: string[];
}

export interface ContainersConf {
  /** Files actually read, in the order they were merged. */
  files: string[];
  /** Values set by the files; a key no file sets is undefined (see containersConfDefaults). */
  engine: EngineConf;
  containers: ContainersSectionConf;
  network: NetworkConf;
  /** The merged TOML document (attributed arrays resolved to plain arrays). */
  raw: Record<string, unknown>;
}

export interface LoadContainersConfOptions {
  rootless: boolean;
  /** Environment to read CONTAINERS_CONF, CONTAINERS_CONF_OVERRIDE, XDG_CONFIG_HOME, HOME from. */
  env?: NodeJS.ProcessEnv;
  /** UID for /etc/containers/containers.rootless.conf.d/<UID>/ (default: this process's). */
  uid?: number;
  /** Directory replacing /usr/share/containers (tests). */
  usrDir?: string;
  /** Directory replacing /etc/containers (tests). */
  etcDir?: string;
}

/**
 * Built-in defaults for the keys above (containers/common's), for callers to fall back on. Where
 * Podman picks journald when built with systemd (events_logger, log_driver), tspod's file-based
 * choice is given.
 */
export const containersConfDefaults = {
  engine: {
    serviceTimeout: 5,
    runtime: 'runc',
    runtimes: {
      runc: [
        '/usr/bin/runc',
        '/usr/sbin/runc',
        '/usr/local/bin/runc',
        '/usr/local/sbin/runc',
        '/sbin/runc',
        '/bin/runc',
        '/usr/lib/cri-o-runc/sbin/runc',
        '/run/current-system/sw/bin/runc',
      ],
    } as Record<string, string[]>,
    conmonPath: [
      '/usr/libexec/podman/conmon',
      '/usr/local/libexec/podman/conmon',
      '/usr/local/lib/podman/conmon',
      '/usr/bin/conmon',
      '/usr/sbin/conmon',
      '/usr/local/bin/conmon',
      '/usr/local/sbin/conmon',
      '/run/current-system/sw/bin/conmon',
    ],
    helperBinariesDir: [
      '/usr/local/libexec/podman',
      '/usr/local/lib/podman',
      '/usr/libexec/podman',
      '/usr/lib/podman',
    ],
    initPath: '/usr/libexec/podman/catatonit',
    cgroupManager: 'cgroupfs',
    eventsLogger: 'file',
    stopTimeout: 10,
  },
  containers: {
    defaultCapabilities: [
      'CAP_CHOWN',
      'CAP_DAC_OVERRIDE',
      'CAP_FOWNER',
      'CAP_FSETID',
      'CAP_KILL',
      'CAP_NET_BIND_SERVICE',
      'CAP_SETFCAP',
      'CAP_SETGID',
      'CAP_SETPCAP',
      'CAP_SETUID',
      'CAP_SYS_CHROOT',
    ],
    defaultSysctls: ['net.ipv4.ping_group_range=0 0'],
    logDriver: 'k8s-file',
    pidsLimit: 2048,
    shmSize: '65536k',
    umask: '0022',
    init: false,
  },
  network: {
    networkBackend: 'netavark',
    defaultNetwork: 'podman',
    defaultSubnet: '10.88.0.0/16',
    defaultSubnetPools: [
      { base: '10.89.0.0/16', size: 24 },
      { base: '10.90.0.0/15', size: 24 },
      { base: '10.92.0.0/14', size: 24 },
      { base: '10.96.0.0/11', size: 24 },
      { base: '10.128.0.0/9', size: 24 },
    ] as SubnetPool[],
  },
} as const;

// ---- schema of the typed keys ----

type Kind = 'string' | 'uint' | 'int' | 'bool' | 'strings' | 'stringsMap' | 'size' | 'pools';
type Schema = Record<string, readonly [prop: string, kind: Kind]>;

const engineSchema: Schema = {
  service_timeout: ['serviceTimeout', 'uint'],
  runtime: ['runtime', 'string'],
  runtimes: ['runtimes', 'stringsMap'],
  conmon_path: ['conmonPath', 'strings'],
  conmon_env_vars: ['conmonEnvVars', 'strings'],
  helper_binaries_dir: ['helperBinariesDir', 'strings'],
  hooks_dir: ['hooksDir', 'strings'],
  cgroup_manager: ['cgroupManager', 'string'],
  events_logger: ['eventsLogger', 'string'],
  events_logfile_path: ['eventsLogFilePath', 'string'],
  events_logfile_max_size: ['eventsLogFileMaxSize', 'size'],
  env: ['env', 'strings'],
  infra_image: ['infraImage', 'string'],
  infra_command: ['infraCommand', 'string'],
  init_path: ['initPath', 'string'],
  image_default_transport: ['imageDefaultTransport', 'string'],
  image_parallel_copies: ['imageParallelCopies', 'uint'],
  lock_type: ['lockType', 'string'],
  num_locks: ['numLocks', 'uint'],
  database_backend: ['databaseBackend', 'string'],
  pull_policy: ['pullPolicy', 'string'],
  stop_timeout: ['stopTimeout', 'uint'],
  exit_command_delay: ['exitCommandDelay', 'uint'],
  static_dir: ['staticDir', 'string'],
  tmp_dir: ['tmpDir', 'string'],
  volume_path: ['volumePath', 'string'],
  active_service: ['activeService', 'string'],
  no_pivot_root: ['noPivotRoot', 'bool'],
  detach_keys: ['detachKeys', 'string'],
  namespace: ['namespace', 'string'],
  healthcheck_events: ['healthcheckEvents', 'bool'],
  enable_port_reservation: ['enablePortReservation', 'bool'],
  compose_providers: ['composeProviders', 'strings'],
  compose_warning_logs: ['composeWarningLogs', 'bool'],
};

const containersSchema: Schema = {
  default_capabilities: ['defaultCapabilities', 'strings'],
  default_sysctls: ['defaultSysctls', 'strings'],
  default_ulimits: ['defaultUlimits', 'strings'],
  devices: ['devices', 'strings'],
  volumes: ['volumes', 'strings'],
  mounts: ['mounts', 'strings'],
  env: ['env', 'strings'],
  env_host: ['envHost', 'bool'],
  http_proxy: ['httpProxy', 'bool'],
  dns_servers: ['dnsServers', 'strings'],
  dns_searches: ['dnsSearches', 'strings'],
  dns_options: ['dnsOptions', 'strings'],
  annotations: ['annotations', 'strings'],
  log_driver: ['logDriver', 'string'],
  log_size_max: ['logSizeMax', 'int'],
  log_tag: ['logTag', 'string'],
  pids_limit: ['pidsLimit', 'int'],
  seccomp_profile: ['seccompProfile', 'string'],
  apparmor_profile: ['apparmorProfile', 'string'],
  init: ['init', 'bool'],
  init_path: ['initPath', 'string'],
  ipcns: ['ipcns', 'string'],
  netns: ['netns', 'string'],
  pidns: ['pidns', 'string'],
  utsns: ['utsns', 'string'],
  userns: ['userns', 'string'],
  cgroupns: ['cgroupns', 'string'],
  cgroups: ['cgroups', 'string'],
  shm_size: ['shmSize', 'string'],
  tz: ['tz', 'string'],
  umask: ['umask', 'string'],
  no_hosts: ['noHosts', 'bool'],
  base_hosts_file: ['baseHostsFile', 'string'],
  label: ['label', 'bool'],
  read_only: ['readOnly', 'bool'],
  oom_score_adj: ['oomScoreAdj', 'int'],
  userns_size: ['usernsSize', 'int'],
  interface_name: ['interfaceName', 'string'],
  host_containers_internal_ip: ['hostContainersInternalIp', 'string'],
  keyring: ['keyring', 'bool'],
  prepare_volume_on_create: ['prepareVolumeOnCreate', 'bool'],
};

const networkSchema: Schema = {
  network_backend: ['networkBackend', 'string'],
  default_network: ['defaultNetwork', 'string'],
  default_subnet: ['defaultSubnet', 'string'],
  default_subnet_pools: ['defaultSubnetPools', 'pools'],
  network_config_dir: ['networkConfigDir', 'string'],
  default_rootless_network_cmd: ['defaultRootlessNetworkCmd', 'string'],
  dns_bind_port: ['dnsBindPort', 'uint'],
  firewall_driver: ['firewallDriver', 'string'],
  netavark_plugin_dirs: ['netavarkPluginDirs', 'strings'],
  cni_plugin_dirs: ['cniPluginDirs', 'strings'],
  pasta_options: ['pastaOptions', 'strings'],
};

const schemas: Record<'engine' | 'containers' | 'network', Schema> = {
  engine: engineSchema,
  containers: containersSchema,
  network: networkSchema,
};

/** Built-in values an `{append = true}` array extends when no file set the key before. */
const appendBase: Record<string, readonly string[]> = {
  'containers.default_capabilities': containersConfDefaults.containers.defaultCapabilities,
  'containers.default_sysctls': containersConfDefaults.containers.defaultSysctls,
  'engine.conmon_path': containersConfDefaults.engine.conmonPath,
  'engine.helper_binaries_dir': containersConfDefaults.engine.helperBinariesDir,
};

// ---- loading ----

type Table = Record<string, unknown>;

export function loadContainersConf(opts: LoadContainersConfOptions): ContainersConf {
  const env = opts.env ?? process.env;
  const usrDir = opts.usrDir ?? '/usr/share/containers';
  const etcDir = opts.etcDir ?? '/etc/containers';
  const merged: Table = Object.create(null) as Table;
  const files: string[] = [];

  const explicit = env.CONTAINERS_CONF;
  if (explicit) {
    const text = readConf(explicit);
    if (text === undefined) {
      throw new EngineError('invalid-argument', `CONTAINERS_CONF file ${explicit}: no such file`);
    }
    mergeFile(merged, explicit, text);
    files.push(explicit);
  } else {
    const candidates: Array<string | { dir: string }> = [
      join(usrDir, 'containers.conf'),
      join(etcDir, 'containers.conf'),
      { dir: join(etcDir, 'containers.conf.d') },
    ];
    if (opts.rootless) {
      const uid = opts.uid ?? process.getuid?.() ?? 0;
      const rootlessConf = join(etcDir, 'containers.rootless.conf');
      candidates.push(rootlessConf, { dir: `${rootlessConf}.d` }, { dir: join(`${rootlessConf}.d`, String(uid)) });
      // The user's own files count for rootless users only, as podman-system-service(1) says.
      const userConf = join(userConfigHome(env), 'containers', 'containers.conf');
      candidates.push(userConf, { dir: `${userConf}.d` });
    }

    for (const candidate of candidates) {
      const paths = typeof candidate === 'string' ? [candidate] : dropIns(candidate.dir);
      for (const path of paths) {
        const text = readConf(path);
        if (text === undefined) continue;
        mergeFile(merged, path, text);
        files.push(path);
      }
    }
  }

  const override = env.CONTAINERS_CONF_OVERRIDE;
  if (override) {
    const text = readConf(override);
    if (text !== undefined) {
      mergeFile(merged, override, text);
      files.push(override);
    }
  }

  const conf: ContainersConf = { files, engine: {}, containers: {}, network: {}, raw: merged };
  for (const section of ['engine', 'containers', 'network'] as const) {
    const table = merged[section];
    if (!isTable(table)) continue;
    const out = conf[section] as Record<string, unknown>;
    for (const [key, [prop, kind]] of Object.entries(schemas[section])) {
      const value = table[key];
      if (value === undefined) continue;
      out[prop] = typedValue(kind, value);
    }
  }
  if (conf.containers.defaultCapabilities) {
    conf.containers.defaultCapabilities = conf.containers.defaultCapabilities.map(normalizeCapability);
  }
  return conf;
}

/** CAP_ prefix and upper case, as containers/common does for default_capabilities. */
export function normalizeCapability(cap: string): string {
  return cap.toLowerCase().startsWith('cap_') ? cap : `CAP_${cap.toUpperCase()}`;
}

/** Parses a size like Podman's events_logfile_max_size: bytes, or "10k", "1m", "1.5GiB". */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$/i.exec(value);
  if (!m) return undefined;
  const unit = 'bkmgtp'.indexOf((m[2] || 'b').toLowerCase());
  return Math.floor(Number(m[1]) * 1024 ** unit);
}

function userConfigHome(env: NodeJS.ProcessEnv): string {
  if (env.XDG_CONFIG_HOME) return env.XDG_CONFIG_HOME;
  return join(env.HOME || homedir(), '.config');
}

/** Text of a file, or undefined when it does not exist. */
function readConf(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new EngineError('invalid-argument', `reading ${path}: ${(err as Error).message}`, err);
  }
}

/** Non-directory entries ending in .conf, sorted by name; none when the directory is missing. */
function dropIns(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new EngineError('invalid-argument', `reading ${dir}: ${(err as Error).message}`, err);
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() && entry.name.endsWith('.conf')) names.push(entry.name);
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.map((name) => join(dir, name));
}

function mergeFile(merged: Table, path: string, text: string): void {
  let doc: Table;
  try {
    doc = parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, { unsafeKeyBehaviour: 'drop' }) as Table;
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
      throw new EngineError('invalid-argument', `${path}:${err.line}:${err.column}: invalid TOML: ${reason}`, err);
    }
    throw new EngineError('invalid-argument', `${path}: invalid TOML: ${(err as Error).message}`, err);
  }
  validate(path, text, doc);
  mergeTable(merged, doc, '');
}

function validate(path: string, text: string, doc: Table): void {
  for (const section of ['engine', 'containers', 'network'] as const) {
    const table = doc[section];
    if (table === undefined) continue;
    if (!isTable(table)) {
      throw badValue(path, text, section, '', 'a table', table);
    }
    for (const [key, [, kind]] of Object.entries(schemas[section])) {
      const value = table[key];
      if (value === undefined) continue;
      const expected = checkKind(kind, value);
      if (expected) throw badValue(path, text, section, key, expected, value);
    }
  }
}

/** Undefined when value fits kind, else a description of what was expected. */
function checkKind(kind: Kind, value: unknown): string | undefined {
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? undefined : 'a string';
    case 'bool':
      return typeof value === 'boolean' ? undefined : 'a boolean';
    case 'uint':
      return Number.isSafeInteger(value) && (value as number) >= 0 ? undefined : 'a non-negative integer';
    case 'int':
      return Number.isSafeInteger(value) ? undefined : 'an integer';
    case 'size':
      return (typeof value === 'number' || typeof value === 'string') && parseSize(value) !== undefined
        ? undefined
        : 'a size (bytes, or a string like "1m")';
    case 'strings': {
      if (!Array.isArray(value)) return 'an array of strings';
      for (const item of value) {
        if (typeof item === 'string') continue;
        if (isTable(item) && Object.keys(item).every((k) => k === 'append') && typeof item.append === 'boolean') {
          continue;
        }
        return 'an array of strings (with an optional {append = true})';
      }
      return undefined;
    }
    case 'stringsMap': {
      if (!isTable(value)) return 'a table of string arrays';
      for (const item of Object.values(value)) {
        if (!Array.isArray(item) || !item.every((s) => typeof s === 'string')) return 'a table of string arrays';
      }
      return undefined;
    }
    case 'pools': {
      const ok =
        Array.isArray(value) &&
        value.every(
          (p) => isTable(p) && typeof p.base === 'string' && Number.isSafeInteger(p.size) && (p.size as number) >= 0,
        );
      return ok ? undefined : 'an array of {base = "CIDR", size = N} tables';
    }
  }
}

function typedValue(kind: Kind, value: unknown): unknown {
  switch (kind) {
    case 'strings':
      return (value as unknown[]).filter((s): s is string => typeof s === 'string');
    case 'stringsMap': {
      const out: Record<string, string[]> = {};
      for (const [k, v] of Object.entries(value as Record<string, string[]>)) out[k] = [...v];
      return out;
    }
    case 'size':
      return parseSize(value as string | number);
    case 'pools':
      return (value as Array<{ base: string; size: number }>).map((p) => ({ base: p.base, size: p.size }));
    default:
      return value;
  }
}

function badValue(path: string, text: string, section: string, key: string, expected: string, got: unknown) {
  const name = key ? `${section}.${key}` : section;
  const line = findKeyLine(text, name);
  const where = line ? `${path}:${line}` : path;
  return new EngineError('invalid-argument', `${where}: ${name} must be ${expected}, got ${describe(got)}`);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (isTable(value)) return 'a table';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** Best-effort line number (1-based) where the dotted key `name` is assigned or opened. */
function findKeyLine(text: string, name: string): number | undefined {
  const lines = text.split('\n');
  let table = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[\[?\s*([^\]]+?)\s*\]\]?/.exec(line);
    if (header) {
      table = normalizeKey(header[1]);
      if (table === name) return i + 1;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = normalizeKey(line.slice(0, eq));
    const full = table ? `${table}.${key}` : key;
    if (full === name) return i + 1;
  }
  return undefined;
}

function normalizeKey(key: string): string {
  return key
    .split('.')
    .map((part) => part.trim().replace(/^(["'])(.*)\1$/, '$2'))
    .join('.');
}

function isTable(value: unknown): value is Table {
  // TOML dates parse to TomlDate, a Date subclass: not tables.
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Merges `src` into `dst` key by key: tables recurse, attributed arrays append, rest replaces. */
function mergeTable(dst: Table, src: Table, prefix: string): void {
  for (const [key, value] of Object.entries(src)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const prev = dst[key];
    if (isTable(value)) {
      const target: Table = isTable(prev) ? prev : (Object.create(null) as Table);
      mergeTable(target, value, path);
      dst[key] = target;
    } else if (Array.isArray(value) && value.some(isAppendMarker)) {
      const items = value.filter((v) => !isAppendMarker(v));
      const marker = value.filter(isAppendMarker).pop() as { append: boolean };
      if (marker.append) {
        const base = Array.isArray(prev) ? prev : (appendBase[path] ?? []);
        dst[key] = [...base, ...items];
      } else {
        dst[key] = items;
      }
    } else {
      dst[key] = value;
    }
  }
}

function isAppendMarker(value: unknown): value is { append: boolean } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'append' && typeof (value as Table).append === 'boolean';
}
