// Libpod registry operations: pull, push and search, with Libpod's stream shapes:
// pull {"stream"} lines, then {"images":[id],"id":id} (or {"error"}); push {"stream"} lines, then
// (API 5 and later) {"manifestdigest"} (or {"error"}).
import { EngineError } from '../../engine/errors.js';
import type { Platform, PullPolicy, PullProgress, PushProgress } from '../../engine/registry/types.js';
import type { operations } from '../../generated/libpod.js';
import { parseFilters } from '../filters.js';
import { asEngineError, dockerPullMessage, platformOf, registryAuth, registryOf, streamProgress } from '../compat/images-registry.js';
import type { ApiRequest, Handler } from '../types.js';

type Ops = Pick<operations, 'ImagePullLibpod' | 'ImagePushLibpod' | 'ImageSearchLibpod'>;

/** A raw query value (parameters the spec does not list are not in req.query). */
function raw(req: ApiRequest, ...names: string[]): string | undefined {
  const sp = req.ctx.URL.searchParams;
  for (const n of names) {
    const v = sp.get(n);
    if (v !== null) return v;
  }
  return undefined;
}

function rawBool(req: ApiRequest, name: string): boolean | undefined {
  const v = raw(req, name);
  if (v === undefined || v === '') return undefined;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new EngineError('invalid-argument', `invalid query parameter ${JSON.stringify(name)}: must be boolean`);
}

/** The API version's major number (from the path prefix), when given. */
function apiMajor(req: ApiRequest): number | undefined {
  const m = /^v?(\d+)/.exec(req.version ?? '');
  return m ? Number(m[1]) : undefined;
}

function libpodPullLine(p: PullProgress): string | undefined {
  switch (p.type) {
    case 'trying':
      return `Trying to pull ${p.reference}...\n`;
    case 'resolved':
      return 'Getting image source signatures\n';
    case 'layer':
      if (p.status === 'Pulling fs layer') return `Copying blob ${p.digest}\n`;
      if (p.status === 'Already exists') return `Copying blob ${p.digest} skipped: already exists\n`;
      return undefined;
    case 'config':
      return `Copying config ${p.digest}\n`;
    case 'writing-manifest':
      return 'Writing manifest to image destination\n';
    default:
      return undefined;
  }
}

function libpodPushLine(p: PushProgress): string | undefined {
  switch (p.type) {
    case 'preparing':
      return 'Getting image source signatures\n';
    case 'layer':
      if (p.status === 'Preparing') return `Copying blob ${p.digest}\n`;
      if (p.status === 'Layer already exists') return `Copying blob ${p.digest} skipped: already exists\n`;
      return undefined;
    case 'config':
      return `Copying config ${p.digest}\n`;
    case 'manifest':
      return 'Writing manifest to image destination\n';
    default:
      return undefined;
  }
}

export const registryHandlers: { [K in keyof Ops]: Handler<Ops[K]> } = {
  ImagePullLibpod: async (req) => {
    const registry = registryOf(req.engine);
    const q = req.query;
    const reference = q.reference ?? raw(req, 'reference');
    if (!reference) throw new EngineError('invalid-argument', 'reference parameter cannot be empty');
    const policy = (q.policy ?? raw(req, 'policy') ?? 'always') as PullPolicy;
    if (!['always', 'missing', 'never', 'newer'].includes(policy)) throw new EngineError('invalid-argument', `unsupported pull policy ${JSON.stringify(policy)}`);
    let platform: Partial<Platform> | undefined = platformOf(raw(req, 'platform'));
    const os = q.OS ?? raw(req, 'OS', 'os');
    const arch = q.Arch ?? raw(req, 'Arch', 'arch');
    const variant = q.Variant ?? raw(req, 'Variant', 'variant');
    if (os || arch || variant) platform = { ...platform, ...(os ? { os } : {}), ...(arch ? { architecture: arch } : {}), ...(variant ? { variant } : {}) };
    const quiet = rawBool(req, 'quiet') ?? false;
    // Only when given: registries.conf decides otherwise (the spec's default would hide that).
    const tlsVerify = rawBool(req, 'tlsVerify');
    const auth = registryAuth(req);
    // compatMode: Docker's progress stream (Podman 5's docker-compatible pull output).
    const compat = rawBool(req, 'compatMode') ?? false;
    await streamProgress<Record<string, unknown>>(
      req,
      async (out) => {
        const r = await registry.imagePull({
          reference,
          shortNames: 'libpod',
          auth,
          tlsVerify,
          platform,
          policy,
          allTags: q.allTags ?? false,
          signal: req.signal,
          onProgress: (p) => {
            if (quiet) return;
            if (compat) {
              for (const m of dockerPullMessage(p)) out.push(m);
              return;
            }
            const line = libpodPullLine(p);
            if (line) out.push({ stream: line });
          },
        });
        if (!compat) out.push({ images: r.images, id: r.images.at(-1) });
      },
      (e) => (compat ? { errorDetail: { message: e.message }, error: e.message } : { error: e.message }),
    );
  },

  ImagePushLibpod: async (req) => {
    const registry = registryOf(req.engine);
    const q = req.query;
    const destination = q.destination ?? raw(req, 'destination');
    const quiet = rawBool(req, 'quiet') ?? false;
    const format = raw(req, 'format');
    if (format && !['oci', 'v2s2', 'docker'].includes(format)) throw new EngineError('invalid-argument', `unsupported manifest format ${JSON.stringify(format)} (oci, v2s2)`);
    const auth = registryAuth(req);
    const v5 = (apiMajor(req) ?? 5) >= 5;
    await streamProgress<Record<string, unknown>>(
      req,
      async (out) => {
        const r = await registry.imagePush({
          source: req.path.name,
          destination: destination || undefined,
          auth,
          tlsVerify: rawBool(req, 'tlsVerify'),
          format: format === 'oci' ? 'oci' : format ? 'v2s2' : undefined,
          shortNames: 'libpod',
          signal: req.signal,
          onProgress: (p) => {
            if (quiet) return;
            const line = libpodPushLine(p);
            if (line) out.push({ stream: line });
          },
        });
        // Podman 4 clients refuse records with neither stream nor error.
        if (v5) out.push({ manifestdigest: r.digest });
      },
      (e) => ({ error: e.message }),
    );
  },

  ImageSearchLibpod: async (req) => {
    const registry = registryOf(req.engine);
    const f = parseFilters(req.query.filters);
    const bool = (k: string) => (f[k]?.length ? f[k]!.includes('true') : undefined);
    const stars = f['stars']?.length ? Number(f['stars'][0]) : undefined;
    if (stars !== undefined && !Number.isFinite(stars)) throw new EngineError('invalid-argument', `invalid filter "stars=${f['stars']![0]}"`);
    for (const k of Object.keys(f)) if (!['is-official', 'is-automated', 'stars'].includes(k)) throw new EngineError('invalid-argument', `invalid filter "${k}"`);
    try {
      const results = await registry.imageSearch({
        term: req.query.term ?? '',
        limit: req.query.limit,
        filters: { isOfficial: bool('is-official'), isAutomated: bool('is-automated'), stars },
        tlsVerify: rawBool(req, 'tlsVerify'),
        listTags: req.query.listTags,
        auth: registryAuth(req),
        shortNames: 'libpod',
      });
      return results.map((r) => ({
        Index: r.index,
        Name: r.name,
        Description: r.description,
        Stars: r.stars,
        Official: r.official ? '[OK]' : '',
        Automated: r.automated ? '[OK]' : '',
        Tag: r.tag ?? '',
      }));
    } catch (e) {
      throw asEngineError(e);
    }
  },
};
