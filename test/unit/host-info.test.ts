import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, statfsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { containersConfDefaults, loadContainersConf, type ContainersConf } from '../../engine/config/containers-conf.js';
import {
  cgroupVersionFromMountinfo,
  goArch,
  HostFacts,
  parseCpuUtilization,
  parseLimits,
  parseMeminfo,
  parseOsRelease,
  tspodVersion,
  type HostFactsOptions,
} from '../../engine/system/host-info.js';

const counts = { images: 3, containers: { total: 4, running: 1, paused: 1, stopped: 2 }, volumes: 5 };

function sh(script: string): string {
  return execFileSync('sh', ['-c', script], { encoding: 'utf8' }).trim();
}

/** Where `sh` finds a command on PATH (plus the sbin directories), or ''. */
function which(name: string): string {
  try {
    return sh(`PATH="$PATH:/usr/sbin:/sbin"; command -v ${name}`);
  } catch {
    return '';
  }
}

function firstLine(cmd: string): string {
  return execFileSync(cmd, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

describe('host facts', function () {
  let tmp: string;
  let facts: HostFacts;
  let opts: HostFactsOptions;

  before(async () => {
    tmp = await mkdtemp(join(os.tmpdir(), 'tspod-host-'));
    opts = {
      graphRoot: join(tmp, 'storage', 'not-yet-created'),
      runRoot: join(tmp, 'run'),
      volumePath: join(tmp, 'volumes'),
      eventsLogPath: join(tmp, 'events.log'),
      rootless: false,
      configFiles: ['/a.conf', '/b.conf'],
      remoteSocket: 'unix:///run/podman/podman.sock',
    };
    facts = new HostFacts(opts);
    await facts.warm();
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('reports the kernel, OS, architecture and CPUs of this machine', async () => {
    const info = await facts.info(counts);
    expect(info.hostname).to.equal(os.hostname());
    expect(info.kernelVersion).to.equal(sh('uname -r'));
    expect(info.os).to.equal('linux');
    const release = parseOsRelease(readFileSync('/etc/os-release', 'utf8'));
    expect(info.operatingSystem).to.equal(release.PRETTY_NAME);
    expect(info.distribution.id).to.equal(release.ID);
    expect(info.distribution.versionId).to.equal(release.VERSION_ID ?? '');
    expect(info.cpus).to.equal(os.cpus().length);
    expect(info.arch).to.equal(goArch(process.arch));
    if (process.arch === 'x64') expect(info.arch).to.equal('amd64');
  });

  it('reports memory, swap and uptime from /proc', async () => {
    const info = await facts.info(counts);
    const meminfo = readFileSync('/proc/meminfo', 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(meminfo)![1]) * 1024;
    expect(info.memTotal).to.equal(kb('MemTotal'));
    expect(info.memTotal).to.equal(os.totalmem());
    expect(info.swapTotal).to.equal(kb('SwapTotal'));
    expect(info.memFree).to.be.greaterThan(0).and.at.most(info.memTotal);
    expect(info.swapFree).to.be.at.most(info.swapTotal);
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    expect(info.uptimeSeconds).to.be.closeTo(uptime, 5);
    const cpu = info.cpuUtilization!;
    expect(cpu.userPercent + cpu.systemPercent + cpu.idlePercent).to.be.closeTo(100, 0.05);
  });

  it('reports the cgroup version /proc/self/mountinfo shows and the available controllers', async () => {
    const info = await facts.info(counts);
    const mount = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[4] === '/sys/fs/cgroup');
    const fstype = mount ? mount[mount.indexOf('-') + 1] : '';
    expect(info.cgroupVersion).to.equal(fstype === 'cgroup2' ? '2' : '1');
    expect(info.cgroupManager).to.equal('cgroupfs');
    if (info.cgroupVersion === '2') {
      const controllers = readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').trim().split(/\s+/);
      expect(info.cgroupControllers).to.deep.equal(controllers);
    } else {
      expect(info.cgroupControllers).to.include.members(
        ['memory', 'pids', 'cpu'].filter((c) => existsSync(`/sys/fs/cgroup/${c}`)),
      );
      for (const c of info.cgroupControllers) expect(existsSync(`/sys/fs/cgroup/${c}`), c).to.equal(true);
    }
  });

  it('reports sysctls, security features and limits of this machine', async () => {
    const info = await facts.info(counts);
    const sysctl = (p: string) => existsSync(p) && readFileSync(p, 'utf8').trim() === '1';
    expect(info.ipv4Forwarding).to.equal(sysctl('/proc/sys/net/ipv4/ip_forward'));
    expect(info.bridgeNfIptables).to.equal(sysctl('/proc/sys/net/bridge/bridge-nf-call-iptables'));
    expect(info.bridgeNfIp6tables).to.equal(sysctl('/proc/sys/net/bridge/bridge-nf-call-ip6tables'));
    expect(info.seccompEnabled).to.equal(/^Seccomp:/m.test(readFileSync('/proc/self/status', 'utf8')));
    if (existsSync('/usr/share/containers/seccomp.json') && !existsSync('/etc/containers/seccomp.json')) {
      expect(info.seccompProfilePath).to.equal('/usr/share/containers/seccomp.json');
    }
    if (!existsSync('/sys/module/apparmor/parameters/enabled')) expect(info.apparmorEnabled).to.equal(false);
    if (!existsSync('/sys/fs/selinux/enforce')) expect(info.selinuxEnabled).to.equal(false);
    expect(info.defaultCapabilities).to.deep.equal([...containersConfDefaults.containers.defaultCapabilities]);
    const hard = (flag: string) => {
      const v = execFileSync('bash', ['-c', `ulimit -H${flag}`], { encoding: 'utf8' }).trim();
      return v === 'unlimited' ? -1 : Number(v);
    };
    expect(info.limits).to.deep.equal({ nofileHard: hard('n'), nprocHard: hard('u') });
  });

  it('finds runc and the Podman helpers with their versions and packages', async function () {
    const info = await facts.info(counts);
    const runc = which('runc');
    if (!runc) this.skip();
    expect(realpathSync(info.ociRuntime.path)).to.equal(realpathSync(runc));
    expect(info.ociRuntime.name).to.equal('runc');
    expect(info.ociRuntime.version).to.equal(firstLine(runc));
    expect(info.ociRuntime.versionOutput).to.contain('commit:');
    const hasDpkg = existsSync('/usr/bin/dpkg');
    if (hasDpkg) {
      expect(info.ociRuntime.package).to.equal('runc');
      expect(info.ociRuntime.packageFull).to.match(/^runc_\S+_\S+$/);
    }

    const helpers: Array<[string, { path: string; version: string; package: string }, string[]]> = [
      ['conmon', info.conmon, ['/usr/libexec/podman/conmon', '/usr/bin/conmon', '/usr/sbin/conmon']],
      ['netavark', info.networkBackend, ['/usr/libexec/podman/netavark', '/usr/lib/podman/netavark']],
      ['aardvark-dns', info.dnsServer, ['/usr/libexec/podman/aardvark-dns', '/usr/lib/podman/aardvark-dns']],
      ['catatonit', info.initBinary, ['/usr/libexec/podman/catatonit', '/usr/lib/podman/catatonit', '/usr/bin/catatonit']],
    ];
    for (const [name, tool, places] of helpers) {
      const installed = places.find((p) => existsSync(p)) ?? which(name);
      if (!installed) {
        expect(tool.path, name).to.equal('');
        expect(info.warnings.join('\n')).to.contain(name);
        continue;
      }
      expect(tool.path, name).to.equal(installed);
      expect(tool.version, name).to.equal(firstLine(installed));
      expect(tool.version, name).to.not.equal('');
      if (hasDpkg) expect(tool.package, name).to.equal(name);
    }
    expect(info.networkBackend.name).to.equal('netavark');
  });

  it('reports the store, counts and configuration it was given', async () => {
    const info = await facts.info(counts);
    expect(info.store.graphRoot).to.equal(opts.graphRoot);
    expect(info.store.runRoot).to.equal(opts.runRoot);
    expect(info.store.volumePath).to.equal(opts.volumePath);
    expect(info.store.graphDriverName).to.equal('overlay');
    expect(info.store.imageCount).to.equal(3);
    expect(info.store.volumeCount).to.equal(5);
    expect(info.store.containers).to.deep.equal(counts.containers);
    // graphRoot does not exist yet: the usage is that of its nearest existing parent
    const s = statfsSync(tmp);
    expect(info.store.graphRootAllocated).to.equal(s.blocks * s.bsize);
    expect(info.store.graphRootUsed).to.be.closeTo((s.blocks - s.bfree) * s.bsize, 64 * 1024 * 1024);
    expect(info.configFiles).to.deep.equal(['/a.conf', '/b.conf']);
    expect(info.eventsLogPath).to.equal(opts.eventsLogPath);
    expect(info.remoteSocket).to.equal(opts.remoteSocket);
    expect(info.rootless).to.equal(false);
  });

  it('reports versions of tspod, its APIs and the runtime', async () => {
    const v = await facts.version();
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(v.tspodVersion).to.equal(pkg.version);
    expect(tspodVersion).to.equal(pkg.version);
    expect(v.nodeVersion).to.equal(process.versions.node);
    expect(v.kernelVersion).to.equal(os.release());
    expect(v.arch).to.equal(goArch(process.arch));
    expect(Number.isNaN(Date.parse(v.buildTime))).to.equal(false);
    expect(v.gitCommit).to.match(/^([0-9a-f]{40}|)$/);
    const info = await facts.info(counts);
    expect(v.ociRuntime.path).to.equal(info.ociRuntime.path);
    expect(v.conmon.version).to.equal(info.conmon.version);
  });

  it('serves later calls from the cache, fast', async () => {
    const t0 = performance.now();
    await facts.warm();
    expect(performance.now() - t0).to.be.below(5);
    const infoTimes: number[] = [];
    const versionTimes: number[] = [];
    for (let i = 0; i < 101; i++) {
      let t = performance.now();
      await facts.info(counts);
      infoTimes.push(performance.now() - t);
      t = performance.now();
      await facts.version();
      versionTimes.push(performance.now() - t);
    }
    expect(median(infoTimes)).to.be.below(2);
    expect(median(versionTimes)).to.be.below(0.5);
    // concurrent calls share one read of the volatile facts
    const many = await Promise.all(Array.from({ length: 20 }, () => facts.info(counts)));
    expect(new Set(many.map((i) => i.ociRuntime.path)).size).to.equal(1);
    // results are copies: changing one does not change the cache
    many[0].warnings.push('changed');
    many[0].ociRuntime.path = '/changed';
    const again = await facts.info(counts);
    expect(again.warnings).to.not.include('changed');
    expect(again.ociRuntime.path).to.not.equal('/changed');
  });

  it('follows containers.conf for runtime and helper paths, and warns when tools are missing', async () => {
    const helperDir = join(tmp, 'helpers');
    mkdirSync(helperDir, { recursive: true });
    const fake = join(helperDir, 'netavark');
    writeFileSync(fake, '#!/bin/sh\necho "netavark 9.9.9"\n');
    chmodSync(fake, 0o755);
    const base = loadContainersConf({ rootless: false, usrDir: join(tmp, 'none'), etcDir: join(tmp, 'none'), env: { HOME: tmp } });
    const conf: ContainersConf = {
      ...base,
      engine: { runtimes: { runc: [join(tmp, 'no-runc')] }, conmonPath: [join(tmp, 'no-conmon')], helperBinariesDir: [helperDir] },
      containers: { defaultCapabilities: ['CAP_NET_RAW', 'CAP_CHOWN'] },
    };
    const custom = new HostFacts({ ...opts, rootless: true, conf, env: { PATH: '' } });
    const info = await custom.info(counts);
    expect(info.rootless).to.equal(true);
    expect(info.networkBackend.path).to.equal(fake);
    expect(info.networkBackend.version).to.equal('netavark 9.9.9');
    expect(info.networkBackend.package).to.equal('');
    expect(info.ociRuntime.path).to.equal('');
    expect(info.conmon.path).to.equal('');
    expect(info.dnsServer.path).to.equal('');
    expect(info.warnings.some((w) => w.startsWith('runc'))).to.equal(true);
    expect(info.warnings.some((w) => w.startsWith('conmon'))).to.equal(true);
    expect(info.defaultCapabilities).to.deep.equal(['CAP_NET_RAW', 'CAP_CHOWN']);
    if (info.cgroupVersion === '1') expect(info.cgroupControllers).to.deep.equal([]);
  });
});

describe('host fact parsers', () => {
  it('cgroup v2 only when /sys/fs/cgroup itself is cgroup2', () => {
    const hybrid = [
      '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    ].join('\n');
    expect(cgroupVersionFromMountinfo(hybrid)).to.equal('1');
    const unified = '30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate';
    expect(cgroupVersionFromMountinfo(unified)).to.equal('2');
    expect(cgroupVersionFromMountinfo('')).to.equal('1');
  });

  it('parses /proc/self/limits, /proc/meminfo, /proc/stat and os-release', () => {
    const limits = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max processes             96365                96365                processes ',
      'Max open files            1024                 unlimited            files     ',
    ].join('\n');
    expect(parseLimits(limits)).to.deep.equal({ nofileHard: -1, nprocHard: 96365 });
    const mem = 'MemTotal:  100 kB\nMemFree:  10 kB\nMemAvailable:  50 kB\nSwapTotal: 8 kB\nSwapFree: 4 kB\n';
    expect(parseMeminfo(mem)).to.deep.equal({ memTotal: 102400, memFree: 51200, swapTotal: 8192, swapFree: 4096 });
    expect(parseMeminfo('MemTotal: 100 kB\nMemFree: 10 kB\n').memFree).to.equal(10240);
    expect(parseCpuUtilization('cpu  25 0 25 50 0 0 0 0 0 0\ncpu0 1 2 3 4\n')).to.deep.equal({
      userPercent: 25,
      systemPercent: 25,
      idlePercent: 50,
    });
    const rel = parseOsRelease('NAME="Debian GNU/Linux"\nID=debian\n# x\nPRETTY_NAME=\'A "b"\'\nVERSION_ID="12"\n');
    expect(rel).to.deep.equal({ NAME: 'Debian GNU/Linux', ID: 'debian', PRETTY_NAME: 'A "b"', VERSION_ID: '12' });
  });

  it('maps Node architectures to Go names', () => {
    expect(goArch('x64')).to.equal('amd64');
    expect(goArch('arm64')).to.equal('arm64');
    expect(goArch('ia32')).to.equal('386');
    expect(goArch('ppc64')).to.equal('ppc64le');
    expect(goArch('s390x')).to.equal('s390x');
  });

  it('module file lives where the package.json lookup expects', () => {
    expect(existsSync(fileURLToPath(new URL('../../../package.json', import.meta.url)))).to.equal(true);
  });
});
