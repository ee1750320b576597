// Host facts -> the /info and /version answers of the Docker and Libpod APIs.
import type { HostInfo, VersionReport } from '../../engine/api.js';
import { DOCKER_API_VERSION, DOCKER_MIN_API_VERSION, LIBPOD_API_VERSION } from '../../server/api-version.js';

const firstVersion = (text: string) => /\d+\.\d+(\.\d+)?[^\s,]*/.exec(text)?.[0] ?? text;

export function toDockerInfo(h: HostInfo) {
  return {
    ID: h.hostname,
    Containers: h.store.containers.total,
    ContainersRunning: h.store.containers.running,
    ContainersPaused: h.store.containers.paused,
    ContainersStopped: h.store.containers.stopped,
    Images: h.store.imageCount,
    Driver: h.store.graphDriverName,
    DriverStatus: [
      ['Backing Filesystem', 'overlayfs'],
      ['Supports d_type', 'true'],
      ['Native Overlay Diff', 'true'],
    ],
    DockerRootDir: h.store.graphRoot,
    Plugins: { Volume: ['local'], Network: ['bridge', 'macvlan', 'ipvlan'], Authorization: null, Log: ['k8s-file', 'none', 'passthrough'] },
    MemoryLimit: h.cgroupControllers.includes('memory'),
    SwapLimit: h.cgroupControllers.includes('memory'),
    KernelMemory: false,
    KernelMemoryTCP: false,
    CpuCfsPeriod: h.cgroupControllers.includes('cpu'),
    CpuCfsQuota: h.cgroupControllers.includes('cpu'),
    CPUShares: h.cgroupControllers.includes('cpu'),
    CPUSet: h.cgroupControllers.includes('cpuset'),
    PidsLimit: h.cgroupControllers.includes('pids'),
    IPv4Forwarding: h.ipv4Forwarding,
    BridgeNfIptables: h.bridgeNfIptables,
    BridgeNfIp6tables: h.bridgeNfIp6tables,
    Debug: false,
    NFd: 0,
    OomKillDisable: false,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'k8s-file',
    CgroupDriver: h.cgroupManager,
    CgroupVersion: h.cgroupVersion,
    NEventsListener: 0,
    KernelVersion: h.kernelVersion,
    OperatingSystem: h.operatingSystem,
    OSVersion: h.distribution.versionId,
    OSType: h.os,
    Architecture: h.arch,
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], InsecureRegistryCIDRs: [], IndexConfigs: {}, Mirrors: [] },
    NCPU: h.cpus,
    MemTotal: h.memTotal,
    GenericResources: null,
    HttpProxy: process.env.HTTP_PROXY ?? process.env.http_proxy ?? '',
    HttpsProxy: process.env.HTTPS_PROXY ?? process.env.https_proxy ?? '',
    NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? '',
    Name: h.hostname,
    Labels: [],
    ExperimentalBuild: true,
    ServerVersion: LIBPOD_API_VERSION,
    Runtimes: { runc: { path: h.ociRuntime.path } },
    DefaultRuntime: 'runc',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: h.initBinary.path,
    ContainerdCommit: { ID: '', Expected: '' },
    RuncCommit: { ID: firstVersion(h.ociRuntime.version), Expected: firstVersion(h.ociRuntime.version) },
    InitCommit: { ID: firstVersion(h.initBinary.version), Expected: firstVersion(h.initBinary.version) },
    SecurityOptions: [
      ...(h.seccompEnabled ? [`name=seccomp,profile=${h.seccompProfilePath || 'default'}`] : []),
      ...(h.apparmorEnabled ? ['name=apparmor'] : []),
      ...(h.selinuxEnabled ? ['name=selinux'] : []),
      ...(h.rootless ? ['name=rootless'] : []),
    ],
    Warnings: h.warnings,
  };
}

