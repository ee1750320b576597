// The registry domain of the engine: pull, push, login, search and distribution inspect, over
// registries.conf (aliases, search registries, mirrors, rewrites, insecure and blocked
// registries), certs.d and the image store.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadRegistriesConf, pullSources, pushDestination, type RegistriesConf, isInsecureRegistry } from '../config/registries-conf.js';
import type { EngineContext } from '../context.js';
import { EngineError } from '../errors.js';
import { formatReference, type ImageReference, normalizePullReference, parseReference, repositoryName } from '../images/reference.js';
import type { ImageStore } from '../images/image-store.js';
import { credentialsFor, normalizeAuthKey } from './auth.js';
import { certsDirs, destroyAgents, isLoopbackRegistry, RegistryClient, TokenCache } from './client.js';
import { registryStoreOf } from './image-store-adapter.js';
import { hostPlatform, parseManifest, wantedPlatform } from './manifest.js';
import { pullCandidates, resolveShortName } from './names.js';
import { fetchManifest, fetchSmallBlob, Puller } from './pull.js';
import { Pusher } from './push.js';
import { listTags, searchRegistry } from './search.js';
import type {
  AuthInput,
  Credentials,
  DistributionInfo,
  ImageConfigFile,
  LoginOptions,
  Platform,
  PullOptions,
  PullProgress,
  PullResult,
  PushOptions,
  PushResult,
  RegistryEngine,
  RegistryImageStore,
  SearchOptions,
  SearchResult,
} from './types.js';

export interface RegistryDomainOptions {
  ctx: Pick<EngineContext, 'root' | 'rootless' | 'events'>;
  store: RegistryImageStore;
  /** registries.conf as loaded (default: loaded now). */
  registriesConf?: RegistriesConf;
  env?: NodeJS.ProcessEnv;
  /** Parallel layer downloads (containers.conf image_parallel_copies; default 6). */
  parallel?: number;
}

export interface RegistryDomain extends RegistryEngine {
  readonly registriesConf: RegistriesConf;
  close(): Promise<void>;
}

const MAX_CLIENTS = 256;

