// Facts about this host for /info and /version.
//
// What cannot change while the service runs (kernel, OS, CPUs, cgroup layout, security
// features, helper binaries with their versions and packages) is computed once, lazily and
// concurrently (the version commands run in parallel with execFile), and cached: `warm()` fills
// the cache right after the service starts listening. Cheap volatile facts (memory, uptime,
// disk usage, sysctls) are re-read with async calls on each request; concurrent requests share
// one read.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { containersConfDefaults, normalizeCapability, type ContainersConf } from '../config/containers-conf.js';
import type { HostInfo, ToolVersion, VersionReport } from './types.js';

/** Oldest Docker API version tspod accepts. */
const CGROUP2_SUPER_MAGIC = 0x63677270;
const VERSION_TIMEOUT_MS = 5000;

// ---- tspod's own package ----

const thisFile = fileURLToPath(import.meta.url);

function findPackage(): { root: string; version: string } {
  let dir = dirname(thisFile);
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tspod') return { root: dir, version: pkg.version ?? '0.0.0' };
    } catch {
      // not here: go up
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return { root: '', version: '0.0.0' };
}

const ownPackage = findPackage();
/** tspod's version, from its package.json (read once). */
export const tspodVersion: string = ownPackage.version;
/** Directory holding tspod's package.json ('' when not found). */
export const tspodRoot: string = ownPackage.root;

// ---- options and cached facts ----

export interface HostFactsOptions {
  graphRoot: string;
  runRoot: string;
  volumePath: string;
  eventsLogPath: string;
  rootless: boolean;
  /** containers.conf files read (ContainersConf.files). */
  configFiles: string[];
  remoteSocket?: string;
  /** Loaded containers.conf: runtime/conmon paths, helper_binaries_dir, capabilities, seccomp. */
  conf?: ContainersConf;
  /** Environment for PATH look-ups and the version commands (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Counts the engine knows and the host does not. */
export interface HostCounts {
  images: number;
  containers: { total: number; running: number; paused: number; stopped: number };
  volumes: number;
}

interface StaticFacts {
  kernelVersion: string;
  operatingSystem: string;
  distribution: { id: string; versionId: string; codename: string };
  arch: string;
  cpus: number;
  cgroupVersion: '1' | '2';
  cgroupControllers: string[];
  seccompEnabled: boolean;
  seccompProfilePath: string;
  apparmorEnabled: boolean;
  selinuxEnabled: boolean;
  defaultCapabilities: string[];
  limits: { nofileHard: number; nprocHard: number };
  runc: ToolVersion;
  conmon: ToolVersion;
  netavark: ToolVersion;
  aardvarkDns: ToolVersion;
  catatonit: ToolVersion;
  gitCommit: string;
  buildTime: string;
  warnings: string[];
}

interface VolatileFacts {
  mem: { memTotal: number; memFree: number; swapTotal: number; swapFree: number };
  uptimeSeconds: number;
  cpuUtilization?: { userPercent: number; systemPercent: number; idlePercent: number };
  disk: { used: number; allocated: number };
  ipv4Forwarding: boolean;
  bridgeNfIptables: boolean;
  bridgeNfIp6tables: boolean;
}

const missingTool: ToolVersion = { path: '', version: '', package: '', versionOutput: '', packageFull: '' };

export class HostFacts {
  private statics?: Promise<StaticFacts>;
  private volatileRead?: Promise<VolatileFacts>;

  constructor(private readonly opts: HostFactsOptions) {}

  /** Computes and caches the facts that do not change while the service runs. */
  async warm(): Promise<void> {
    await this.staticFacts();
  }

