// What containerCreate takes: the container's description with the image's defaults not yet
// merged in (fields left undefined mean "what the image says"). Both APIs' create bodies are
// normalised to this (create-docker.ts, create-libpod.ts); spec.ts merges the image in.
import type { ContainerSpec, HealthcheckSpec, NamespaceChoice } from './types.js';

export type ContainerCreateOptions = Omit<
  ContainerSpec,
  'imageId' | 'imageName' | 'imageDigest' | 'lowerDirs' | 'entrypoint' | 'cmd' | 'workingDir' | 'user' | 'stopSignal' | 'stopSignalName' | 'healthcheck' | 'stopTimeout' | 'secrets' | 'envSecrets'
> & {
  /** Wanted name; generated when absent. */
  name?: string;
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  user?: string;
  stopSignal?: string | number;
  stopTimeout?: number;
  /** undefined: the image's; a test of ["NONE"] disables the image's. */
  healthcheck?: HealthcheckSpec;
  /** Do not start from the image's environment (Libpod unsetenvall). */
  noImageEnv?: boolean;
  /** Variables to drop from the image's environment (Libpod unsetenv). */
  unsetEnv?: string[];
  /** Secrets to mount, named by name, ID or ID prefix (resolved at create). */
  secrets?: SecretMountRequest[];
  /** Environment variable -> secret name, ID or ID prefix (Libpod secret_env). */
  envSecrets?: Record<string, string>;
};

export interface SecretMountRequest {
  source: string;
  target: string;
  uid: number;
  gid: number;
  mode: number;
}

/** Parses a Docker-style namespace mode string ("", "host", "container:x", "private", "none", "shareable"). */
export function namespaceFromMode(mode: string, kind: 'pid' | 'ipc' | 'uts' | 'net'): NamespaceChoice {
  if (mode === 'host') return { mode: 'host' };
  if (mode.startsWith('container:')) return { mode: 'container', id: mode.slice('container:'.length) };
  if (mode.startsWith('ns:')) return { mode: 'path', path: mode.slice(3) };
  if (kind === 'net' && mode === 'none') return { mode: 'none' };
  return { mode: 'private' };
}

/** Empty option defaults shared by both normalisers. */
export function baseCreateOptions(image: string): ContainerCreateOptions {
  return {
    image,
    env: [],
    groupAdd: [],
    hostname: '',
    domainname: '',
    tty: false,
    openStdin: false,
    stdinOnce: false,
    attachStdin: false,
    attachStdout: false,
    attachStderr: false,
    labels: {},
    annotations: {},
    exposedPorts: {},
    portBindings: {},
    publishAllPorts: false,
    volumes: {},
    privileged: false,
    capAdd: [],
    capDrop: [],
    noNewPrivileges: false,
    seccomp: 'default',
    securityOpt: [],
    unmask: [],
    readonlyRootfs: false,
    sysctls: {},
    ulimits: [],
    oomScoreAdj: 0,
    shmSize: 64 * 1024 * 1024,
    mounts: [],
    binds: [],
    tmpfs: {},
    resources: {},
    init: false,
    initPath: '',
    logDriver: 'k8s-file',
    logOptions: {},
    logSizeMax: 0,
    restartPolicy: { name: 'no', maxRetries: 0 },
    autoRemove: false,
    networkMode: 'bridge',
    networks: [],
    netns: { mode: 'private' },
    pidns: { mode: 'private' },
    ipcns: { mode: 'private' },
    utsns: { mode: 'private' },
    pidMode: '',
    ipcMode: '',
    utsMode: '',
    dns: [],
    dnsSearch: [],
    dnsOptions: [],
    extraHosts: [],
    devices: [],
    cgroupParent: '',
    timeout: 0,
    extra: {},
  };
}
