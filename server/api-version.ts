// The API versions tspod serves, and the version prefix clients put in front of paths.
export const DOCKER_API_VERSION = '1.40';
export const DOCKER_MIN_API_VERSION = '1.24';
export const LIBPOD_API_VERSION = '5.1.0';
// Buildah release that Libpod 5.1.0 reports; podman clients read it from /_ping.
export const BUILDAH_VERSION = '1.36.0';

// Podman's grammar: "/v{version:[0-9][0-9A-Za-z.-]*}" in front of any path. Never rejected.
const VERSION_PREFIX = /^\/v([0-9][0-9A-Za-z.-]*)(?=\/|$)/;

export interface SplitPath {
  /** Version from the prefix (without the "v"), or undefined when the path had none. */
  version: string | undefined;
  /** Path without the version prefix, still percent-encoded. */
  path: string;
}

export function splitVersion(rawPath: string): SplitPath {
  const m = VERSION_PREFIX.exec(rawPath);
  if (!m) return { version: undefined, path: rawPath };
  return { version: m[1], path: rawPath.slice(m[0].length) || '/' };
}

/** Whether dotted version `v` ("1.40") is at least `min` ("1.28"), comparing numbers part by part. */
export function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map((p) => Number.parseInt(p, 10) || 0);
  const b = min.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}
