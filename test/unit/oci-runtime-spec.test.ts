import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { EngineError } from '../../engine/errors.js';
import { capabilitiesFromMask, parseProcLimits } from '../../engine/oci/host.js';
import {
  ALL_CAPABILITIES,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  buildRuntimeSpec,
  mergeCapabilities,
  serializeRuntimeSpec,
  type OciContainerConfig,
  type OciHostFacts,
} from '../../engine/oci/runtime-spec.js';
import { convertSeccompProfile, kernelAtLeast, type SeccompProfile } from '../../engine/oci/seccomp.js';

const profile: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 38,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  ],
  syscalls: [
    { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [], comment: '', includes: {}, excludes: {} },
    { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] }, excludes: {} },
    { names: ['arm_fadvise64_64'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm', 'arm64'] } },
    { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['bpf'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['newsys'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '9.0' } },
    {
      names: ['personality'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }],
    },
  ],
};

const facts: OciHostFacts = {
  cgroupV2: false,
  arch: 'amd64',
  kernel: '6.1.0-13-amd64',
  boundingCaps: ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE'),
  hardLimits: { RLIMIT_NOFILE: 20000, RLIMIT_NPROC: 96365, RLIMIT_CORE: 'unlimited' },
  seccompProfile: profile,
  extraMaskedPaths: ['/sys/devices/system/cpu/cpu0/thermal_throttle'],
};

const base: OciContainerConfig = { id: 'abc123', rootfs: '/var/lib/tspod/abc123/rootfs', args: ['sh', '-c', 'true'] };

function expectInvalid(fn: () => unknown, re: RegExp) {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(EngineError);
    expect((err as EngineError).kind).to.equal('invalid-argument');
    expect((err as Error).message).to.match(re);
    return;
  }
  expect.fail('expected an invalid-argument error');
}