  async info(counts: HostCounts): Promise<HostInfo> {
    const [s, v] = await Promise.all([this.staticFacts(), this.volatileFacts()]);
    const o = this.opts;
    const info: HostInfo = {
      hostname: os.hostname(),
      kernelVersion: s.kernelVersion,
      os: 'linux',
      operatingSystem: s.operatingSystem,
      distribution: { ...s.distribution },
      arch: s.arch,
      cpus: s.cpus,
      ...v.mem,
      uptimeSeconds: v.uptimeSeconds,
      cgroupVersion: s.cgroupVersion,
      cgroupControllers: [...s.cgroupControllers],
      cgroupManager: 'cgroupfs',
      rootless: o.rootless,
      ipv4Forwarding: v.ipv4Forwarding,
      bridgeNfIptables: v.bridgeNfIptables,
      bridgeNfIp6tables: v.bridgeNfIp6tables,
      seccompEnabled: s.seccompEnabled,
      seccompProfilePath: s.seccompProfilePath,
      apparmorEnabled: s.apparmorEnabled,
      selinuxEnabled: s.selinuxEnabled,
      defaultCapabilities: [...s.defaultCapabilities],
      ociRuntime: { ...s.runc, name: 'runc' },
      conmon: { ...s.conmon },
      networkBackend: { ...s.netavark, name: 'netavark' },
      dnsServer: { ...s.aardvarkDns },
      initBinary: { ...s.catatonit },
      store: {
        graphRoot: o.graphRoot,
        runRoot: o.runRoot,
        volumePath: o.volumePath,
        graphDriverName: 'overlay',
        graphRootUsed: v.disk.used,
        graphRootAllocated: v.disk.allocated,
        imageCount: counts.images,
        containers: { ...counts.containers },
        volumeCount: counts.volumes,
      },
      configFiles: [...o.configFiles],
      eventsLogPath: o.eventsLogPath,
      limits: { ...s.limits },
      warnings: [...s.warnings],
    };
    if (v.cpuUtilization) info.cpuUtilization = { ...v.cpuUtilization };
    if (o.remoteSocket !== undefined) info.remoteSocket = o.remoteSocket;
    return info;
  }

  async version(): Promise<VersionReport> {
    const s = await this.staticFacts();
    return {
      tspodVersion,
      nodeVersion: process.versions.node,
      os: 'linux',
      arch: s.arch,
      kernelVersion: s.kernelVersion,
      buildTime: s.buildTime,
      gitCommit: s.gitCommit,
      ociRuntime: { ...s.runc },
      conmon: { ...s.conmon },
    };
  }

  private staticFacts(): Promise<StaticFacts> {
    // A failure (unexpected: each probe has its own fallback) is not cached: the next call retries.
    this.statics ??= computeStatics(this.opts).catch((err: unknown) => {
      this.statics = undefined;
      throw err;
    });
    return this.statics;
  }

