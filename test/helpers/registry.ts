// A real registry for tests: Debian's docker-registry (distribution 2.8) on a free 127.0.0.1
// port, with its own storage directory and config: plain HTTP, or htpasswd basic auth (bcrypt
// hashes made by perl's crypt(3), which is libxcrypt's and knows $2y$), or TLS with a CA the test
// makes with openssl. Stopped and removed by stop(); kill() stops it at once (SIGKILL) and
// restart() brings it back on the same port and storage.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, sign as cryptoSign, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { freePort } from './net.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface RegistryOptions {
  /** htpasswd users: name → password. */
  users?: Record<string, string>;
  /** Token auth: a token server (TestTokenServer) on its own port issues JWTs for these users. */
  tokenUsers?: Record<string, string>;
  /** Serve HTTPS with a certificate from a fresh test CA. */
  tls?: boolean;
}

export function ensureRegistryBinary(): void {
  if (existsSync(REGISTRY_BIN)) return;
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', 'docker-registry'], { stdio: 'ignore' });
  } catch {
    /* reported below */
  }
  if (!existsSync(REGISTRY_BIN)) throw new Error(`${REGISTRY_BIN} not found: apt-get install -y docker-registry`);
}

export { freePort };

const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A bcrypt hash ($2y$, cost 5) of `password` through perl's crypt(3). */
export function bcrypt(password: string): string {
  const bytes = randomBytes(22);
  let salt = '';
  for (let i = 0; i < 21; i++) salt += BCRYPT_ALPHABET[bytes[i]! % 64];
  salt += '.Oeu'[bytes[21]! % 4]; // the last character carries 2 bits
  const out = execFileSync('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, `$2y$05$${salt}`]).toString();
  if (!out.startsWith('$2y$05$') || out.length !== 60) throw new Error(`crypt(3) made no bcrypt hash: ${out}`);
  return out;
}

/** A test CA and a server certificate for 127.0.0.1 and localhost, made with openssl. */
export function makeCertificates(dir: string): { caCert: string; caKey: string; cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const p = (n: string) => join(dir, n);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', '/CN=tspod test CA');
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  ossl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.crt'), '-days', '2', '-extfile', p('ext.cnf'));
  return { caCert: p('ca.crt'), caKey: p('ca.key'), cert: p('server.crt'), key: p('server.key') };
}

export class TestRegistry {
  readonly dir: string;
  port = 0;
  proc?: ChildProcess;
  log = '';
  certs?: ReturnType<typeof makeCertificates>;
  tokenServer?: TestTokenServer;

  private constructor(readonly opts: RegistryOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'tspod-registry-'));
  }

  /** host:port, as image references name it. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  get url(): string {
    return `${this.opts.tls ? 'https' : 'http'}://${this.host}`;
  }

  static async start(opts: RegistryOptions = {}): Promise<TestRegistry> {
    ensureRegistryBinary();
    const r = new TestRegistry(opts);
    r.port = await freePort();
    if (opts.tokenUsers) r.tokenServer = await TestTokenServer.start(join(r.dir, 'token'), opts.tokenUsers);
    r.writeConfig();
    await r.launch();
    return r;
  }

  private writeConfig(): void {
    const lines = [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(this.dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${this.port}`,
      `  secret: ${randomBytes(16).toString('hex')}`,
    ];
    if (this.opts.tls) {
      this.certs = makeCertificates(join(this.dir, 'certs'));
      lines.push('  tls:', `    certificate: ${this.certs.cert}`, `    key: ${this.certs.key}`);
    }
    if (this.opts.users) {
      const htpasswd = join(this.dir, 'htpasswd');
      writeFileSync(htpasswd, Object.entries(this.opts.users).map(([u, p]) => `${u}:${bcrypt(p)}`).join('\n') + '\n');
      lines.push('auth:', '  htpasswd:', '    realm: tspod-test', `    path: ${htpasswd}`);
    }
    if (this.tokenServer) {
      const t = this.tokenServer;
      lines.push('auth:', '  token:', `    realm: ${t.realm}`, `    service: ${t.service}`, `    issuer: ${t.issuer}`, `    rootcertbundle: ${t.certFile}`);
    }
    writeFileSync(join(this.dir, 'config.yml'), lines.join('\n') + '\n');
  }

  private async launch(): Promise<void> {
    const proc = spawn(REGISTRY_BIN, ['serve', join(this.dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout!.on('data', (c: Buffer) => (this.log += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (this.log += c.toString()));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`docker-registry exited: ${this.log}`);
      if ((await this.ping()) !== 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`docker-registry did not answer on ${this.url}: ${this.log}`);
  }

  /** GET /v2/ status (0 when nothing answers). */
  ping(): Promise<number> {
    return new Promise((resolve) => {
      const opts = { host: '127.0.0.1', port: this.port, path: '/v2/', method: 'GET', agent: false as const, rejectUnauthorized: false, timeout: 2000 };
      const req = (this.opts.tls ? httpsRequest : httpRequest)(opts, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  }

  /** Stops it at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }

  /** Starts it again on the same port and storage. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.kill();
    await this.tokenServer?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Path of a blob in the registry's storage (to corrupt it in tests). */
  blobPath(digest: string): string {
    const hex = digest.replace(/^sha256:/, '');
    return join(this.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
  }
}

// ---- seeding a registry directly (without tspod) ----------------------------------------------

export interface SeedLayer {
  /** The layer's uncompressed tar. */
  tar: Buffer;
  /** gzip it (default true). */
  gzip?: boolean;
}

export interface SeededImage {
  reference: string;
  manifestDigest: string;
  configDigest: string;
  id: string;
  layerDigests: string[];
  diffIDs: string[];
  manifest: Buffer;
}

function sha256hex(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/** One HTTP request to a test registry (basic auth optional). */
export function registryRequest(
  reg: TestRegistry,
  method: string,
  path: string,
  opts: { body?: Buffer; headers?: Record<string, string>; auth?: { username: string; password: string } } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body) headers['Content-Length'] = String(opts.body.length);
    if (opts.auth) headers['Authorization'] = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
    const u = new URL(path, reg.url);
    const req = (reg.opts.tls ? httpsRequest : httpRequest)(
      { host: '127.0.0.1', port: reg.port, path: u.pathname + u.search, method, headers, agent: false, rejectUnauthorized: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function uploadBlob(reg: TestRegistry, repo: string, data: Buffer, auth?: { username: string; password: string }): Promise<string> {
  const digest = `sha256:${sha256hex(data)}`;
  const start = await registryRequest(reg, 'POST', `/v2/${repo}/blobs/uploads/`, { auth });
  if (start.status !== 202) throw new Error(`upload start: ${start.status} ${start.body}`);
  const loc = String(start.headers['location']);
  const u = new URL(loc, reg.url);
  u.searchParams.set('digest', digest);
  const put = await registryRequest(reg, 'PUT', u.pathname + u.search, { body: data, auth, headers: { 'Content-Type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`upload put: ${put.status} ${put.body}`);
  return digest;
}

/**
 * Pushes an image made of `layers` straight to the registry (Docker schema 2 or OCI manifest),
 * so pull tests need no push of tspod's.
 */
export async function seedImage(
  reg: TestRegistry,
  repo: string,
  tag: string,
  layers: SeedLayer[],
  opts: { oci?: boolean; auth?: { username: string; password: string }; architecture?: string } = {},
): Promise<SeededImage> {
  const diffIDs = layers.map((l) => `sha256:${sha256hex(l.tar)}`);
  const blobs = layers.map((l) => (l.gzip === false ? l.tar : gzipSync(l.tar)));
  const layerDigests: string[] = [];
  for (const b of blobs) layerDigests.push(await uploadBlob(reg, repo, b, opts.auth));
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.architecture ?? ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch,
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: diffIDs },
      history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
    }),
  );
  const configDigest = await uploadBlob(reg, repo, config, opts.auth);
  const oci = !!opts.oci;
  const mediaType = oci ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: oci ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json', size: config.length, digest: configDigest },
      layers: blobs.map((b, i) => ({
        mediaType: oci
          ? layers[i]!.gzip === false ? 'application/vnd.oci.image.layer.v1.tar' : 'application/vnd.oci.image.layer.v1.tar+gzip'
          : 'application/vnd.docker.image.rootfs.diff.tar.gzip',
        size: b.length,
        digest: layerDigests[i],
      })),
    }),
  );
  const put = await registryRequest(reg, 'PUT', `/v2/${repo}/manifests/${tag}`, { body: manifest, auth: opts.auth, headers: { 'Content-Type': mediaType } });
  if (put.status !== 201) throw new Error(`manifest put: ${put.status} ${put.body}`);
  return { reference: `${reg.host}/${repo}:${tag}`, manifestDigest: `sha256:${sha256hex(manifest)}`, configDigest, id: configDigest.slice(7), layerDigests, diffIDs, manifest };
}

/** Pushes a manifest list / OCI index naming `entries` (already pushed manifests) under `tag`. */
export async function seedIndex(
  reg: TestRegistry,
  repo: string,
  tag: string,
  entries: Array<{ digest: string; size: number; mediaType: string; platform: { os: string; architecture: string; variant?: string } }>,
): Promise<string> {
  const list = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests: entries }));
  const put = await registryRequest(reg, 'PUT', `/v2/${repo}/manifests/${tag}`, { body: list, headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.list.v2+json' } });
  if (put.status !== 201) throw new Error(`list put: ${put.status} ${put.body}`);
  return `sha256:${sha256hex(list)}`;
}

/**
 * A TCP relay in front of a registry that can slow the bytes down and cut every connection, to
 * stop a pull midway deterministically.
 */
export class ThrottledRelay {
  private server = createServer();
  private sockets = new Set<import('node:net').Socket>();
  port = 0;
  /** Bytes per 10 ms tick sent to the client (0: unthrottled). */
  constructor(private readonly target: number, private readonly bytesPerTick = 0) {}

  async start(): Promise<void> {
    this.server.on('connection', (client) => {
      const upstream = connect(this.target, '127.0.0.1');
      this.sockets.add(client);
      this.sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop);
      upstream.on('error', drop);
      client.on('close', drop);
      upstream.on('close', drop);
      client.pipe(upstream);
      if (!this.bytesPerTick) upstream.pipe(client);
      else {
        upstream.on('data', (chunk: Buffer) => {
          upstream.pause();
          let off = 0;
          const tick = () => {
            if (client.destroyed) return;
            const part = chunk.subarray(off, off + this.bytesPerTick);
            off += part.length;
            client.write(part);
            if (off < chunk.length) setTimeout(tick, 10);
            else upstream.resume();
          };
          tick();
        });
        upstream.on('end', () => client.end());
      }
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Cuts every open connection. */
  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * A token server for docker-registry's token auth: GET /token?service=&scope=... with basic
 * credentials answers a JWT (ES256, the signing certificate in the x5c header, which the
 * registry trusts through its rootcertbundle) granting the scopes asked for to known users;
 * anonymous or wrong credentials get 401.
 */
export class TestTokenServer {
  readonly service = 'tspod-test-registry';
  readonly issuer = 'tspod-test-issuer';
  readonly certFile: string;
  private readonly keyFile: string;
  private readonly server = createHttpServer();
  port = 0;
  /** Scopes of every token issued, in order. */
  readonly issued: string[][] = [];

  private constructor(dir: string, private readonly users: Record<string, string>) {
    mkdirSync(dir, { recursive: true });
    this.certFile = join(dir, 'token.crt');
    this.keyFile = join(dir, 'token.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', this.keyFile, '-out', this.certFile, '-days', '2', '-subj', '/CN=tspod test token signer'], { stdio: 'ignore' });
  }

  get realm(): string {
    return `http://127.0.0.1:${this.port}/token`;
  }

  static async start(dir: string, users: Record<string, string>): Promise<TestTokenServer> {
    const t = new TestTokenServer(dir, users);
    const key = createPrivateKey(readFileSync(t.keyFile));
    const der = new X509Certificate(readFileSync(t.certFile)).raw.toString('base64');
    t.server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', t.realm);
      const auth = req.headers.authorization ?? '';
      const plain = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : '';
      const i = plain.indexOf(':');
      const user = i > 0 ? plain.slice(0, i) : '';
      if (url.pathname !== '/token' || !user || t.users[user] !== plain.slice(i + 1)) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ details: 'invalid credentials' }));
        return;
      }
      const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
      t.issued.push(scopes);
      const access = scopes.map((s) => {
        const parts = s.split(':');
        const actions = parts.pop()!.split(',');
        const type = parts.shift()!;
        return { type, name: parts.join(':'), actions: type === 'registry' ? ['*'] : actions };
      });
      const now = Math.floor(Date.now() / 1000);
      const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const head = b64({ typ: 'JWT', alg: 'ES256', x5c: [der] });
      const body = b64({ iss: t.issuer, sub: user, aud: t.service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access });
      const sig = cryptoSign('sha256', Buffer.from(`${head}.${body}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ token: `${head}.${body}.${sig}`, expires_in: 300, issued_at: new Date().toISOString() }));
    });
    await new Promise<void>((r) => t.server.listen(0, '127.0.0.1', () => r()));
    t.port = (t.server.address() as { port: number }).port;
    return t;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
