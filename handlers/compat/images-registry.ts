// Compat registry operations: pull (ImageCreate?fromImage=), push, /auth, search and
// /distribution, plus the progress-stream plumbing the Libpod handlers share.
//
// Progress streams send their headers only with the first record: an error before it (bad
// reference, unknown manifest, refused credentials) is an ordinary 4xx/5xx answer; after it, the
// error goes in the stream as Docker's {"errorDetail":{"message"},"error"} (or Libpod's {"error"}).
import type { Engine } from '../../engine/api.js';
import { EngineError } from '../../engine/errors.js';
import type { AuthInput, Platform, PullProgress, PushProgress, RegistryEngine } from '../../engine/registry/types.js';
import type { operations } from '../../generated/docker.js';
import { streamJsonLines } from '../../server/stream.js';
import { parseFilters } from '../filters.js';
import type { ApiRequest, Handler } from '../types.js';

/** The registry methods of the engine (not-implemented when the engine has none). */
export function registryOf(engine: Engine): RegistryEngine {
  const e = engine as Engine & Partial<RegistryEngine>;
  if (typeof e.imagePull !== 'function') throw new EngineError('not-implemented', 'registry operations are not available in this engine');
  return e as unknown as RegistryEngine;
}

// ---- X-Registry-Auth ----------------------------------------------------------------------

/** The X-Registry-Auth header, for the engine to decode (base64url JSON of one AuthConfig or a map of them). */
export function registryAuth(req: ApiRequest): AuthInput {
  const header = req.ctx.get('X-Registry-Auth');
  return header ? { header } : undefined;
}

// ---- streams ------------------------------------------------------------------------------

/** Records produced by a running operation, consumed by the answer. */
export class RecordQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private wake?: () => void;
  private ended = false;
  private failure: { error: unknown } | undefined;
  /** Settles with the first record, or when the work ends (true: records were produced). */
  readonly first: Promise<boolean>;
  private firstResolve!: (v: boolean) => void;

  constructor() {
    this.first = new Promise((r) => (this.firstResolve = r));
  }
  push(item: T): void {
    this.items.push(item);
    this.firstResolve(true);
    this.wake?.();
  }
  end(): void {
    this.ended = true;
    this.firstResolve(this.items.length > 0);
    this.wake?.();
  }
  fail(error: unknown): void {
    this.failure = { error };
    this.end();
  }
  get error(): unknown {
    return this.failure?.error;
  }
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      while (this.items.length) yield this.items.shift()!;
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

/**
 * Runs `work` (which pushes records), answers with the records as JSON lines once the first
 * comes, and renders an error after that with `inBand`. An error before the first record is
 * thrown (the usual error answer).
 */
export async function streamProgress<T>(
  req: ApiRequest,
  work: (q: RecordQueue<T>) => Promise<void>,
  inBand: (err: EngineError) => T,
): Promise<void> {
  const q = new RecordQueue<T>();
  work(q).then(
    () => q.end(),
    (e) => q.fail(e),
  );
  const any = await q.first;
  if (!any && q.error !== undefined) throw q.error;
  const out = (async function* () {
    for await (const r of q) yield r;
    if (q.error !== undefined) yield inBand(asEngineError(q.error));
  })();
  await streamJsonLines(req.ctx, out, req.signal);
}

export function asEngineError(e: unknown): EngineError {
  return e instanceof EngineError ? e : new EngineError('internal', e instanceof Error ? e.message : String(e));
}

// ---- Docker progress rendering ------------------------------------------------------------

/** Docker's units.HumanSize: decimal units, 4 significant digits ("2.225MB"). */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** Docker's progress bar: "[=====>      ]  1.2MB/3.4MB". */
export function progressBar(current: number, total: number | undefined): string {
  if (!total || total <= 0) return `${humanSize(current).padStart(8)}`;
  const width = 50;
  const pct = Math.min(width, Math.floor((current / total) * width));
  const bar = `[${'='.repeat(pct)}${pct < width ? '>' : ''}${' '.repeat(Math.max(0, width - pct - 1))}]`;
  return `${bar} ${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

/** "busybox:latest" for docker.io/library/busybox:latest; other registries keep their host. */
export function familiarRef(full: string): string {
  if (full.startsWith('docker.io/')) {
    const rest = full.slice('docker.io/'.length);
    return rest.startsWith('library/') && !rest.slice(8).split(/[:@]/)[0]!.includes('/') ? rest.slice(8) : rest;
  }
  return full;
}

/** A Docker JSON-message for a pull progress event (undefined: nothing to show). */
export function dockerPullMessage(p: PullProgress): Record<string, unknown>[] {
  switch (p.type) {
    case 'resolved': {
      const path = p.repository.split('/').slice(1).join('/');
      return [{ status: `Pulling from ${path}`, id: p.tagOrDigest }];
    }
    case 'layer': {
      const m: Record<string, unknown> = { status: p.status, progressDetail: {}, id: p.id };
      if ((p.status === 'Downloading' || p.status === 'Extracting') && p.current !== undefined) {
        m.progressDetail = { current: p.current, total: p.total };
        m.progress = progressBar(p.current, p.total);
      }
      return [m];
    }
    case 'done':
      return [{ status: `Digest: ${p.digest}` }, { status: `Status: ${p.upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${familiarRef(p.reference)}` }];
    default:
      return [];
  }
}

export function dockerPushMessage(p: PushProgress): Record<string, unknown>[] {
  switch (p.type) {
    case 'preparing':
      return [{ status: `The push refers to repository [${familiarRef(p.repository)}]` }];
    case 'layer': {
      if (p.status === 'Mounted from') return [{ status: `Mounted from ${familiarRef(p.from ?? '').replace(/^[^/]+\.[^/]+\//, '')}`, progressDetail: {}, id: p.id }];
      const m: Record<string, unknown> = { status: p.status, progressDetail: {}, id: p.id };
      if (p.status === 'Pushing' && p.current !== undefined) {
        m.progressDetail = { current: p.current, total: p.total };
        m.progress = progressBar(p.current, p.total);
      }
      return [m];
    }
    case 'manifest':
      return [{ status: `${p.tag}: digest: ${p.digest} size: ${p.size}` }, { progressDetail: {}, aux: { Tag: p.tag, Digest: p.digest, Size: p.size } }];
    default:
      return [];
  }
}

/** Drops Downloading/Pushing updates beyond a few per second per layer (the engine throttles too). */
const dockerError = (e: EngineError) => ({ errorDetail: { message: e.message }, error: e.message });

/** "os/arch[/variant]" into platform parts (empty parts left unset). */
export function platformOf(s: string | undefined): Partial<Platform> | undefined {
  if (!s) return undefined;
  const [os, architecture, variant] = s.split('/');
  const p: Partial<Platform> = {};
  if (os) p.os = os;
  if (architecture) p.architecture = architecture;
  if (variant) p.variant = variant;
  return p;
}

/** fromImage + tag (a digest "tag" makes name@digest; a tag replaces one in fromImage). */
export function pullReference(fromImage: string, tag: string | undefined): string {
  let ref = fromImage.trim();
  if (!tag) return ref;
  const at = ref.indexOf('@');
  if (at !== -1) ref = ref.slice(0, at);
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) ref = ref.slice(0, colon);
  return /^[a-z0-9]+:[0-9a-f]{32,}$/.test(tag) ? `${ref}@${tag}` : `${ref}:${tag}`;
}

