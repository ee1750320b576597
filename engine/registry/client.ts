// A client of the Registry HTTP API v2 (the OCI distribution spec), on node:https (plain-HTTP
// registries through an https.Agent that connects without TLS).
//
// One client per registry host and credentials. It pings /v2/ first: that decides the scheme
// (HTTPS; plain HTTP only for insecure registries, after HTTPS failed) and tells which auth the
// registry wants (WWW-Authenticate). Bearer tokens are fetched from the realm per scope set and
// cached until they expire; basic auth is sent on every request. Blob GETs follow redirects
// (without credentials when the redirect leaves the registry).
//
// TLS: CAs are the system's plus `<certs.d>/<host[:port]>/*.crt`; a `*.cert` with its `*.key`
// is a client certificate. certs.d directories: $TSPOD_CERTS_D (colon-separated) when set,
// else ($XDG_CONFIG_HOME/containers/certs.d for rootless,) /etc/containers/certs.d,
// /etc/docker/certs.d; the first that has a directory for the host is used.
import { readdirSync, readFileSync } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { EngineError, type ErrorKind } from '../errors.js';
import { type Challenge, parseChallenge } from './auth.js';
import type { Credentials } from './types.js';

export const USER_AGENT = 'tspod/0.1.0';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

type AgentLike = https.Agent;

export interface TlsFiles {
  ca: string[];
  cert?: string;
  key?: string;
  dir?: string;
}

/** The certs.d directories to look in. */
export function certsDirs(env: NodeJS.ProcessEnv = process.env, rootless = false): string[] {
  if (env['TSPOD_CERTS_D']) return env['TSPOD_CERTS_D'].split(':').filter(Boolean);
  const dirs: string[] = [];
  if (rootless) dirs.push(join(env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config'), 'containers', 'certs.d'));
  dirs.push('/etc/containers/certs.d', '/etc/docker/certs.d');
  return dirs;
}

/** CA and client certificates for a registry host from the first certs.d directory that has it. */
export function tlsFilesFor(host: string, dirs: string[]): TlsFiles {
  for (const base of dirs) {
    const dir = join(base, host);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    const out: TlsFiles = { ca: [], dir };
    for (const n of names) {
      if (n.endsWith('.crt')) out.ca.push(readFileSync(join(dir, n), 'utf8'));
      else if (n.endsWith('.cert')) {
        const keyName = n.slice(0, -5) + '.key';
        if (!names.includes(keyName)) throw new EngineError('invalid-argument', `missing key ${keyName} for client certificate ${join(dir, n)}`);
        out.cert = readFileSync(join(dir, n), 'utf8');
        out.key = readFileSync(join(dir, keyName), 'utf8');
      } else if (n.endsWith('.key') && !names.includes(n.slice(0, -4) + '.cert')) {
        throw new EngineError('invalid-argument', `missing client certificate ${n.slice(0, -4)}.cert for key ${join(dir, n)}`);
      }
    }
    return out;
  }
  return { ca: [] };
}

/** An https.Agent that speaks plain HTTP (the engine's one HTTP client module keeps to node:https). */
class PlainAgent extends https.Agent {
  constructor(options: https.AgentOptions) {
    super(options);
    (this as unknown as { protocol: string }).protocol = 'http:';
    (this as unknown as { defaultPort: number }).defaultPort = 80;
  }
  override createConnection(options: net.NetConnectOpts): net.Socket {
    return net.createConnection(options);
  }
}

const AGENT_OPTIONS = { keepAlive: true, maxSockets: 16, maxFreeSockets: 8, timeout: 120_000 };
const agents = new Map<string, AgentLike>();

function agentFor(scheme: 'https' | 'http', host: string, verify: boolean, tlsFiles: TlsFiles): AgentLike {
  const key = `${scheme}|${host}|${verify}|${tlsFiles.dir ?? ''}`;
  let a = agents.get(key);
  if (!a) {
    if (scheme === 'http') a = new PlainAgent(AGENT_OPTIONS);
    else {
      a = new https.Agent({
        ...AGENT_OPTIONS,
        rejectUnauthorized: verify,
        ca: tlsFiles.ca.length ? [...rootCertificates, ...tlsFiles.ca] : undefined,
        cert: tlsFiles.cert,
        key: tlsFiles.key,
      });
    }
    agents.set(key, a);
  }
  return a;
}

/** Closes idle connections of every registry agent (service shutdown). */
export function destroyAgents(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}

export interface SendOptions {
  method: string;
  headers?: Record<string, string>;
  body?: Buffer | AsyncIterable<Buffer>;
  signal?: AbortSignal;
  agent: AgentLike;
  /** Milliseconds without any socket activity before the request fails. */
  idleTimeout?: number;
}

/** One HTTP exchange; resolves when the response headers are in. */
export function send(url: URL, opts: SendOptions): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT, ...opts.headers };
    if (Buffer.isBuffer(opts.body)) headers['Content-Length'] = String(opts.body.length);
    const req = https.request(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || (url.protocol === 'http:' ? 80 : 443),
        path: url.pathname + url.search,
        method: opts.method,
        headers,
        agent: opts.agent,
        signal: opts.signal,
        servername: net.isIP(url.hostname.replace(/^\[|\]$/g, '')) ? undefined : url.hostname,
      },
      (res) => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
      },
    );
    req.setTimeout(opts.idleTimeout ?? 60_000, () => req.destroy(new Error(`no answer within ${Math.round((opts.idleTimeout ?? 60_000) / 1000)}s`)));
    req.on('error', reject);
    const body = opts.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      void (async () => {
        try {
          for await (const chunk of body) {
            if (!req.write(chunk)) await new Promise<void>((r) => req.once('drain', () => r()));
          }
          req.end();
        } catch (e) {
          req.destroy(e as Error);
        }
      })();
    }
  });
}