  private volatileFacts(): Promise<VolatileFacts> {
    if (!this.volatileRead) {
      this.volatileRead = readVolatile(this.opts.graphRoot).finally(() => {
        this.volatileRead = undefined;
      });
    }
    return this.volatileRead;
  }
}

// ---- static facts ----

async function computeStatics(opts: HostFactsOptions): Promise<StaticFacts> {
  const env = opts.env ?? process.env;
  const conf = opts.conf;
  const pathDirs = (env.PATH ?? '').split(delimiter).filter((d) => d !== '' && isAbsolute(d));
  const helperDirs = conf?.engine.helperBinariesDir ?? [...containersConfDefaults.engine.helperBinariesDir];
  const runcCandidates = conf?.engine.runtimes?.runc ?? [...containersConfDefaults.engine.runtimes.runc];
  const conmonCandidates = conf?.engine.conmonPath ?? [...containersConfDefaults.engine.conmonPath];
  const initPath = conf?.containers.initPath ?? conf?.engine.initPath;

  const toolPaths = Promise.all([
    findExecutable([...runcCandidates, ...pathDirs.map((d) => join(d, 'runc'))]),
    findExecutable([...conmonCandidates, ...[...helperDirs, ...pathDirs].map((d) => join(d, 'conmon'))]),
    findExecutable([...helperDirs, ...pathDirs].map((d) => join(d, 'netavark'))),
    findExecutable([...helperDirs, ...pathDirs].map((d) => join(d, 'aardvark-dns'))),
    findExecutable([...(initPath ? [initPath] : []), ...[...helperDirs, ...pathDirs].map((d) => join(d, 'catatonit'))]),
  ]);
  const tools = toolPaths.then((paths) => describeTools(paths, env));

  const [osRelease, cgroup, seccompEnabled, seccompProfilePath, apparmorEnabled, selinuxEnabled, limits, git, toolList] =
    await Promise.all([
      readOsRelease(),
      readCgroups(opts.rootless),
      detectSeccomp(),
      findSeccompProfile(conf?.containers.seccompProfile),
      detectAppArmor(),
      detectSelinux(),
      readLimits(),
      readGitCommit(tspodRoot),
      tools,
    ]);
  const [runc, conmon, netavark, aardvarkDns, catatonit] = toolList;

  const warnings: string[] = [];
  const named: Array<[string, ToolVersion]> = [
    ['runc', runc],
    ['conmon', conmon],
    ['netavark', netavark],
    ['aardvark-dns', aardvarkDns],
    ['catatonit', catatonit],
  ];
  for (const [name, tool] of named) {
    if (!tool.path) warnings.push(`${name} was not found: install it (Debian package ${name})`);
    else if (!tool.version) warnings.push(`${name} at ${tool.path} did not report a version`);
  }
  if (cgroup.version === '1') {
    warnings.push('this host uses cgroups v1, which Podman 5 deprecates in favor of cgroups v2');
  }
  if (!seccompProfilePath) warnings.push('no seccomp profile found (containers.conf seccomp_profile, /usr/share/containers/seccomp.json)');

  // The compiled module's modification time is when tspod was built.
  const buildTime = await fsp.stat(thisFile).then(
    (st) => st.mtime.toISOString(),
    () => '',
  );

  const capabilities = conf?.containers.defaultCapabilities ?? [...containersConfDefaults.containers.defaultCapabilities];
  return {
    kernelVersion: os.release(),
    operatingSystem: osRelease.prettyName,
    distribution: { id: osRelease.id, versionId: osRelease.versionId, codename: osRelease.codename },
    arch: goArch(process.arch),
    cpus: os.cpus().length,
    cgroupVersion: cgroup.version,
    cgroupControllers: cgroup.controllers,
    seccompEnabled,
    seccompProfilePath,
    apparmorEnabled,
    selinuxEnabled,
    defaultCapabilities: capabilities.map(normalizeCapability),
    limits,
    runc,
    conmon,
    netavark,
    aardvarkDns,
    catatonit,
    gitCommit: git,
    buildTime,
    warnings,
  };
}

/** Node's process.arch in Go's GOARCH spelling. */
export function goArch(arch: string): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    ia32: '386',
    arm64: 'arm64',
    arm: 'arm',
    ppc64: 'ppc64le', // Node on Linux ppc64 is little-endian
    ppc: 'ppc',
    s390x: 's390x',
    s390: 's390',
    riscv64: 'riscv64',
    loong64: 'loong64',
    mips: 'mips',
    mipsel: 'mipsle',
  };
  return map[arch] ?? arch;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fsp.access(path);
    return true;
  } catch {
    return false;
  }
}

/** Fields of an os-release file (shell-style KEY=value, values optionally quoted). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\(["\\$`])/g, '$1');
    }
    out[line.slice(0, eq)] = value;
  }
  return out;
}

async function readOsRelease() {
  const text = (await readText('/etc/os-release')) ?? (await readText('/usr/lib/os-release')) ?? '';
  const f = parseOsRelease(text);
  return {
    prettyName: f.PRETTY_NAME ?? f.NAME ?? 'Linux',
    id: f.ID ?? '',
    versionId: f.VERSION_ID ?? '',
    codename: f.VERSION_CODENAME ?? '',
  };
}

/**
 * cgroup v2 only when /sys/fs/cgroup itself is a cgroup2 mount (a hybrid v1 host with an empty
 * v2 hierarchy at /sys/fs/cgroup/unified is v1). Controllers as Podman lists them: v2 from
 * cgroup.controllers (the process's own cgroup when rootless); v1 the enabled subsystems of
 * /proc/cgroups mounted under /sys/fs/cgroup, none when rootless.
 */
