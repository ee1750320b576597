// registries.conf(5) loading and lookups, the way containers/image (sysregistriesv2) does them.
//
// Files, lowest precedence first:
//   /etc/containers/registries.conf                              (replaced by the user file below
//   $XDG_CONFIG_HOME/containers/registries.conf                   when that exists; rootless only)
//   /etc/containers/registries.conf.d/*.conf                     (sorted by name)
//   $XDG_CONFIG_HOME/containers/registries.conf.d/*.conf         (rootless only)
// When CONTAINERS_REGISTRIES_CONF is set it names the only file (no drop-ins). A drop-in replaces
// the top-level keys it sets, merges `[aliases]` key by key, and replaces `[[registry]]` entries
// with the same prefix (adding the others).
//
// Both formats are read: v2 (`unqualified-search-registries`, `[aliases]`, `[[registry]]` with
// prefix/location/insecure/blocked/mirror-by-digest-only and `[[registry.mirror]]`) and the old v1
// tables (`[registries.search] registries`, `[registries.insecure]`, `[registries.block]`).
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { EngineError } from '../errors.js';

export type PullFromMirror = 'all' | 'digest-only' | 'tag-only';

export interface RegistryMirror {
  location: string;
  insecure: boolean;
  pullFromMirror: PullFromMirror;
}

export interface RegistryEntry {
  /** What references this entry applies to: "host[:port][/path]" or "*.domain". */
  prefix: string;
  /** Where to go instead (defaults to the prefix; empty for wildcard prefixes). */
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrorByDigestOnly: boolean;
  mirrors: RegistryMirror[];
}

export interface RegistriesConf {
  unqualifiedSearchRegistries: string[];
  /** Short name → fully qualified name (no tag or digest). */
  aliases: Record<string, string>;
  registries: RegistryEntry[];
  shortNameMode?: 'enforcing' | 'permissive' | 'disabled';
  credentialHelpers?: string[];
  /** Files read, in order. */
  files: string[];
}

export interface LoadRegistriesConfOptions {
  rootless?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Overrides for tests. */
  systemFile?: string;
  systemDropInDir?: string;
  home?: string;
}

interface Layer {
  unqualifiedSearchRegistries?: string[];
  aliases: Record<string, string>;
  registries: RegistryEntry[];
  shortNameMode?: RegistriesConf['shortNameMode'];
  credentialHelpers?: string[];
}

const bad = (file: string, msg: string) => new EngineError('invalid-argument', `registries.conf ${file}: ${msg}`);

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

function dropIns(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => n.endsWith('.conf'))
      .sort()
      .map((n) => join(dir, n));
  } catch {
    return [];
  }
}

function strArray(v: unknown, file: string, key: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(file, `${key} must be an array of strings`);
  return v as string[];
}

function bool(v: unknown, file: string, key: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw bad(file, `${key} must be a boolean`);
  return v;
}

/** Strips a scheme some users write in locations ("https://quay.io" → "quay.io") and a trailing "/". */
function cleanLocation(s: string): string {
  return s.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
}