/** Reads a whole response body (at most `limit` bytes). */
export async function readBody(res: HttpResponse, limit = 32 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > limit) {
      res.body.destroy();
      throw new EngineError('internal', `response larger than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Drops a response body we do not need (keeping the connection usable when it is small). */
export function discard(res: HttpResponse): void {
  res.body.resume();
}

function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function kindForStatus(status: number): ErrorKind {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 400 || status === 405 || status === 413 || status === 416) return 'invalid-argument';
  if (status === 429 || status === 503) return 'unavailable';
  return 'internal';
}

/** Turns an unexpected registry answer into an EngineError naming the registry and the operation. */
export async function registryError(res: HttpResponse, registry: string, what: string): Promise<EngineError> {
  let detail = '';
  try {
    const text = (await readBody(res, 64 * 1024)).toString('utf8');
    try {
      const j = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string; detail?: unknown }>; details?: string; message?: string };
      if (j.errors?.length) detail = j.errors.map((e) => (e.message ? `${(e.code ?? '').toLowerCase().replace(/_/g, ' ')}: ${e.message}`.replace(/^: /, '') : (e.code ?? ''))).join('; ');
      else detail = j.details ?? j.message ?? '';
    } catch {
      detail = text.trim().slice(0, 200);
    }
  } catch {
    /* the body is gone */
  }
  // Registries' error codes come as "MANIFEST_UNKNOWN: manifest unknown": keep one of them.
  detail = detail.replace(/^([a-z ]+): \1$/, '$1');
  if (!detail) detail = `${res.status} ${statusText(res.status)}`;
  const kind = kindForStatus(res.status);
  return new EngineError(kind, `${what} (registry ${registry}): ${detail}`, undefined, detail);
}

function statusText(s: number): string {
  return ({ 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' } as Record<number, string>)[s] ?? '';
}

/** A network failure talking to a registry, as an EngineError. */
export function networkError(registry: string, what: string, err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e?.name === 'AbortError') return new EngineError('internal', `${what} (registry ${registry}): canceled`, err);
  const code = e?.code && !String(e.message).includes(e.code) ? ` (${e.code})` : '';
  return new EngineError('internal', `${what} (registry ${registry}): ${e?.message ?? String(err)}${code}`, err, e?.code ?? e?.message);
}

/** The host to connect to for a registry name (docker.io is served by registry-1.docker.io). */
export function endpointHost(registry: string): string {
  return registry === 'docker.io' ? 'registry-1.docker.io' : registry;
}

/** Whether a registry host is on a loopback address (Docker allows those over plain HTTP). */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export interface ClientOptions {
  /** Skip TLS verification and fall back to plain HTTP. */
  insecure: boolean;
  credentials?: Credentials;
  certDirs: string[];
  tokens: TokenCache;
}

interface CachedToken {
  token: string;
  expires: number;
}

/** Bearer tokens by realm, service, scopes and user; shared by every client. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  get(key: string): string | undefined {
    const t = this.tokens.get(key);
    if (!t) return undefined;
    if (t.expires < Date.now()) {
      this.tokens.delete(key);
      return undefined;
    }
    return t.token;
  }
  set(key: string, token: string, expiresIn: number): void {
    this.tokens.set(key, { token, expires: Date.now() + Math.max(10, expiresIn - 10) * 1000 });
  }
  delete(key: string): void {
    this.tokens.delete(key);
  }
}

export interface RequestOptions {
  /** Scopes the request needs ("repository:library/busybox:pull"). */
  scopes?: string[];
  headers?: Record<string, string>;
  body?: Buffer | AsyncIterable<Buffer>;
  signal?: AbortSignal;
  /** Follow redirects (GET/HEAD of blobs). */
  follow?: boolean;
  idleTimeout?: number;
}

export class RegistryClient {
  private base?: URL;
  private challenge?: Challenge | null;
  private pinging?: Promise<void>;
  private readonly tls: TlsFiles;

  constructor(
    /** The registry as named in references ("docker.io", "127.0.0.1:5000"). */
    readonly registry: string,
    private readonly opts: ClientOptions,
  ) {
    this.tls = tlsFilesFor(registry, opts.certDirs);
  }

  get insecure(): boolean {
    return this.opts.insecure;
  }

  /** The scheme and host requests go to ("https://registry-1.docker.io"). */
  async baseUrl(signal?: AbortSignal): Promise<URL> {
    await this.ping(signal);
    return this.base!;
  }

  /** GET /v2/: learns the scheme and the auth the registry asks for. */
  ping(signal?: AbortSignal): Promise<void> {
    if (this.base) return Promise.resolve();
    if (!this.pinging) {
      this.pinging = this.doPing(signal).catch((e) => {
        this.pinging = undefined;
        throw e;
      });
    }
    return this.pinging;
  }

  private async doPing(signal?: AbortSignal): Promise<void> {
    const host = endpointHost(this.registry);
    const tryScheme = async (scheme: 'https' | 'http'): Promise<void> => {
      const url = new URL(`${scheme}://${host}/v2/`);
      const res = await send(url, { method: 'GET', agent: agentFor(scheme, host, !this.opts.insecure, this.tls), signal, idleTimeout: 30_000 });
      discard(res);
      if (res.status === 401) this.challenge = parseChallenge(res.headers['www-authenticate']) ?? null;
      else if (res.status >= 200 && res.status < 300) this.challenge = null;
      else if (res.status === 404 && scheme === 'https' && this.opts.insecure) throw new Error(`GET ${url.href}: 404 Not Found`);
      else throw await registryError(res, this.registry, 'pinging container registry');
      this.base = new URL(`${scheme}://${host}`);
    };
    try {
      await tryScheme('https');
    } catch (e) {
      if (!this.opts.insecure || (e instanceof EngineError && e.kind !== 'internal')) {
        throw networkError(this.registry, `pinging container registry ${this.registry}`, e);
      }
      try {
        await tryScheme('http');
      } catch (e2) {
        throw networkError(this.registry, `pinging container registry ${this.registry}`, e2);
      }
    }
  }

  /** Whether the registry asked for authentication at all. */
  get wantsAuth(): boolean {
    return !!this.challenge;
  }

  private tokenKey(scopes: string[]): string {
    const c = this.opts.credentials;
    return `${this.challenge?.params['realm']}|${this.challenge?.params['service']}|${[...scopes].sort().join(' ')}|${c?.username ?? ''}|${c?.identityToken ? 'id' : ''}`;
  }

  /** The Authorization header for a request needing `scopes` (fetching a token when needed). */
  private async authorization(scopes: string[], signal?: AbortSignal, fresh = false): Promise<string | undefined> {
    const c = this.opts.credentials;
    if (c?.registryToken) return `Bearer ${c.registryToken}`;
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      if (!c?.username) return undefined;
      return `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64')}`;
    }
    const key = this.tokenKey(scopes);
    if (fresh) this.opts.tokens.delete(key);
    const cached = this.opts.tokens.get(key);
    if (cached) return `Bearer ${cached}`;
    const token = await this.fetchToken(scopes, signal);
    return `Bearer ${token}`;
  }

  private async fetchToken(scopes: string[], signal?: AbortSignal): Promise<string> {
    const ch = this.challenge!;
    const realm = ch.params['realm'];
    if (!realm) throw new EngineError('internal', `registry ${this.registry} asked for a bearer token without a realm`);
    const url = new URL(realm);
    const c = this.opts.credentials;
    const realmHost = url.host;
    const scheme = url.protocol === 'http:' ? 'http' : 'https';
    const agent = agentFor(scheme, realmHost, !this.opts.insecure, realmHost === this.registry ? this.tls : tlsFilesFor(realmHost, this.opts.certDirs));
    let res: HttpResponse;
    const what = `requesting bearer token from ${url.origin}${url.pathname}`;
    try {
      if (c?.identityToken) {
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: c.identityToken, client_id: 'tspod', service: ch.params['service'] ?? '' });
        if (scopes.length) form.set('scope', scopes.join(' '));
        res = await send(url, { method: 'POST', agent, signal, body: Buffer.from(form.toString()), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
      } else {
        if (ch.params['service']) url.searchParams.set('service', ch.params['service']);
        for (const s of scopes) url.searchParams.append('scope', s);
        const headers: Record<string, string> = {};
        if (c?.username) headers['Authorization'] = `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64')}`;
        res = await send(url, { method: 'GET', agent, signal, headers });
      }
    } catch (e) {
      throw networkError(this.registry, what, e);
    }
    if (res.status !== 200) {
      const err = await registryError(res, this.registry, what);
      if (res.status === 401 || res.status === 403) throw new EngineError('unauthorized', `${what}: unauthorized: ${err.reason ?? 'authentication required'}`, undefined, 'unauthorized');
      throw err;
    }
    const j = JSON.parse((await readBody(res, 1024 * 1024)).toString('utf8')) as { token?: string; access_token?: string; expires_in?: number };
    const token = j.token || j.access_token;
    if (!token) throw new EngineError('internal', `${what}: the answer has no token`);
    this.opts.tokens.set(this.tokenKey(scopes), token, j.expires_in && j.expires_in > 0 ? j.expires_in : 60);
    return token;
  }

  /** Checks that the credentials are accepted (for /auth): a token, or an authorized GET /v2/. */
  async checkLogin(signal?: AbortSignal): Promise<void> {
    await this.ping(signal);
    if (!this.challenge) return;
    if (this.challenge.scheme === 'bearer') {
      await this.authorization([], signal, true);
      return;
    }
    const res = await this.request('GET', '/v2/', { signal });
    discard(res);
    if (res.status === 401) throw new EngineError('unauthorized', `logging in to ${this.registry}: invalid username/password`, undefined, 'unauthorized');
    if (res.status >= 300) throw await registryError(res, this.registry, `logging in to ${this.registry}`);
  }

  /**
   * One request to the registry (path under the base, or an absolute URL the registry gave us,
   * such as an upload location). A 401 is retried once with fresh credentials when the body can be
   * sent again. The caller checks the status.
   */
  async request(method: string, pathOrUrl: string, o: RequestOptions = {}): Promise<HttpResponse> {
    const base = await this.baseUrl(o.signal);
    let url = new URL(pathOrUrl, base);
    const scopes = o.scopes ?? [];
    const what = `${method} ${url.href}`;
    const replayable = o.body === undefined || Buffer.isBuffer(o.body);
    let auth = await this.authorization(scopes, o.signal);
    let res: HttpResponse;
    const go = async (u: URL, authz: string | undefined) => {
      const sameHost = u.host === base.host;
      const headers: Record<string, string> = { ...o.headers };
      if (authz && sameHost) headers['Authorization'] = authz;
      const scheme = u.protocol === 'http:' ? 'http' : 'https';
      const agent = agentFor(scheme, u.host, !this.opts.insecure || !sameHost, sameHost ? this.tls : tlsFilesFor(u.host, this.opts.certDirs));
      try {
        return await send(u, { method, headers, body: o.body, signal: o.signal, agent, idleTimeout: o.idleTimeout });
      } catch (e) {
        throw networkError(this.registry, what, e);
      }
    };
    res = await go(url, auth);
    if (res.status === 401 && replayable && this.challenge?.scheme === 'bearer') {
      const ch = parseChallenge(res.headers['www-authenticate']);
      discard(res);
      if (ch) this.challenge = ch;
      auth = await this.authorization(scopes, o.signal, true);
      res = await go(url, auth);
    }
    for (let hops = 0; o.follow && hops < 5 && [301, 302, 303, 307, 308].includes(res.status); hops++) {
      const loc = header(res, 'location');
      discard(res);
      if (!loc) break;
      url = new URL(loc, url);
      res = await go(url, auth);
    }
    return res;
  }
}

export { header as responseHeader };
