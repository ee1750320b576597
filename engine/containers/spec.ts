// Merges an image's defaults into create options, giving the stored ContainerSpec. Docker's
// rules: the client's Entrypoint replaces the image's and then drops the image's Cmd; Env is
// the image's with the client's variables over it; labels, exposed ports and volumes are unions.
import type { ResolvedImage } from '../images/types.js';
import type { ContainerCreateOptions } from './create-options.js';
import { healthFromDocker } from './create-docker.js';
import { signalName, signalNumber } from './parse.js';
import type { ContainerSpec } from './types.js';

export const DEFAULT_STOP_TIMEOUT = 10;

/** KEY=value lists merged by key, later entries winning, order of first appearance kept. */
export function mergeEnv(...lists: string[][]): string[] {
  const map = new Map<string, string>();
  for (const list of lists) {
    for (const e of list) {
      const eq = e.indexOf('=');
      const key = eq < 0 ? e : e.slice(0, eq);
      map.set(key, e);
    }
  }
  return [...map.values()];
}

export function buildContainerSpec(o: ContainerCreateOptions, image: ResolvedImage, lowerDirs: string[]): ContainerSpec {
  const ic = image.config ?? {};
  // Secrets are resolved by the manager (they name objects of the secrets domain).
  const { name: _name, noImageEnv, unsetEnv, secrets: _secrets, envSecrets: _envSecrets, ...rest } = o;
  void _name, void _secrets, void _envSecrets;
  let entrypoint: string[];
  let cmd: string[];
  if (o.entrypoint !== undefined) {
    entrypoint = o.entrypoint;
    cmd = o.cmd ?? [];
  } else {
    entrypoint = ic.Entrypoint ?? [];
    cmd = o.cmd ?? ic.Cmd ?? [];
  }
  const drop = new Set(unsetEnv ?? []);
  const imageEnv = noImageEnv ? [] : (ic.Env ?? []).filter((e) => !drop.has(e.split('=')[0]!));
  const stopSig = o.stopSignal ?? ic.StopSignal ?? 'SIGTERM';
  const stopSignal = signalNumber('StopSignal', stopSig);
  const health = o.healthcheck ?? healthFromDocker('image Healthcheck', ic.Healthcheck);
  return {
    ...rest,
    imageId: image.id,
    imageName: image.requestedName ?? image.names[0] ?? '',
    ...(image.digests[0] ? { imageDigest: image.digests[0].slice(image.digests[0].indexOf('@') + 1) } : {}),
    lowerDirs,
    entrypoint,
    cmd,
    env: mergeEnv(imageEnv, o.env),
    workingDir: o.workingDir || ic.WorkingDir || '/',
    user: o.user ?? ic.User ?? '',
    stopSignal,
    stopSignalName: signalName(stopSignal),
    stopTimeout: o.stopTimeout ?? DEFAULT_STOP_TIMEOUT,
    labels: { ...(ic.Labels ?? {}), ...o.labels },
    exposedPorts: { ...(ic.ExposedPorts ?? {}), ...o.exposedPorts },
    volumes: { ...(ic.Volumes ?? {}), ...o.volumes },
    ...(health && !(health.test.length === 1 && health.test[0] === 'NONE') ? { healthcheck: health } : {}),
  };
}

/** The command the container runs: entrypoint + cmd. */
export function containerArgs(spec: ContainerSpec): string[] {
  return [...spec.entrypoint, ...spec.cmd];
}