export async function createRegistryDomain(opts: RegistryDomainOptions): Promise<RegistryDomain> {
  const env = opts.env ?? process.env;
  const conf = opts.registriesConf ?? loadRegistriesConf({ rootless: opts.ctx.rootless, env });
  const tmpDir = path.join(opts.ctx.root, 'registry', 'tmp');
  await fs.promises.rm(tmpDir, { recursive: true, force: true });
  await fs.promises.mkdir(tmpDir, { recursive: true, mode: 0o700 });
  const store = opts.store;
  const puller = new Puller({ store, tmpDir, parallel: opts.parallel && opts.parallel > 0 ? opts.parallel : 6 });
  const pusher = new Pusher(store);
  const tokens = new TokenCache();
  const clients = new Map<string, RegistryClient>();
  const dirs = certsDirs(env, opts.ctx.rootless);
  const authOpts = { env, rootless: opts.ctx.rootless };

  /** Whether to skip TLS verification (and allow plain HTTP) for a registry. */
  const insecureFor = (registry: string, tlsVerify: boolean | undefined, mode: 'docker' | 'libpod', confInsecure = false): boolean => {
    if (tlsVerify === false) return true;
    if (tlsVerify === true) return false;
    if (confInsecure || isInsecureRegistry(conf, registry)) return true;
    // Docker allows plain HTTP to registries on loopback addresses.
    return mode === 'docker' && isLoopbackRegistry(registry);
  };

  const clientFor = (registry: string, insecure: boolean, credentials: Credentials | undefined): RegistryClient => {
    const credKey = credentials ? JSON.stringify([credentials.username, credentials.password, credentials.identityToken, credentials.registryToken]) : '';
    const key = `${registry}|${insecure}|${credKey}`;
    let c = clients.get(key);
    if (!c) {
      if (clients.size >= MAX_CLIENTS) clients.delete(clients.keys().next().value!);
      c = new RegistryClient(registry, { insecure, credentials, certDirs: dirs, tokens });
      clients.set(key, c);
    }
    return c;
  };

  const creds = (auth: AuthInput, ref: { domain: string; path: string }) => credentialsFor(auth, `${ref.domain}/${ref.path}`, authOpts);

  const emitEvent = async (action: 'pull' | 'push', id: string, name: string) => {
    try {
      await opts.ctx.events.append({ type: 'image', action, id, name });
    } catch {
      /* the event log is best effort here */
    }
  };

  /** Pulls one fully qualified reference (mirrors first), records it, returns what happened. */
  async function pullOne(c: ImageReference, o: PullOptions, platform: Platform, emit: (p: PullProgress) => void): Promise<PullResult> {
    const logical = formatReference(c);
    const sources = pullSources(conf, logical);
    let lastErr: unknown;
    for (const src of sources) {
      const sref = normalizePullReference(src.reference);
      const client = clientFor(sref.domain, insecureFor(sref.domain, o.tlsVerify, o.shortNames, src.insecure), creds(o.auth, src.mirror ? sref : c));
      const ref = sref.digest ?? sref.tag ?? 'latest';
      let resolved;
      try {
        resolved = await puller.pull(client, sref.path, ref, platform, emit, o.signal);
      } catch (e) {
        lastErr = e;
        // A mirror that fails is skipped; the primary's error is the answer.
        if (src.mirror) continue;
        throw e;
      }
      const repo = repositoryName(c);
      const digestName = `${repo}@${(resolved.list ?? resolved.manifest).digest}`;
      const name = c.digest ? digestName : `${repo}:${c.tag ?? 'latest'}`;
      const before = await store.lookup(name);
      const repoDigests = [`${repo}@${resolved.manifest.digest}`];
      if (resolved.list) repoDigests.push(`${repo}@${resolved.list.digest}`);
      let image;
      try {
        image = await store.recordPulled({
        id: resolved.id,
        configDigest: resolved.configDigest,
        config: resolved.config,
        manifest: resolved.manifest.data,
        manifestDigest: resolved.manifest.digest,
        manifestMediaType: resolved.manifest.mediaType,
        listDigest: resolved.list?.digest,
        name,
        repoDigests,
        layers: resolved.layers,
      });
      } catch (e) {
        await resolved.lease?.abort();
        throw e;
      }
      resolved.lease?.release();
      const upToDate = resolved.existed && before?.id === resolved.id;
      const digest = (resolved.list ?? resolved.manifest).digest;
      await emitEvent('pull', image.id, c.digest ? digestName : logical);
      emit({ type: 'done', reference: logical, id: image.id, digest, upToDate });
      return { images: [image.id], reference: logical, digest, upToDate };
    }
    throw lastErr ?? new EngineError('not-found', `${logical}: no source to pull from`);
  }

  const domain: RegistryDomain = {
    registriesConf: conf,

    imageResolve: async (name) => resolveShortName(name, conf),

    async imagePull(o: PullOptions): Promise<PullResult> {
      const emit = o.onProgress ?? (() => undefined);
      const platform = wantedPlatform(o.platform);
      const policy = o.policy ?? 'always';
      if (!['always', 'missing', 'never', 'newer'].includes(policy)) throw new EngineError('invalid-argument', `unsupported pull policy ${JSON.stringify(policy)}`);
      const candidates = pullCandidates(o.reference, o.shortNames, conf);
      if (policy !== 'always') {
        const given = o.reference.replace(/^docker:\/\//, '');
        let local = await store.lookup(o.shortNames === 'docker' ? formatReference(candidates[0]!) : given);
        if (!local) for (const c of candidates) if ((local = await store.lookup(formatReference(c)))) break;
        if (policy === 'never') {
          if (!local) throw new EngineError('not-found', `${given}: image not known`, undefined, 'image not known');
          return { images: [local.id], reference: formatReference(candidates[0]!), digest: '', upToDate: true };
        }
        if (local && policy === 'missing') return { images: [local.id], reference: formatReference(candidates[0]!), digest: '', upToDate: true };
        if (local && policy === 'newer') {
          // Up to date when the registry's manifest digest is one the local image already has.
          for (const c of candidates) {
            try {
              const client = clientFor(c.domain, insecureFor(c.domain, o.tlsVerify, o.shortNames), creds(o.auth, c));
              const m = await fetchManifest(client, c.path, c.digest ?? c.tag ?? 'latest', o.signal);
              if (local.digests.some((d) => d.endsWith(m.digest))) return { images: [local.id], reference: formatReference(c), digest: m.digest, upToDate: true };
              break;
            } catch {
              continue;
            }
          }
        }
      }
      if (o.allTags) {
        const c = candidates[0]!;
        const parsed = parseReference(o.reference.replace(/^docker:\/\//, ''));
        if (parsed.tag || parsed.digest) throw new EngineError('invalid-argument', 'tag or digest can\'t be used with all-tags');
        const client = clientFor(c.domain, insecureFor(c.domain, o.tlsVerify, o.shortNames), creds(o.auth, c));
        const tags = await listTags(client, c.path, o.signal);
        const images: string[] = [];
        let last: PullResult | undefined;
        for (const tag of tags) {
          emit({ type: 'trying', reference: `${repositoryName(c)}:${tag}` });
          last = await pullOne({ domain: c.domain, path: c.path, tag }, o, platform, emit);
          for (const id of last.images) if (!images.includes(id)) images.push(id);
        }
        if (!last) throw new EngineError('not-found', `${repositoryName(c)}: no tags found`);
        return { ...last, images };
      }
      const errors: EngineError[] = [];
      for (const c of candidates) {
        emit({ type: 'trying', reference: formatReference(c) });
        try {
          return await pullOne(c, o, platform, emit);
        } catch (e) {
          const err = e instanceof EngineError ? e : new EngineError('internal', (e as Error)?.message ?? String(e), e);
          if (candidates.length === 1) throw err;
          errors.push(err);
          o.signal?.throwIfAborted();
        }
      }
      // Several candidates failed: the first that is more than "not there" decides the kind.
      const worst = errors.find((e) => e.kind !== 'not-found') ?? errors[0]!;
      throw new EngineError(worst.kind, `initializing source: ${errors.map((e) => e.message).join('; ')}`, undefined, worst.reason);
    },

    async imagePush(o: PushOptions): Promise<PushResult> {
      const emit = o.onProgress ?? (() => undefined);
      const src = await store.pushSource(o.source);
      let destText = o.destination ?? o.source;
      destText = destText.replace(/^docker:\/\//, '');
      if (!o.destination && /^(sha256:)?[0-9a-f]{12,64}$/.test(o.source)) {
        throw new EngineError('invalid-argument', `${o.source}: an image ID cannot be pushed without a destination`);
      }
      let dest: ImageReference;
      if (o.shortNames === 'libpod' && !o.destination) {
        // The image's own full name that matches what was asked for.
        const parsed = parseReference(destText);
        const found = parsed.domain ? undefined : src.names.find((n) => n.split('@')[0]!.replace(/:[^:/]+$/, '').endsWith(`/${parsed.path}`) && (!parsed.tag || n.endsWith(`:${parsed.tag}`)));
        dest = normalizePullReference(found ?? destText);
      } else dest = normalizePullReference(destText);
      if (dest.digest) throw new EngineError('invalid-argument', `cannot push to a digest reference ${formatReference(dest)}`);
      const logical = formatReference(dest);
      const target = normalizePullReference(pushDestination(conf, logical).reference);
      const client = clientFor(target.domain, insecureFor(target.domain, o.tlsVerify, o.shortNames, pushDestination(conf, logical).insecure), creds(o.auth, dest));
      const mountFrom = new Set<string>();
      for (const n of [...src.names, ...src.digests]) {
        try {
          const r = normalizePullReference(n);
          if (r.domain === target.domain) mountFrom.add(r.path);
        } catch {
          /* not a name */
        }
      }
      emit({ type: 'preparing', repository: repositoryName(target), tag: target.tag ?? 'latest' });
      const r = await pusher.push({ client, repo: target.path, tag: target.tag ?? 'latest', mountFrom: [...mountFrom], format: o.format }, src, emit, o.signal);
      await store.recordPushed(src.id, { repository: repositoryName(dest), digest: r.digest, manifest: r.manifest, mediaType: r.mediaType });
      await emitEvent('push', src.id, logical);
      emit({ type: 'done', reference: logical, digest: r.digest, size: r.size });
      return { reference: logical, digest: r.digest, size: r.size };
    },

    async registryLogin(o: LoginOptions) {
      const server = normalizeAuthKey(o.serverAddress || 'docker.io').split('/')[0]!;
      const credentials: Credentials = { username: o.username, password: o.password, identityToken: o.identityToken };
      if (!credentials.username && !credentials.identityToken) throw new EngineError('invalid-argument', 'a username (or identity token) is needed to log in');
      const client = new RegistryClient(server, { insecure: insecureFor(server, o.tlsVerify, 'docker'), credentials, certDirs: dirs, tokens: new TokenCache() });
      await client.checkLogin();
      return { status: 'Login Succeeded' };
    },

    async imageSearch(o: SearchOptions): Promise<SearchResult[]> {
      const limit = o.limit && o.limit > 0 ? o.limit : 25;
      let term = o.term.trim();
      if (!term) throw new EngineError('invalid-argument', 'a search term is needed');
      let registries: string[];
      const slash = term.indexOf('/');
      const first = slash === -1 ? '' : term.slice(0, slash);
      if (first && (first.includes('.') || first.includes(':') || first === 'localhost')) {
        registries = [normalizeAuthKey(first)];
        term = term.slice(slash + 1);
      } else if (o.shortNames === 'docker') registries = ['docker.io'];
      else {
        registries = conf.unqualifiedSearchRegistries;
        if (!registries.length) throw new EngineError('invalid-argument', `no unqualified-search registries are defined in registries.conf to search for ${JSON.stringify(term)}`);
      }
      const out: SearchResult[] = [];
      const errors: EngineError[] = [];
      for (const reg of registries) {
        const client = clientFor(reg, insecureFor(reg, o.tlsVerify, o.shortNames), credentialsFor(o.auth, reg, authOpts));
        try {
          let results = await searchRegistry(client, term, limit, undefined);
          const f = o.filters ?? {};
          results = results.filter((r) => (f.isOfficial === undefined || r.official === f.isOfficial) && (f.isAutomated === undefined || r.automated === f.isAutomated) && (f.stars === undefined || r.stars >= f.stars));
          if (o.listTags) {
            for (const r of results) {
              const repo = r.name.slice(reg.length + 1);
              for (const tag of (await listTags(client, repo)).slice(0, limit)) out.push({ ...r, tag });
            }
          } else out.push(...results.slice(0, limit));
        } catch (e) {
          errors.push(e instanceof EngineError ? e : new EngineError('internal', String(e)));
        }
      }
      if (!out.length && errors.length === registries.length && errors.length) throw errors[0]!;
      return out;
    },

    async distributionInspect(reference: string, o: { auth?: AuthInput; tlsVerify?: boolean }): Promise<DistributionInfo> {
      const c = normalizePullReference(reference);
      const src = pullSources(conf, formatReference(c)).at(-1)!;
      const sref = normalizePullReference(src.reference);
      const client = clientFor(sref.domain, insecureFor(sref.domain, o.tlsVerify, 'docker', src.insecure), creds(o.auth, c));
      const m = await fetchManifest(client, sref.path, sref.digest ?? sref.tag ?? 'latest');
      const parsed = parseManifest(m.data, m.mediaType, `reading manifest of ${formatReference(c)}`);
      const descriptor = { mediaType: parsed.mediaType, digest: m.digest, size: m.data.length };
      if (parsed.kind === 'index') {
        return { descriptor, platforms: parsed.index.manifests.filter((d) => d.platform).map((d) => ({ ...d.platform! })) };
      }
      const cfg = JSON.parse((await fetchSmallBlob(client, sref.path, parsed.manifest.config)).toString('utf8')) as ImageConfigFile;
      const p: Platform = { architecture: cfg.architecture ?? hostPlatform().architecture, os: cfg.os ?? 'linux' };
      if (cfg.variant) p.variant = cfg.variant;
      return { descriptor, platforms: [p] };
    },

    async close() {
      destroyAgents();
    },
  };
  return domain;
}

/**
 * The registry domain over the image store, as the local engine composes it: `engine` holds the
 * RegistryEngine methods. It also tells the image store the unqualified-search registries of
 * registries.conf (short-name lookups of local images try them, as Podman's do).
 */
export async function openRegistryDomain(
  ctx: EngineContext,
  images: ImageStore,
): Promise<{ engine: RegistryEngine; close(): Promise<void> }> {
  const parallel = ctx.conf.engine.imageParallelCopies;
  const domain = await createRegistryDomain({ ctx, store: registryStoreOf(images), parallel });
  images.searchRegistries = [...domain.registriesConf.unqualifiedSearchRegistries];
  const { imagePull, imagePush, registryLogin, imageSearch, distributionInspect, imageResolve } = domain;
  return { engine: { imagePull, imagePush, registryLogin, imageSearch, distributionInspect, imageResolve }, close: () => domain.close() };
}