export function toLibpodInfo(h: HostInfo, v: VersionReport) {
  const tool = (t: { path: string; version: string; package: string }) => ({ package: t.package, path: t.path, version: t.version });
  return {
    host: {
      arch: h.arch,
      buildahVersion: '',
      cgroupManager: h.cgroupManager,
      cgroupVersion: `v${h.cgroupVersion}`,
      cgroupControllers: h.cgroupControllers,
      conmon: tool(h.conmon),
      cpus: h.cpus,
      cpuUtilization: null,
      databaseBackend: 'sqlite',
      distribution: { distribution: h.distribution.id, version: h.distribution.versionId, codename: h.distribution.codename },
      eventLogger: 'file',
      freeLocks: undefined, // tspod has no lock pool to run out of
      hostname: h.hostname,
      idMappings: { gidmap: null, uidmap: null },
      kernel: h.kernelVersion,
      logDriver: 'k8s-file',
      memFree: h.memFree,
      memTotal: h.memTotal,
      networkBackend: 'netavark',
      networkBackendInfo: { backend: 'netavark', version: h.networkBackend.version, package: h.networkBackend.package, path: h.networkBackend.path, dns: tool(h.dnsServer) },
      ociRuntime: { name: 'runc', ...tool(h.ociRuntime) },
      os: h.os,
      remoteSocket: { path: h.remoteSocket ?? '', exists: Boolean(h.remoteSocket) },
      rootlessNetworkCmd: '',
      serviceIsRemote: false,
      security: {
        apparmorEnabled: h.apparmorEnabled,
        capabilities: h.defaultCapabilities.join(','),
        rootless: h.rootless,
        seccompEnabled: h.seccompEnabled,
        seccompProfilePath: h.seccompProfilePath,
        selinuxEnabled: h.selinuxEnabled,
      },
      slirp4netns: { executable: '', package: '', version: '' },
      pasta: { executable: '', package: '', version: '' },
      swapFree: h.swapFree,
      swapTotal: h.swapTotal,
      uptime: formatUptime(h.uptimeSeconds),
      variant: '',
      linkmode: 'dynamic',
    },
    store: {
      configFile: h.configFiles[h.configFiles.length - 1] ?? '',
      containerStore: { number: h.store.containers.total, paused: h.store.containers.paused, running: h.store.containers.running, stopped: h.store.containers.stopped },
      graphDriverName: h.store.graphDriverName,
      graphOptions: {},
      graphRoot: h.store.graphRoot,
      graphRootAllocated: h.store.graphRootAllocated,
      graphRootUsed: h.store.graphRootUsed,
      graphStatus: { 'Backing Filesystem': 'overlayfs', 'Native Overlay Diff': 'true', 'Supports d_type': 'true', 'Supports shifting': 'false', 'Supports volatile': 'true', 'Using metacopy': 'false' },
      imageCopyTmpDir: '/var/tmp',
      imageStore: { number: h.store.imageCount },
      runRoot: h.store.runRoot,
      volumePath: h.store.volumePath,
      transientStore: false,
    },
    registries: {},
    plugins: { volume: ['local'], network: ['bridge', 'macvlan', 'ipvlan'], log: ['k8s-file', 'none', 'passthrough'], authorization: null },
    version: libpodVersionBlock(v),
  };
}

function libpodVersionBlock(v: VersionReport) {
  return {
    APIVersion: LIBPOD_API_VERSION,
    Version: LIBPOD_API_VERSION,
    GoVersion: `node ${v.nodeVersion}`,
    GitCommit: v.gitCommit,
    BuiltTime: v.buildTime ? new Date(v.buildTime).toUTCString() : '',
    Built: v.buildTime ? Math.floor(Date.parse(v.buildTime) / 1000) : 0,
    OsArch: `${v.os}/${v.arch}`,
    Os: v.os,
  };
}

function formatUptime(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return `${h}h ${m}m ${s}.00s (Approximately ${(seconds / 86400).toFixed(2)} days)`;
}

/** The compat /version answer; Libpod's /libpod/version answers the same shape (as Podman). */
export function toDockerVersion(v: VersionReport) {
  const details = {
    APIVersion: DOCKER_API_VERSION,
    Arch: v.arch,
    BuildTime: v.buildTime,
    Experimental: 'true',
    GitCommit: v.gitCommit,
    GoVersion: `node ${v.nodeVersion}`,
    KernelVersion: v.kernelVersion,
    MinAPIVersion: DOCKER_MIN_API_VERSION,
    Os: v.os,
  };
  return {
    Platform: { Name: `linux/${v.arch}/tspod` },
    Components: [
      { Name: 'Podman Engine', Version: LIBPOD_API_VERSION, Details: details },
      { Name: 'tspod', Version: v.tspodVersion, Details: { Node: v.nodeVersion } },
      { Name: 'Conmon', Version: v.conmon.version, Details: { Package: v.conmon.package } },
      { Name: 'OCI Runtime (runc)', Version: v.ociRuntime.version, Details: { Package: v.ociRuntime.package } },
    ],
    Version: LIBPOD_API_VERSION,
    ApiVersion: DOCKER_API_VERSION,
    MinAPIVersion: DOCKER_MIN_API_VERSION,
    GitCommit: v.gitCommit,
    GoVersion: `node ${v.nodeVersion}`,
    Os: v.os,
    Arch: v.arch,
    KernelVersion: v.kernelVersion,
    Experimental: true,
    BuildTime: v.buildTime,
  };
}