describe('oci runtime-spec', () => {
  it('builds Podman-like defaults', () => {
    const s = buildRuntimeSpec(base, facts);
    expect(s.ociVersion).to.match(/^1\.0\./);
    expect(s.root).to.deep.equal({ path: base.rootfs, readonly: false });
    expect(s.process.args).to.deep.equal(['sh', '-c', 'true']);
    expect(s.process.cwd).to.equal('/');
    expect(s.process.user).to.deep.equal({ uid: 0, gid: 0 });
    expect(s.process.env[0]).to.match(/^PATH=/);
    expect(s.process.terminal).to.equal(false);
    expect(s.process.noNewPrivileges).to.equal(false);
    expect(s.process.capabilities.bounding).to.deep.equal([...DEFAULT_CAPABILITIES]);
    expect(s.process.capabilities.effective).to.deep.equal([...DEFAULT_CAPABILITIES]);
    expect(s.process.capabilities.permitted).to.deep.equal([...DEFAULT_CAPABILITIES]);
    expect(s.process.capabilities.inheritable).to.deep.equal([]);
    expect(s.process.capabilities.ambient).to.deep.equal([]);
    expect(s.linux.namespaces.map((n) => n.type)).to.deep.equal(['pid', 'network', 'ipc', 'uts', 'mount']);
    expect(s.linux.cgroupsPath).to.equal('/libpod_parent/libpod-abc123');
    expect(s.linux.resources.devices).to.deep.equal([{ allow: false, access: 'rwm' }]);
    expect(s.linux.maskedPaths).to.deep.equal([...DEFAULT_MASKED_PATHS, '/sys/devices/system/cpu/cpu0/thermal_throttle']);
    expect(s.linux.readonlyPaths).to.deep.equal([...DEFAULT_READONLY_PATHS]);
    expect(s.mounts.map((m) => m.destination)).to.deep.equal(['/proc', '/dev', '/sys', '/dev/pts', '/dev/mqueue', '/dev/shm', '/sys/fs/cgroup']);
    const shm = s.mounts.find((m) => m.destination === '/dev/shm')!;
    expect(shm.type).to.equal('tmpfs');
    expect(shm.options).to.include('size=67108864');
    expect(s.mounts.find((m) => m.destination === '/sys')!.options).to.include('ro');
    expect(s.mounts.find((m) => m.destination === '/sys/fs/cgroup')!.options).to.include('ro');
    expect(s.hostname).to.equal(undefined);
    expect(s.annotations).to.equal(undefined);
  });

  it('is pure: same input, same output', () => {
    const cfg: OciContainerConfig = { ...base, env: ['A=1'], mounts: [{ type: 'tmpfs', destination: '/run' }] };
    expect(JSON.stringify(buildRuntimeSpec(cfg, facts))).to.equal(JSON.stringify(buildRuntimeSpec(cfg, facts)));
    expect(cfg.env).to.deep.equal(['A=1']);
  });

  it('sets process fields', () => {
    const s = buildRuntimeSpec(
      {
        ...base,
        env: ['PATH=/bin', 'FOO=bar'],
        cwd: '/tmp',
        user: { uid: 1000, gid: 1000, additionalGids: [10, 20], umask: 0o22 },
        terminal: true,
        consoleSize: { height: 24, width: 80 },
        hostname: 'box',
        noNewPrivileges: true,
        oomScoreAdj: 500,
        readonlyRootfs: true,
        annotations: { 'io.podman.annotations.autoremove': 'TRUE' },
      },
      facts,
    );
    expect(s.process.env).to.deep.equal(['PATH=/bin', 'FOO=bar']);
    expect(s.process.cwd).to.equal('/tmp');
    expect(s.process.user).to.deep.equal({ uid: 1000, gid: 1000, umask: 0o22, additionalGids: [10, 20] });
    expect(s.process.terminal).to.equal(true);
    expect(s.process.consoleSize).to.deep.equal({ height: 24, width: 80 });
    expect(s.hostname).to.equal('box');
    expect(s.process.noNewPrivileges).to.equal(true);
    expect(s.process.oomScoreAdj).to.equal(500);
    expect(s.root.readonly).to.equal(true);
    expect(s.annotations).to.deep.equal({ 'io.podman.annotations.autoremove': 'TRUE' });
  });

  it('gives a non-root user only the added capabilities', () => {
    const s = buildRuntimeSpec({ ...base, user: { uid: 1000, gid: 1000 }, capAdd: ['net_raw'] }, facts);
    expect(s.process.capabilities.bounding).to.include('CAP_NET_RAW').and.include('CAP_CHOWN');
    expect(s.process.capabilities.effective).to.deep.equal(['CAP_NET_RAW']);
    expect(s.process.capabilities.ambient).to.deep.equal(['CAP_NET_RAW']);
  });

  it('adds and drops capabilities, within the host bounding set', () => {
    const s = buildRuntimeSpec({ ...base, capAdd: ['SYS_ADMIN', 'CAP_SYS_RESOURCE'], capDrop: ['chown', 'CAP_KILL'] }, facts);
    const b = s.process.capabilities.bounding;
    expect(b).to.include('CAP_SYS_ADMIN');
    expect(b).not.to.include('CAP_SYS_RESOURCE'); // not in the host's bounding set
    expect(b).not.to.include('CAP_CHOWN');
    expect(b).not.to.include('CAP_KILL');
    expect(mergeCapabilities(DEFAULT_CAPABILITIES, ['NET_ADMIN'], ['ALL'])).to.deep.equal(['CAP_NET_ADMIN']);
    expect(mergeCapabilities(DEFAULT_CAPABILITIES, ['ALL'], ['MKNOD'])).to.have.length(ALL_CAPABILITIES.length - 1);
    expectInvalid(() => buildRuntimeSpec({ ...base, capAdd: ['CAP_FLY'] }, facts), /unknown capability/);
  });

  it('privileged: all caps, no seccomp, no masks, rw sysfs and cgroup, all devices', () => {
    const s = buildRuntimeSpec({ ...base, privileged: true, devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }] }, facts);
    expect(s.process.capabilities.bounding).to.deep.equal(facts.boundingCaps);
    expect(s.linux.seccomp).to.equal(undefined);
    expect(s.linux.maskedPaths).to.equal(undefined);
    expect(s.linux.readonlyPaths).to.equal(undefined);
    expect(s.mounts.find((m) => m.destination === '/sys')!.options).to.include('rw');
    expect(s.mounts.find((m) => m.destination === '/sys/fs/cgroup')!.options).to.include('rw');
    expect(s.linux.resources.devices).to.deep.equal([{ allow: true, access: 'rwm' }]);
    expect(s.linux.devices).to.deep.equal([{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }]);
  });

  it('converts the seccomp profile for the container', () => {
    const s = buildRuntimeSpec(base, facts);
    const sc = s.linux.seccomp!;
    expect(sc.defaultAction).to.equal('SCMP_ACT_ERRNO');
    expect(sc.defaultErrnoRet).to.equal(38);
    expect(sc.architectures).to.deep.equal(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const names = sc.syscalls!.flatMap((c) => c.names);
    expect(names).to.include.members(['read', 'write', 'arch_prctl', 'bpf', 'personality']);
    expect(names).not.to.include('arm_fadvise64_64');
    expect(names).not.to.include('mount'); // needs CAP_SYS_ADMIN
    expect(names).not.to.include('newsys'); // needs kernel 9.0
    expect(sc.syscalls!.find((c) => c.names.includes('bpf'))!.errnoRet).to.equal(1);
    expect(sc.syscalls!.find((c) => c.names.includes('personality'))!.args).to.deep.equal([{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }]);
    const admin = buildRuntimeSpec({ ...base, capAdd: ['SYS_ADMIN'] }, facts).linux.seccomp!.syscalls!.flatMap((c) => c.names);
    expect(admin).to.include('mount');
    expect(admin).not.to.include('bpf');
    expect(buildRuntimeSpec({ ...base, seccomp: 'unconfined' }, facts).linux.seccomp).to.equal(undefined);
    expect(buildRuntimeSpec(base, { ...facts, seccompProfile: undefined }).linux.seccomp).to.equal(undefined);
    const custom = buildRuntimeSpec({ ...base, seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] } }, facts).linux.seccomp;
    expect(custom).to.deep.equal({ defaultAction: 'SCMP_ACT_ALLOW' });
  });

  it('converts the host containers-common profile when present', function () {
    const p = '/usr/share/containers/seccomp.json';
    if (!existsSync(p)) this.skip();
    const prof = JSON.parse(readFileSync(p, 'utf8')) as SeccompProfile;
    const sc = convertSeccompProfile(prof, { arch: 'amd64', kernel: '6.1.0', boundingCaps: DEFAULT_CAPABILITIES })!;
    expect(sc.defaultAction).to.equal(prof.defaultAction);
    const names = sc.syscalls!.flatMap((c) => c.names);
    expect(names).to.include.members(['read', 'write', 'execve', 'clone', 'arch_prctl']);
    for (const c of sc.syscalls!) {
      for (const k of Object.keys(c)) expect(['names', 'action', 'errnoRet', 'args']).to.include(k);
    }
    expect(kernelAtLeast('6.1.0-13-amd64', '4.8')).to.equal(true);
    expect(kernelAtLeast('4.4.0', '4.8')).to.equal(false);
  });

  it('masks and unmasks paths', () => {
    const s = buildRuntimeSpec({ ...base, maskedPaths: ['/proc/foo'], unmaskedPaths: ['/proc/kcore', '/proc/sys'] }, facts);
    expect(s.linux.maskedPaths).to.include('/proc/foo').and.not.include('/proc/kcore');
    expect(s.linux.readonlyPaths).not.to.include('/proc/sys');
    const all = buildRuntimeSpec({ ...base, unmaskedPaths: 'all' }, facts);
    expect(all.linux.maskedPaths).to.deep.equal([]);
    expect(all.linux.readonlyPaths).to.deep.equal([]);
  });

  it('clamps rlimits to the host hard limits', () => {
    const s = buildRuntimeSpec(
      {
        ...base,
        rlimits: [
          { type: 'nofile', soft: 1024, hard: 65536 },
          { type: 'RLIMIT_CORE', soft: -1, hard: 'unlimited' },
          { type: 'NPROC', soft: 100000, hard: 200000 },
        ],
      },
      facts,
    );
    const byType = Object.fromEntries(s.process.rlimits.map((r) => [r.type, r]));
    expect(byType.RLIMIT_NOFILE).to.deep.equal({ type: 'RLIMIT_NOFILE', soft: 1024, hard: 20000 });
    expect(byType.RLIMIT_NPROC).to.deep.equal({ type: 'RLIMIT_NPROC', soft: 96365, hard: 96365 });
    expect(byType.RLIMIT_CORE!.hard).to.equal(18446744073709551615n);
    const text = serializeRuntimeSpec(s);
    expect(text).to.contain('"type":"RLIMIT_CORE","soft":18446744073709551615,"hard":18446744073709551615');
    expect(() => JSON.parse(text)).not.to.throw();
    // defaults: Podman's nofile/nproc clamped
    const d = Object.fromEntries(buildRuntimeSpec(base, facts).process.rlimits.map((r) => [r.type, r]));
    expect(d.RLIMIT_NOFILE).to.deep.equal({ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 });
    expect(d.RLIMIT_NPROC).to.deep.equal({ type: 'RLIMIT_NPROC', soft: 96365, hard: 96365 });
    expectInvalid(() => buildRuntimeSpec({ ...base, rlimits: [{ type: 'bogus', soft: 1, hard: 1 }] }, facts), /unknown rlimit/);
    expectInvalid(() => buildRuntimeSpec({ ...base, rlimits: [{ type: 'nofile', soft: 10, hard: 1 }] }, facts), /greater than/);
  });

  it('builds mounts: binds, tmpfs, run dir files, shm, supersede and order', () => {
    const s = buildRuntimeSpec(
      {
        ...base,
        shmSize: 1 << 20,
        runDirFiles: [
          { source: '/run/tspod/abc/hosts', destination: '/etc/hosts' },
          { source: '/run/tspod/abc/resolv.conf', destination: '/etc/resolv.conf' },
          { source: '/run/tspod/abc/hostname', destination: '/etc/hostname', readonly: true },
        ],
        mounts: [
          { type: 'bind', source: '/srv/data', destination: '/data/', readonly: true, propagation: 'rshared' },
          { type: 'bind', source: '/srv/x', destination: '/data/x', recursive: false, options: ['nosuid'] },
          { type: 'tmpfs', destination: '/run', size: '64m', mode: 0o755, options: ['noexec'] },
          { type: 'bind', source: '/my/hosts', destination: '/etc/hosts' },
        ],
      },
      facts,
    );
    const byDest = Object.fromEntries(s.mounts.map((m) => [m.destination, m]));
    expect(byDest['/data']).to.deep.equal({ destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'ro', 'rshared'] });
    expect(byDest['/data/x']!.options).to.deep.equal(['bind', 'rw', 'rprivate', 'nosuid']);
    expect(byDest['/run']).to.deep.equal({
      destination: '/run',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['rw', 'rprivate', 'nosuid', 'nodev', 'tmpcopyup', 'size=64m', 'mode=755', 'noexec'],
    });
    expect(byDest['/etc/hosts']!.source).to.equal('/my/hosts'); // user mount wins
    expect(byDest['/etc/resolv.conf']).to.deep.equal({
      destination: '/etc/resolv.conf',
      type: 'bind',
      source: '/run/tspod/abc/resolv.conf',
      options: ['bind', 'rprivate'],
    });
    expect(byDest['/etc/hostname']!.options).to.include('ro');
    expect(byDest['/dev/shm']!.options).to.include('size=1048576');
    expect(s.mounts.filter((m) => m.destination === '/etc/hosts')).to.have.length(1);
    const order = s.mounts.map((m) => m.destination);
    expect(order.indexOf('/data')).to.be.lessThan(order.indexOf('/data/x'));
    expect(order.indexOf('/dev')).to.be.lessThan(order.indexOf('/dev/shm'));
    const hostShm = buildRuntimeSpec({ ...base, shmPath: '/run/tspod/abc/shm' }, facts).mounts.find((m) => m.destination === '/dev/shm')!;
    expect(hostShm).to.deep.include({ type: 'bind', source: '/run/tspod/abc/shm' });
    expectInvalid(() => buildRuntimeSpec({ ...base, mounts: [{ type: 'bind', source: 'rel', destination: '/x' }] }, facts), /absolute/);
    expectInvalid(() => buildRuntimeSpec({ ...base, mounts: [{ type: 'tmpfs', destination: 'x' }] }, facts), /absolute/);
  });

  it('sets namespaces: new, host, path', () => {
    const s = buildRuntimeSpec(
      {
        ...base,
        hostname: 'ignored',
        namespaces: { pid: 'host', network: { path: '/run/netns/cni-1' }, uts: 'host', ipc: 'private', cgroup: 'private' },
      },
      facts,
    );
    expect(s.linux.namespaces).to.deep.equal([
      { type: 'network', path: '/run/netns/cni-1' },
      { type: 'ipc' },
      { type: 'mount' },
      { type: 'cgroup' },
    ]);
    expect(s.hostname).to.equal(undefined);
    expect(buildRuntimeSpec(base, { ...facts, cgroupV2: true }).linux.namespaces.map((n) => n.type)).to.include('cgroup');
    const ipcHost = buildRuntimeSpec({ ...base, namespaces: { ipc: 'host' } }, facts);
    expect(ipcHost.mounts.find((m) => m.destination === '/dev/shm')).to.deep.include({ type: 'bind', source: '/dev/shm' });
    expectInvalid(() => buildRuntimeSpec({ ...base, namespaces: { mount: 'host' } }, facts), /mount namespace/);
    expectInvalid(() => buildRuntimeSpec({ ...base, namespaces: { network: { path: 'x' } } }, facts), /absolute/);
  });

  it('validates sysctls against the namespaces', () => {
    const s = buildRuntimeSpec({ ...base, sysctls: { 'net.ipv4.ping_group_range': '0 0', 'kernel.shmmax': '1000' } }, facts);
    expect(s.linux.sysctl).to.deep.equal({ 'net.ipv4.ping_group_range': '0 0', 'kernel.shmmax': '1000' });
    expectInvalid(() => buildRuntimeSpec({ ...base, namespaces: { network: 'host' }, sysctls: { 'net.ipv4.ip_forward': '1' } }, facts), /network namespace/);
    expectInvalid(() => buildRuntimeSpec({ ...base, namespaces: { ipc: 'host' }, sysctls: { 'fs.mqueue.msg_max': '1' } }, facts), /IPC/);
    expectInvalid(() => buildRuntimeSpec({ ...base, sysctls: { 'vm.swappiness': '1' } }, facts), /not namespaced/);
  });

  it('sets resources and the cgroup path', () => {
    const s = buildRuntimeSpec(
      {
        ...base,
        cgroupParent: '/mine/',
        resources: {
          memory: 64 << 20,
          memorySwap: 128 << 20,
          memoryReservation: 32 << 20,
          cpuShares: 512,
          cpuQuota: 50000,
          cpuPeriod: 100000,
          cpusetCpus: '0-1',
          pidsLimit: 100,
          blkioWeight: 300,
        },
        devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, access: 'rw' }],
      },
      facts,
    );
    expect(s.linux.cgroupsPath).to.equal('/mine/libpod-abc123');
    expect(s.linux.resources).to.deep.equal({
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
      ],
      memory: { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0-1' },
      pids: { limit: 100 },
      blockIO: { weight: 300 },
    });
    expect(buildRuntimeSpec({ ...base, resources: { pidsLimit: -1, memorySwap: -1, memory: 1 << 20 } }, facts).linux.resources).to.deep.include({
      pids: { limit: -1 },
      memory: { limit: 1 << 20, swap: -1 },
    });
    expectInvalid(() => buildRuntimeSpec({ ...base, resources: { memory: 100 << 20, memorySwap: 50 << 20 } }, facts), /swap/);
    expectInvalid(() => buildRuntimeSpec({ ...base, resources: { blkioWeight: 5 } }, facts), /blkio/);
  });

  it('rejects bad basics', () => {
    expectInvalid(() => buildRuntimeSpec({ ...base, args: [] }, facts), /no command/);
    expectInvalid(() => buildRuntimeSpec({ ...base, rootfs: 'rel' }, facts), /rootfs/);
    expectInvalid(() => buildRuntimeSpec({ ...base, cwd: 'tmp' }, facts), /working directory/);
    expectInvalid(() => buildRuntimeSpec({ ...base, env: ['NOEQUALS'] }, facts), /environment/);
    expectInvalid(() => buildRuntimeSpec({ ...base, oomScoreAdj: 5000 }, facts), /oom/);
  });

  it('reads host facts helpers', () => {
    expect(capabilitiesFromMask('000001fffeffffff')).not.to.include('CAP_SYS_RESOURCE');
    expect(capabilitiesFromMask('000001ffffffffff')).to.have.length(41);
    const limits = parseProcLimits(
      'Limit                     Soft Limit           Hard Limit           Units     \n' +
        'Max open files            1024                 20000                files     \n' +
        'Max core file size        0                    unlimited            bytes     \n',
    );
    expect(limits).to.deep.equal({ RLIMIT_NOFILE: 20000, RLIMIT_CORE: 'unlimited' });
  });
});