function parseLayer(text: string, file: string): Layer {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) throw bad(file, e.message.split('\n')[0] ?? 'invalid TOML');
    throw e;
  }
  const layer: Layer = { aliases: {}, registries: [] };
  if (doc['unqualified-search-registries'] !== undefined) {
    layer.unqualifiedSearchRegistries = strArray(doc['unqualified-search-registries'], file, 'unqualified-search-registries').map(cleanLocation);
  }
  const mode = doc['short-name-mode'];
  if (mode !== undefined) {
    if (mode !== 'enforcing' && mode !== 'permissive' && mode !== 'disabled') throw bad(file, `invalid short-name-mode ${JSON.stringify(mode)}`);
    layer.shortNameMode = mode;
  }
  if (doc['credential-helpers'] !== undefined) layer.credentialHelpers = strArray(doc['credential-helpers'], file, 'credential-helpers');
  const aliases = doc['aliases'];
  if (aliases !== undefined) {
    if (typeof aliases !== 'object' || aliases === null || Array.isArray(aliases)) throw bad(file, '[aliases] must be a table');
    for (const [k, v] of Object.entries(aliases)) {
      if (typeof v !== 'string') throw bad(file, `alias ${k} must be a string`);
      layer.aliases[k] = v;
    }
  }
  // v1 format.
  const v1 = doc['registries'];
  if (v1 !== undefined) {
    if (typeof v1 !== 'object' || v1 === null) throw bad(file, '[registries] must be a table');
    const t = v1 as Record<string, { registries?: unknown } | undefined>;
    const list = (k: string) => (t[k]?.registries === undefined ? [] : strArray(t[k]!.registries, file, `registries.${k}.registries`).map(cleanLocation));
    const search = list('search');
    if (search.length) layer.unqualifiedSearchRegistries = search;
    const entry = (prefix: string): RegistryEntry => {
      let e = layer.registries.find((r) => r.prefix === prefix);
      if (!e) layer.registries.push((e = { prefix, location: prefix, insecure: false, blocked: false, mirrorByDigestOnly: false, mirrors: [] }));
      return e;
    };
    for (const r of list('insecure')) entry(r).insecure = true;
    for (const r of list('block')) entry(r).blocked = true;
  }
  const v2 = doc['registry'];
  if (v2 !== undefined) {
    if (!Array.isArray(v2)) throw bad(file, '[[registry]] must be an array of tables');
    for (const [i, raw] of (v2 as unknown[]).entries()) {
      if (typeof raw !== 'object' || raw === null) throw bad(file, `[[registry]] #${i + 1} must be a table`);
      const r = raw as Record<string, unknown>;
      const location = typeof r['location'] === 'string' ? cleanLocation(r['location']) : '';
      const prefix = typeof r['prefix'] === 'string' && r['prefix'] !== '' ? cleanLocation(r['prefix']) : location;
      if (!prefix) throw bad(file, `[[registry]] #${i + 1} needs a prefix or location`);
      if (prefix.startsWith('*') && !/^\*\.[^*]+$/.test(prefix)) throw bad(file, `invalid wildcard prefix ${JSON.stringify(prefix)}`);
      if (prefix.startsWith('*') && location) throw bad(file, `wildcard prefix ${JSON.stringify(prefix)} cannot have a location`);
      const mirrors: RegistryMirror[] = [];
      if (r['mirror'] !== undefined) {
        if (!Array.isArray(r['mirror'])) throw bad(file, `[[registry.mirror]] of ${prefix} must be an array of tables`);
        for (const m of r['mirror'] as Array<Record<string, unknown>>) {
          if (typeof m?.['location'] !== 'string' || !m['location']) throw bad(file, `a mirror of ${prefix} has no location`);
          const pfm = m['pull-from-mirror'] ?? 'all';
          if (pfm !== 'all' && pfm !== 'digest-only' && pfm !== 'tag-only' && pfm !== '') throw bad(file, `invalid pull-from-mirror ${JSON.stringify(pfm)}`);
          mirrors.push({ location: cleanLocation(m['location']), insecure: bool(m['insecure'], file, 'mirror insecure'), pullFromMirror: (pfm || 'all') as PullFromMirror });
        }
      }
      layer.registries.push({
        prefix,
        location: prefix.startsWith('*') ? '' : location || prefix,
        insecure: bool(r['insecure'], file, 'insecure'),
        blocked: bool(r['blocked'], file, 'blocked'),
        mirrorByDigestOnly: bool(r['mirror-by-digest-only'], file, 'mirror-by-digest-only'),
        mirrors,
      });
    }
  }
  return layer;
}

/** Loads registries.conf (and drop-ins) as containers/image does; missing files are skipped. */
export function loadRegistriesConf(opts: LoadRegistriesConfOptions = {}): RegistriesConf {
  const env = opts.env ?? process.env;
  const home = opts.home ?? env['HOME'] ?? homedir();
  const configHome = env['XDG_CONFIG_HOME'] || join(home, '.config');
  const files: string[] = [];
  const only = env['CONTAINERS_REGISTRIES_CONF'];
  if (only) {
    files.push(only);
  } else {
    const userFile = join(configHome, 'containers', 'registries.conf');
    const main = opts.rootless && readOptional(userFile) !== undefined ? userFile : (opts.systemFile ?? '/etc/containers/registries.conf');
    files.push(main);
    files.push(...dropIns(opts.systemDropInDir ?? '/etc/containers/registries.conf.d'));
    if (opts.rootless) files.push(...dropIns(join(configHome, 'containers', 'registries.conf.d')));
  }
  const conf: RegistriesConf = { unqualifiedSearchRegistries: [], aliases: {}, registries: [], files: [] };
  for (const file of files) {
    const text = readOptional(file);
    if (text === undefined) {
      if (only) throw new EngineError('invalid-argument', `registries.conf ${file}: no such file`);
      continue;
    }
    conf.files.push(file);
    const layer = parseLayer(text, file);
    if (layer.unqualifiedSearchRegistries) conf.unqualifiedSearchRegistries = layer.unqualifiedSearchRegistries;
    if (layer.shortNameMode) conf.shortNameMode = layer.shortNameMode;
    if (layer.credentialHelpers) conf.credentialHelpers = layer.credentialHelpers;
    Object.assign(conf.aliases, layer.aliases);
    for (const r of layer.registries) {
      const i = conf.registries.findIndex((x) => x.prefix === r.prefix);
      if (i === -1) conf.registries.push(r);
      else conf.registries[i] = r;
    }
  }
  return conf;
}