// ---- handlers -------------------------------------------------------------------------------

type ImageCreateOp = operations['ImageCreate'];

/** POST /images/create?fromImage=: pull with Docker's progress stream. */
export const pullFromImage: Handler<ImageCreateOp> = async (req) => {
  const registry = registryOf(req.engine);
  const { query } = req;
  const reference = pullReference(query.fromImage ?? '', query.tag);
  const auth = registryAuth(req);
  await streamProgress<Record<string, unknown>>(
    req,
    async (q) => {
      await registry.imagePull({
        reference,
        shortNames: 'docker',
        auth,
        platform: platformOf(query.platform),
        policy: 'always',
        signal: req.signal,
        onProgress: (p) => {
          for (const m of dockerPullMessage(p)) q.push(m);
        },
      });
    },
    dockerError,
  );
};

type Ops = Pick<operations, 'ImagePush' | 'ImageSearch' | 'DistributionInspect' | 'SystemAuth'>;

export const registryHandlers: { [K in keyof Ops]: Handler<Ops[K]> } = {
  ImagePush: async (req) => {
    const registry = registryOf(req.engine);
    const name = req.path.name;
    const tag = req.query.tag;
    const source = tag ? pullReference(name, tag) : name;
    const auth = registryAuth(req);
    await streamProgress<Record<string, unknown>>(
      req,
      async (q) => {
        await registry.imagePush({
          source,
          auth,
          shortNames: 'docker',
          signal: req.signal,
          onProgress: (p) => {
            for (const m of dockerPushMessage(p)) q.push(m);
          },
        });
      },
      dockerError,
    );
  },

  ImageSearch: async (req) => {
    const registry = registryOf(req.engine);
    const f = parseFilters(req.query.filters);
    const bool = (k: string) => (f[k]?.length ? f[k]!.includes('true') : undefined);
    const stars = f['stars']?.length ? Number(f['stars'][0]) : undefined;
    if (stars !== undefined && !Number.isFinite(stars)) throw new EngineError('invalid-argument', `invalid filter 'stars=${f['stars']![0]}'`);
    for (const k of Object.keys(f)) if (!['is-official', 'is-automated', 'stars'].includes(k)) throw new EngineError('invalid-argument', `invalid filter '${k}'`);
    const results = await registry.imageSearch({
      term: req.query.term,
      limit: req.query.limit,
      filters: { isOfficial: bool('is-official'), isAutomated: bool('is-automated'), stars },
      auth: registryAuth(req),
      shortNames: 'docker',
    });
    return results.map((r) => ({ description: r.description, is_official: r.official, is_automated: r.automated, name: familiarRef(r.name), star_count: r.stars }));
  },

  DistributionInspect: async (req) => {
    const registry = registryOf(req.engine);
    const info = await registry.distributionInspect(req.path.name, { auth: registryAuth(req) });
    return { Descriptor: info.descriptor, Platforms: info.platforms };
  },

  SystemAuth: async (req) => {
    const registry = registryOf(req.engine);
    const body = (req.body ?? {}) as { username?: string; password?: string; serveraddress?: string; identitytoken?: string; auth?: string };
    let { username, password } = body;
    if (!username && body.auth) {
      const plain = Buffer.from(body.auth, 'base64').toString('utf8');
      const i = plain.indexOf(':');
      if (i > 0) {
        username = plain.slice(0, i);
        password = plain.slice(i + 1);
      }
    }
    const r = await registry.registryLogin({ serverAddress: body.serveraddress, username, password, identityToken: body.identitytoken });
    return { Status: r.status, IdentityToken: r.identityToken ?? '' };
  },
};
