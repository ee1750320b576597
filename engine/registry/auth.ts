// Registry credentials: the X-Registry-Auth header (base64url JSON), auth.json files, and the
// WWW-Authenticate challenges registries answer with.
//
// auth.json files, first match wins (as containers/image reads them):
//   $REGISTRY_AUTH_FILE (when set)
//   $XDG_RUNTIME_DIR/containers/auth.json (rootless) or /run/containers/<uid>/auth.json (root)
//   $XDG_CONFIG_HOME/containers/auth.json ($HOME/.config when unset)
//   $HOME/.docker/config.json
//   $HOME/.dockercfg (the old format: the auths map at top level)
// Keys are "host", "host/namespace/repo" (the most specific key matching the repository wins)
// or URLs ("https://index.docker.io/v1/" for docker.io).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { EngineError } from '../errors.js';
import type { AuthInput, Credentials } from './types.js';

interface AuthConfigJson {
  username?: string;
  password?: string;
  auth?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
  email?: string;
}

function fromJson(j: AuthConfigJson): Credentials | undefined {
  const c: Credentials = {};
  if (j.auth) {
    const plain = Buffer.from(j.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) {
      c.username = plain.slice(0, colon);
      c.password = plain.slice(colon + 1);
    }
  }
  if (j.username) c.username = j.username;
  if (j.password) c.password = j.password;
  if (j.identitytoken) c.identityToken = j.identitytoken;
  if (j.registrytoken) c.registryToken = j.registrytoken;
  return c.username || c.identityToken || c.registryToken ? c : undefined;
}

/** Normalises an auth.json key or serveraddress to "host[/path]" (docker.io for Docker Hub). */
export function normalizeAuthKey(key: string): string {
  let k = key.trim().replace(/^[a-z]+:\/\//i, '');
  k = k.replace(/\/+$/, '');
  if (k.endsWith('/v1') || k.endsWith('/v2')) k = k.slice(0, -3);
  const host = k.split('/')[0]!;
  if (host === 'index.docker.io' || host === 'registry-1.docker.io' || host === 'registry.hub.docker.com') k = 'docker.io' + k.slice(host.length);
  return k;
}

/**
 * Decodes an X-Registry-Auth header: base64url JSON of one AuthConfig
 * ({username, password, serveraddress, identitytoken}) or of a map server → AuthConfig (as
 * podman and docker build send). Empty, "{}" and "null" mean none.
 */
export function decodeRegistryAuth(header: string | undefined): AuthInput {
  if (!header || header === 'null' || header === '{}') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(header.trim(), 'base64').toString('utf8'));
  } catch {
    try {
      json = JSON.parse(header);
    } catch {
      throw new EngineError('invalid-argument', 'failed to parse "X-Registry-Auth" header: invalid base64 JSON');
    }
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const obj = json as Record<string, unknown>;
  const single = ['username', 'password', 'auth', 'identitytoken', 'registrytoken', 'serveraddress'].some((k) => k in obj);
  if (single) return fromJson(obj as AuthConfigJson);
  const perRegistry: Record<string, Credentials> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v && typeof v === 'object') {
      const c = fromJson(v as AuthConfigJson);
      if (c) perRegistry[normalizeAuthKey(k)] = c;
    }
  }
  return Object.keys(perRegistry).length ? { perRegistry } : undefined;
}

export interface AuthFileOptions {
  env?: NodeJS.ProcessEnv;
  rootless?: boolean;
  uid?: number;
}

/** The auth.json files to look in, in order. */
export function authFiles(opts: AuthFileOptions = {}): string[] {
  const env = opts.env ?? process.env;
  const home = env['HOME'] || homedir();
  const files: string[] = [];
  if (env['REGISTRY_AUTH_FILE']) files.push(env['REGISTRY_AUTH_FILE']);
  const uid = opts.uid ?? process.getuid?.() ?? 0;
  if (opts.rootless && env['XDG_RUNTIME_DIR']) files.push(join(env['XDG_RUNTIME_DIR'], 'containers', 'auth.json'));
  else files.push(`/run/containers/${uid}/auth.json`);
  if (env['XDG_RUNTIME_DIR'] && !opts.rootless) files.push(join(env['XDG_RUNTIME_DIR'], 'containers', 'auth.json'));
  files.push(join(env['XDG_CONFIG_HOME'] || join(home, '.config'), 'containers', 'auth.json'));
  files.push(join(env['DOCKER_CONFIG'] || join(home, '.docker'), 'config.json'));
  files.push(join(home, '.dockercfg'));
  return files;
}

function readAuths(file: string): Record<string, AuthConfigJson> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    if (file.endsWith('.dockercfg')) return j as Record<string, AuthConfigJson>;
    return (j['auths'] as Record<string, AuthConfigJson> | undefined) ?? {};
  } catch {
    return undefined;
  }
}

/** Credentials for a repository ("host/path") from the auth files; the most specific key wins. */
export function credentialsFromFiles(repository: string, opts: AuthFileOptions = {}): Credentials | undefined {
  for (const file of authFiles(opts)) {
    const auths = readAuths(file);
    if (!auths) continue;
    let best: Credentials | undefined;
    let bestLen = -1;
    for (const [key, value] of Object.entries(auths)) {
      const k = normalizeAuthKey(key);
      if (repository === k || repository.startsWith(`${k}/`)) {
        const c = fromJson(value);
        if (c && k.length > bestLen) {
          best = c;
          bestLen = k.length;
        }
      }
    }
    if (best) return best;
  }
  return undefined;
}

/** The credentials to use for `repository` ("host/path"): the request's, else the auth files'. */
export function credentialsFor(input: AuthInput, repository: string, opts: AuthFileOptions = {}): Credentials | undefined {
  const given: Exclude<AuthInput, { header: string }> = input && 'header' in input ? (decodeRegistryAuth(input.header) as Exclude<AuthInput, { header: string }>) : input;
  if (given) {
    if ('perRegistry' in given) {
      let best: Credentials | undefined;
      let bestLen = -1;
      for (const [k, c] of Object.entries(given.perRegistry)) {
        if ((repository === k || repository.startsWith(`${k}/`)) && k.length > bestLen) {
          best = c;
          bestLen = k.length;
        }
      }
      if (best) return best;
    } else if (given.username || given.identityToken || given.registryToken) {
      return given;
    }
  }
  return credentialsFromFiles(repository, opts);
}

export interface Challenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

/** Parses WWW-Authenticate (one or more challenges; the Bearer one preferred). */
export function parseChallenge(header: string | string[] | undefined): Challenge | undefined {
  if (!header) return undefined;
  const text = Array.isArray(header) ? header.join(', ') : header;
  const out: Challenge[] = [];
  const re = /([A-Za-z]+)\s+((?:[A-Za-z0-9_.-]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?\s*)*)/g;
  for (const m of text.matchAll(re)) {
    const scheme = m[1]!.toLowerCase();
    if (scheme !== 'bearer' && scheme !== 'basic') continue;
    const params: Record<string, string> = {};
    for (const p of m[2]!.matchAll(/([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
      params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
    }
    out.push({ scheme, params });
  }
  return out.find((c) => c.scheme === 'bearer') ?? out[0];
}