async function readCgroups(rootless: boolean): Promise<{ version: '1' | '2'; controllers: string[] }> {
  let v2: boolean;
  try {
    v2 = (await fsp.statfs('/sys/fs/cgroup')).type === CGROUP2_SUPER_MAGIC;
  } catch {
    const mountinfo = (await readText('/proc/self/mountinfo')) ?? '';
    v2 = cgroupVersionFromMountinfo(mountinfo) === '2';
  }
  if (v2) {
    let file = '/sys/fs/cgroup/cgroup.controllers';
    if (rootless) {
      const own = ((await readText('/proc/self/cgroup')) ?? '').split('\n').find((l) => l.startsWith('0::'));
      if (own) file = join('/sys/fs/cgroup', own.slice(3), 'cgroup.controllers');
    }
    return { version: '2', controllers: ((await readText(file)) ?? '').split(/\s+/).filter(Boolean) };
  }
  if (rootless) return { version: '1', controllers: [] };
  const enabled = ((await readText('/proc/cgroups')) ?? '')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(/\s+/))
    .filter((f) => f.length >= 4 && f[3] !== '0')
    .map((f) => f[0]);
  const mounted = await Promise.all(enabled.map((name) => exists(join('/sys/fs/cgroup', name))));
  return { version: '1', controllers: enabled.filter((_, i) => mounted[i]) };
}

/** '2' when the mount at /sys/fs/cgroup has file system type cgroup2, else '1'. */
export function cgroupVersionFromMountinfo(mountinfo: string): '1' | '2' {
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 0 || fields[4] !== '/sys/fs/cgroup') continue;
    return fields[sep + 1] === 'cgroup2' ? '2' : '1';
  }
  return '1';
}

/**
 * Like containers/common's seccomp.IsEnabled: the kernel has CONFIG_SECCOMP (a Seccomp field in
 * /proc/self/status) and CONFIG_SECCOMP_FILTER (/proc/sys/kernel/seccomp/actions_avail, or the
 * Seccomp_filters field).
 */
async function detectSeccomp(): Promise<boolean> {
  const status = (await readText('/proc/self/status')) ?? '';
  if (!/^Seccomp:/m.test(status)) return false;
  return /^Seccomp_filters:/m.test(status) || (await exists('/proc/sys/kernel/seccomp/actions_avail'));
}

async function findSeccompProfile(configured: string | undefined): Promise<string> {
  if (configured) return configured;
  for (const path of ['/etc/containers/seccomp.json', '/usr/share/containers/seccomp.json']) {
    if (await exists(path)) return path;
  }
  return '';
}

/** As runc decides: securityfs shows apparmor and the module parameter says Y. */
async function detectAppArmor(): Promise<boolean> {
  if (!(await exists('/sys/kernel/security/apparmor'))) return false;
  return ((await readText('/sys/module/apparmor/parameters/enabled')) ?? '').startsWith('Y');
}

/** selinuxfs is mounted and this process has a real SELinux context. */
async function detectSelinux(): Promise<boolean> {
  if (!(await exists('/sys/fs/selinux/enforce'))) return false;
  const context = ((await readText('/proc/self/attr/current')) ?? '').replace(/\0/g, '').trim();
  return context !== '' && context !== 'kernel';
}

/** Hard limits of this process from /proc/self/limits (-1: unlimited). */
export function parseLimits(text: string): { nofileHard: number; nprocHard: number } {
  const hard = (label: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(label));
    if (!line) return -1;
    const fields = line.slice(label.length).trim().split(/\s+/);
    const value = fields[1];
    return value === undefined || value === 'unlimited' ? -1 : Number(value);
  };
  return { nofileHard: hard('Max open files'), nprocHard: hard('Max processes') };
}

async function readLimits() {
  return parseLimits((await readText('/proc/self/limits')) ?? '');
}