/** Whether `prefix` (a registries.conf prefix) applies to the reference name `name` (no tag/digest needed). */
export function prefixMatches(prefix: string, name: string): boolean {
  if (prefix.startsWith('*.')) {
    const host = name.split('/')[0]!;
    return host.endsWith(prefix.slice(1));
  }
  if (!name.startsWith(prefix)) return false;
  if (name.length === prefix.length) return true;
  const next = name[prefix.length];
  return next === '/' || next === ':' || next === '@';
}

/** The [[registry]] entry for a reference (longest matching prefix; exact prefixes before wildcards). */
export function findRegistry(conf: RegistriesConf, name: string): RegistryEntry | undefined {
  let best: RegistryEntry | undefined;
  let bestLen = -Infinity;
  for (const r of conf.registries) {
    if (!prefixMatches(r.prefix, name)) continue;
    // A wildcard matches less specifically than any exact prefix.
    const len = r.prefix.startsWith('*') ? r.prefix.length - 1 - 10_000 : r.prefix.length;
    if (len > bestLen) {
      best = r;
      bestLen = len;
    }
  }
  return best;
}

export interface PullSource {
  /** The reference to fetch from ("mirror.example/library/busybox:latest"). */
  reference: string;
  insecure: boolean;
  mirror: boolean;
}

/**
 * Where to pull a fully qualified reference ("docker.io/library/busybox:latest") from: the
 * mirrors that apply, in order, then the (possibly rewritten) primary location.
 * Throws forbidden when the registry is blocked.
 */
export function pullSources(conf: RegistriesConf, reference: string): PullSource[] {
  const entry = findRegistry(conf, reference);
  if (!entry) return [{ reference, insecure: false, mirror: false }];
  if (entry.blocked) throw new EngineError('forbidden', `registry ${reference.split('/')[0]} is blocked in registries.conf`);
  const rewrite = (location: string) => (entry.prefix.startsWith('*') || !location ? reference : location + reference.slice(entry.prefix.length));
  const byDigest = reference.includes('@');
  const out: PullSource[] = [];
  for (const m of entry.mirrors) {
    if (entry.mirrorByDigestOnly && !byDigest) continue;
    if (m.pullFromMirror === 'digest-only' && !byDigest) continue;
    if (m.pullFromMirror === 'tag-only' && byDigest) continue;
    out.push({ reference: rewrite(m.location), insecure: m.insecure, mirror: true });
  }
  out.push({ reference: rewrite(entry.location), insecure: entry.insecure, mirror: false });
  return out;
}

/** Where to push a fully qualified reference (the rewritten primary location; no mirrors). */
export function pushDestination(conf: RegistriesConf, reference: string): PullSource {
  const sources = pullSources(conf, reference);
  return sources[sources.length - 1]!;
}

/** Whether a registry host (host[:port]) is marked insecure. */
export function isInsecureRegistry(conf: RegistriesConf, host: string): boolean {
  const entry = findRegistry(conf, host);
  if (entry?.insecure) return true;
  for (const r of conf.registries) for (const m of r.mirrors) if (m.insecure && (m.location === host || m.location.startsWith(`${host}/`))) return true;
  return false;
}

/**
 * Candidates for a short name (no registry) on the Libpod API: the alias when there is one, else
 * each unqualified-search registry in order. `name` is the path without tag/digest; the tag or
 * digest is for the caller to append. docker.io candidates get "library/" for one-component names.
 */
export function shortNameCandidates(conf: RegistriesConf, name: string): { candidates: string[]; alias: boolean } {
  const alias = conf.aliases[name];
  if (alias) return { candidates: [alias], alias: true };
  return {
    candidates: conf.unqualifiedSearchRegistries.map((r) => (r === 'docker.io' && !name.includes('/') ? `docker.io/library/${name}` : `${r}/${name}`)),
    alias: false,
  };
}