/** First candidate that is an executable regular file, or ''. Checked concurrently. */
async function findExecutable(candidates: string[]): Promise<string> {
  const unique = [...new Set(candidates)];
  const ok = await Promise.all(
    unique.map(async (path) => {
      try {
        const st = await fsp.stat(path);
        if (!st.isFile()) return false;
        await fsp.access(path, fsp.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }),
  );
  const index = ok.indexOf(true);
  return index < 0 ? '' : unique[index];
}

interface ExecResult {
  stdout: string;
  stderr: string;
  ok: boolean;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<ExecResult> {
  return new Promise((resolvePromise) => {
    execFile(
      file,
      args,
      { timeout: VERSION_TIMEOUT_MS, maxBuffer: 1 << 20, env: { ...env, LC_ALL: 'C' }, windowsHide: true },
      (err, stdout, stderr) => resolvePromise({ stdout: String(stdout ?? ''), stderr: String(stderr ?? ''), ok: !err }),
    );
  });
}

/** Runs `--version` of each found tool and dpkg for their packages, all at once. */
async function describeTools(paths: string[], env: NodeJS.ProcessEnv): Promise<ToolVersion[]> {
  const found = paths.filter(Boolean);
  const [versions, packages] = await Promise.all([
    Promise.all(paths.map((path) => (path ? run(path, ['--version'], env) : undefined))),
    owningPackages(found, env),
  ]);
  return paths.map((path, i) => {
    if (!path) return { ...missingTool };
    const out = versions[i];
    const text = (out?.stdout.trim() || (out?.ok ? out.stderr.trim() : '')) ?? '';
    const firstLine = text.split('\n')[0]?.trim() ?? '';
    const pkg = packages.get(path);
    return {
      path,
      version: firstLine,
      package: pkg?.name ?? '',
      versionOutput: text,
      packageFull: pkg?.full ?? '',
    };
  });
}

/** Debian packages owning `paths` (dpkg -S, trying the resolved path too), with versions. Like
 * Podman, dpkg is run from /usr/bin whatever PATH says. */
async function owningPackages(
  paths: string[],
  env: NodeJS.ProcessEnv,
): Promise<Map<string, { name: string; full: string }>> {
  const result = new Map<string, { name: string; full: string }>();
  if (paths.length === 0) return result;
  const real = await Promise.all(paths.map((p) => fsp.realpath(p).catch(() => p)));
  const queries = [...new Set([...paths, ...real])];
  const search = await run('/usr/bin/dpkg', ['-S', ...queries], env);
  const owner = new Map<string, string>();
  for (const line of search.stdout.split('\n')) {
    if (line.startsWith('diversion ')) continue;
    const sep = line.indexOf(': /');
    if (sep < 0) continue;
    const name = line.slice(0, sep).split(',')[0].trim().replace(/:.*$/, '');
    owner.set(line.slice(sep + 2).trim(), name);
  }
  const names = new Map<string, string>();
  paths.forEach((p, i) => {
    const name = owner.get(p) ?? owner.get(real[i]);
    if (name) names.set(p, name);
  });
  const unique = [...new Set(names.values())];
  const full = new Map<string, string>();
  if (unique.length > 0) {
    const q = await run('/usr/bin/dpkg-query', ['-W', '-f', '${Package}\\t${Version}\\t${Architecture}\\n', ...unique], env);
    for (const line of q.stdout.split('\n')) {
      const [name, version, arch] = line.split('\t');
      if (name && version) full.set(name, `${name}_${version}_${arch ?? ''}`);
    }
  }
  for (const [path, name] of names) result.set(path, { name, full: full.get(name) ?? '' });
  return result;
}

/** HEAD commit of the git checkout at `root` (worktrees and packed refs included), or ''. */
async function readGitCommit(root: string): Promise<string> {
  if (!root) return '';
  try {
    let gitDir = join(root, '.git');
    const st = await fsp.stat(gitDir);
    if (st.isFile()) {
      const m = /^gitdir:\s*(.+)$/m.exec(await fsp.readFile(gitDir, 'utf8'));
      if (!m) return '';
      gitDir = resolve(root, m[1].trim());
    }
    const head = (await fsp.readFile(join(gitDir, 'HEAD'), 'utf8')).trim();
    if (!head.startsWith('ref:')) return /^[0-9a-f]{40,64}$/.test(head) ? head : '';
    const ref = head.slice(4).trim();
    const commonText = await readText(join(gitDir, 'commondir'));
    const commonDir = commonText ? resolve(gitDir, commonText.trim()) : gitDir;
    for (const dir of new Set([gitDir, commonDir])) {
      const loose = (await readText(join(dir, ref)))?.trim();
      if (loose && /^[0-9a-f]{40,64}$/.test(loose)) return loose;
    }
    const packed = (await readText(join(commonDir, 'packed-refs'))) ?? '';
    for (const line of packed.split('\n')) {
      const [sha, name] = line.trim().split(' ');
      if (name === ref && /^[0-9a-f]{40,64}$/.test(sha)) return sha;
    }
  } catch {
    // not a checkout
  }
  return '';
}

// ---- volatile facts ----

async function readVolatile(graphRoot: string): Promise<VolatileFacts> {
  const [meminfo, uptime, stat, disk, forward, nf4, nf6] = await Promise.all([
    readText('/proc/meminfo'),
    readText('/proc/uptime'),
    readText('/proc/stat'),
    diskUsage(graphRoot),
    readText('/proc/sys/net/ipv4/ip_forward'),
    readText('/proc/sys/net/bridge/bridge-nf-call-iptables'),
    readText('/proc/sys/net/bridge/bridge-nf-call-ip6tables'),
  ]);
  const facts: VolatileFacts = {
    mem: parseMeminfo(meminfo ?? ''),
    uptimeSeconds: Number.parseFloat((uptime ?? '0').split(' ')[0]) || 0,
    disk,
    ipv4Forwarding: forward?.trim() === '1',
    bridgeNfIptables: nf4?.trim() === '1',
    bridgeNfIp6tables: nf6?.trim() === '1',
  };
  const cpu = parseCpuUtilization(stat ?? '');
  if (cpu) facts.cpuUtilization = cpu;
  return facts;
}

/** Bytes from /proc/meminfo; memFree is MemAvailable when present (as Podman reports it). */
export function parseMeminfo(text: string) {
  const kb: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)\s*kB/.exec(line);
    if (m) kb[m[1]] = Number(m[2]) * 1024;
  }
  return {
    memTotal: kb.MemTotal ?? 0,
    memFree: kb.MemAvailable ?? kb.MemFree ?? 0,
    swapTotal: kb.SwapTotal ?? 0,
    swapFree: kb.SwapFree ?? 0,
  };
}

/** Podman's cpuUtilization: user, system and idle shares of their sum on the /proc/stat cpu line. */
export function parseCpuUtilization(text: string) {
  const end = text.indexOf('\n');
  const line = end < 0 ? text : text.slice(0, end);
  const f = line.split(/\s+/);
  if (f[0] !== 'cpu' || f.length < 5) return undefined;
  const user = Number(f[1]);
  const system = Number(f[3]);
  const idle = Number(f[4]);
  const total = user + system + idle;
  if (!(total > 0)) return undefined;
  const pct = (n: number) => Math.round((10000 * n) / total) / 100;
  return { userPercent: pct(user), systemPercent: pct(system), idlePercent: pct(idle) };
}

/** Used and total bytes of the file system holding `path` (or its nearest existing parent). */
async function diskUsage(path: string): Promise<{ used: number; allocated: number }> {
  let dir = resolve(path);
  for (;;) {
    try {
      const s = await fsp.statfs(dir);
      return { used: (s.blocks - s.bfree) * s.bsize, allocated: s.blocks * s.bsize };
    } catch {
      const parent = dirname(dir);
      if (parent === dir) return { used: 0, allocated: 0 };
      dir = parent;
    }
  }
}
