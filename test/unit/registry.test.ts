// Unit tests of the registry side: registries.conf loading and lookups, credentials (header,
// auth.json), WWW-Authenticate parsing, manifest kinds and platform choice, pull candidates.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRegistry, isInsecureRegistry, loadRegistriesConf, pullSources, pushDestination, shortNameCandidates } from '../../engine/config/registries-conf.js';
import { EngineError } from '../../engine/errors.js';
import { credentialsFor, decodeRegistryAuth, normalizeAuthKey, parseChallenge } from '../../engine/registry/auth.js';
import { isLoopbackRegistry, tlsFilesFor } from '../../engine/registry/client.js';
import { normalizePlatform, parseManifest, selectManifest, wantedPlatform } from '../../engine/registry/manifest.js';
import { pullCandidates } from '../../engine/registry/names.js';
import { Slots } from '../../engine/registry/pull.js';

describe('registry: registries.conf', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tspod-regconf-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string) => {
    const p = join(dir, name);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, text);
    return p;
  };

  it('reads v2: search registries, aliases, registries with mirrors', () => {
    const main = write(
      'registries.conf',
      `unqualified-search-registries = ["quay.io", "docker.io"]
short-name-mode = "permissive"
[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
[[registry]]
prefix = "docker.io/library"
location = "mirror.local/dockerhub"
[[registry.mirror]]
location = "m1.local:5000/hub"
insecure = true
[[registry.mirror]]
location = "m2.local/hub"
pull-from-mirror = "digest-only"
[[registry]]
location = "insecure.local:5000"
insecure = true
[[registry]]
prefix = "*.blocked.example"
blocked = true
`,
    );
    const conf = loadRegistriesConf({ systemFile: main, systemDropInDir: join(dir, 'none'), env: {} });
    expect(conf.files).to.deep.equal([main]);
    expect(conf.unqualifiedSearchRegistries).to.deep.equal(['quay.io', 'docker.io']);
    expect(conf.shortNameMode).to.equal('permissive');
    expect(conf.aliases['fedora']).to.equal('registry.fedoraproject.org/fedora');
    expect(pullSources(conf, 'docker.io/library/busybox:latest')).to.deep.equal([
      { reference: 'm1.local:5000/hub/busybox:latest', insecure: true, mirror: true },
      { reference: 'mirror.local/dockerhub/busybox:latest', insecure: false, mirror: false },
    ]);
    expect(pullSources(conf, 'docker.io/library/busybox@sha256:' + 'a'.repeat(64)).map((s) => s.reference)).to.deep.equal([
      'm1.local:5000/hub/busybox@sha256:' + 'a'.repeat(64),
      'm2.local/hub/busybox@sha256:' + 'a'.repeat(64),
      'mirror.local/dockerhub/busybox@sha256:' + 'a'.repeat(64),
    ]);
    expect(pullSources(conf, 'docker.io/other/x:1')).to.deep.equal([{ reference: 'docker.io/other/x:1', insecure: false, mirror: false }]);
    expect(pushDestination(conf, 'docker.io/library/busybox:1').reference).to.equal('mirror.local/dockerhub/busybox:1');
    expect(isInsecureRegistry(conf, 'insecure.local:5000')).to.equal(true);
    expect(isInsecureRegistry(conf, 'm1.local:5000')).to.equal(true);
    expect(isInsecureRegistry(conf, 'quay.io')).to.equal(false);
    expect(() => pullSources(conf, 'a.blocked.example/x:1')).to.throw(EngineError).with.property('kind', 'forbidden');
    // A prefix matches at component boundaries only.
    expect(findRegistry(conf, 'insecure.local:50001/x')).to.equal(undefined);
  });

  it('drop-ins override keys, merge aliases, replace registries by prefix; CONTAINERS_REGISTRIES_CONF is the only file', () => {
    const main = write('registries.conf', 'unqualified-search-registries = ["a.io"]\n[aliases]\n"x" = "a.io/x"\n[[registry]]\nlocation = "r.io"\ninsecure = true\n');
    write('d/10-b.conf', 'unqualified-search-registries = ["b.io"]\n[aliases]\n"y" = "b.io/y"\n');
    write('d/20-c.conf', '[[registry]]\nlocation = "r.io"\nblocked = true\n');
    write('d/ignored.txt', 'not toml');
    const conf = loadRegistriesConf({ systemFile: main, systemDropInDir: join(dir, 'd'), env: {} });
    expect(conf.unqualifiedSearchRegistries).to.deep.equal(['b.io']);
    expect(conf.aliases).to.deep.equal({ x: 'a.io/x', y: 'b.io/y' });
    expect(conf.registries).to.have.length(1);
    expect(conf.registries[0]!.blocked).to.equal(true);
    expect(conf.registries[0]!.insecure).to.equal(false);
    const only = write('only.conf', 'unqualified-search-registries = ["only.io"]\n');
    const c2 = loadRegistriesConf({ systemFile: main, systemDropInDir: join(dir, 'd'), env: { CONTAINERS_REGISTRIES_CONF: only } });
    expect(c2.files).to.deep.equal([only]);
    expect(c2.unqualifiedSearchRegistries).to.deep.equal(['only.io']);
    expect(() => loadRegistriesConf({ env: { CONTAINERS_REGISTRIES_CONF: join(dir, 'missing.conf') } })).to.throw(EngineError);
  });

  it('the user file replaces the system file for rootless users', () => {
    const main = write('registries.conf', 'unqualified-search-registries = ["system.io"]\n');
    write('home/.config/containers/registries.conf', 'unqualified-search-registries = ["user.io"]\n');
    const c = loadRegistriesConf({ rootless: true, systemFile: main, systemDropInDir: join(dir, 'none'), env: { HOME: join(dir, 'home') } });
    expect(c.unqualifiedSearchRegistries).to.deep.equal(['user.io']);
    const r = loadRegistriesConf({ rootless: false, systemFile: main, systemDropInDir: join(dir, 'none'), env: { HOME: join(dir, 'home') } });
    expect(r.unqualifiedSearchRegistries).to.deep.equal(['system.io']);
  });

  it('reads the v1 format', () => {
    const main = write('registries.conf', '[registries.search]\nregistries = ["s.io"]\n[registries.insecure]\nregistries = ["i.io:5000"]\n[registries.block]\nregistries = ["b.io"]\n');
    const c = loadRegistriesConf({ systemFile: main, systemDropInDir: join(dir, 'none'), env: {} });
    expect(c.unqualifiedSearchRegistries).to.deep.equal(['s.io']);
    expect(isInsecureRegistry(c, 'i.io:5000')).to.equal(true);
    expect(() => pullSources(c, 'b.io/x:1')).to.throw(EngineError);
  });

  it('refuses malformed files with the file named', () => {
    const main = write('registries.conf', '[[registry]]\nprefix = "*.x*"\n');
    expect(() => loadRegistriesConf({ systemFile: main, systemDropInDir: join(dir, 'none'), env: {} })).to.throw(/registries.conf .*invalid wildcard/);
    const bad = write('bad.conf', 'unqualified-search-registries = "not-a-list"\n');
    expect(() => loadRegistriesConf({ env: { CONTAINERS_REGISTRIES_CONF: bad } })).to.throw(/must be an array/);
  });

  it('short names: alias first, else every search registry (docker.io gets library/)', () => {
    const conf = { unqualifiedSearchRegistries: ['quay.io', 'docker.io'], aliases: { myalias: 'quay.io/team/thing' }, registries: [], files: [] };
    expect(shortNameCandidates(conf, 'myalias')).to.deep.equal({ candidates: ['quay.io/team/thing'], alias: true });
    expect(shortNameCandidates(conf, 'busybox').candidates).to.deep.equal(['quay.io/busybox', 'docker.io/library/busybox']);
    expect(pullCandidates('busybox:1', 'libpod', conf).map((r) => `${r.domain}/${r.path}:${r.tag}`)).to.deep.equal(['quay.io/busybox:1', 'docker.io/library/busybox:1']);
    expect(pullCandidates('busybox:1', 'docker', conf).map((r) => `${r.domain}/${r.path}:${r.tag}`)).to.deep.equal(['docker.io/library/busybox:1']);
    expect(pullCandidates('myalias', 'libpod', conf).map((r) => `${r.domain}/${r.path}:${r.tag}`)).to.deep.equal(['quay.io/team/thing:latest']);
    expect(pullCandidates('localhost:5000/x', 'libpod', conf).map((r) => `${r.domain}/${r.path}:${r.tag}`)).to.deep.equal(['localhost:5000/x:latest']);
    expect(() => pullCandidates('busybox', 'libpod', { ...conf, unqualifiedSearchRegistries: [], aliases: {} })).to.throw(/did not resolve to an alias/);
    expect(() => pullCandidates('Bad..Name', 'docker', conf)).to.throw(EngineError).with.property('kind', 'invalid-argument');
  });
});

describe('registry: credentials and challenges', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tspod-regauth-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('decodes X-Registry-Auth: one config (base64url or std), a map, auth field, empty forms', () => {
    const enc = (o: unknown, url = true) => Buffer.from(JSON.stringify(o)).toString(url ? 'base64url' : 'base64');
    expect(decodeRegistryAuth(enc({ username: 'u', password: 'p?>~', serveraddress: 'r.io' }))).to.deep.equal({ username: 'u', password: 'p?>~' });
    expect(decodeRegistryAuth(enc({ username: 'u', password: 'p?>~' }, false))).to.deep.equal({ username: 'u', password: 'p?>~' });
    expect(decodeRegistryAuth(enc({ auth: Buffer.from('a:b:c').toString('base64') }))).to.deep.equal({ username: 'a', password: 'b:c' });
    expect(decodeRegistryAuth(enc({ identitytoken: 'tok' }))).to.deep.equal({ identityToken: 'tok' });
    expect(decodeRegistryAuth(enc({ 'https://index.docker.io/v1/': { username: 'd', password: 'h' }, 'r.io:5000': { username: 'x', password: 'y' } }))).to.deep.equal({
      perRegistry: { 'docker.io': { username: 'd', password: 'h' }, 'r.io:5000': { username: 'x', password: 'y' } },
    });
    expect(decodeRegistryAuth(enc({}))).to.equal(undefined);
    expect(decodeRegistryAuth('')).to.equal(undefined);
    expect(decodeRegistryAuth('e30=')).to.equal(undefined); // "{}"
    expect(() => decodeRegistryAuth('%%%not-base64')).to.throw(EngineError);
  });

  it('auth.json: REGISTRY_AUTH_FILE first, the most specific key, docker config as fallback', () => {
    const authFile = join(dir, 'auth.json');
    writeFileSync(
      authFile,
      JSON.stringify({
        auths: {
          'r.io': { auth: Buffer.from('host:h').toString('base64') },
          'r.io/team': { auth: Buffer.from('team:t').toString('base64') },
        },
      }),
    );
    mkdirSync(join(dir, 'home', '.docker'), { recursive: true });
    writeFileSync(join(dir, 'home', '.docker', 'config.json'), JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('hub:x').toString('base64') } } }));
    const env = { REGISTRY_AUTH_FILE: authFile, HOME: join(dir, 'home') };
    expect(credentialsFor(undefined, 'r.io/other/x', { env })).to.deep.equal({ username: 'host', password: 'h' });
    expect(credentialsFor(undefined, 'r.io/team/x', { env })).to.deep.equal({ username: 'team', password: 't' });
    expect(credentialsFor(undefined, 'docker.io/library/busybox', { env })).to.deep.equal({ username: 'hub', password: 'x' });
    expect(credentialsFor(undefined, 'none.io/x', { env })).to.equal(undefined);
    // The request's credentials win.
    expect(credentialsFor({ username: 'req', password: 'r' }, 'r.io/team/x', { env })).to.deep.equal({ username: 'req', password: 'r' });
    expect(credentialsFor({ perRegistry: { 'q.io': { username: 'q' } } }, 'r.io/team/x', { env })).to.deep.equal({ username: 'team', password: 't' });
    expect(normalizeAuthKey('https://registry-1.docker.io/v2/')).to.equal('docker.io');
  });

  it('parses WWW-Authenticate (bearer preferred, quoted values with commas)', () => {
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"')).to.deep.equal({
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull,push' },
    });
    expect(parseChallenge('Basic realm="tspod-test"')).to.deep.equal({ scheme: 'basic', params: { realm: 'tspod-test' } });
    expect(parseChallenge(['Basic realm="x"', 'Bearer realm="https://a/t"'])!.scheme).to.equal('bearer');
    expect(parseChallenge(undefined)).to.equal(undefined);
  });

  it('certs.d: CA files and a client certificate pair; loopback registries', () => {
    const host = join(dir, 'certs.d', 'r.io:5000');
    mkdirSync(host, { recursive: true });
    writeFileSync(join(host, 'ca.crt'), 'CA');
    writeFileSync(join(host, 'client.cert'), 'CERT');
    writeFileSync(join(host, 'client.key'), 'KEY');
    expect(tlsFilesFor('r.io:5000', [join(dir, 'nothing'), join(dir, 'certs.d')])).to.deep.equal({ ca: ['CA'], cert: 'CERT', key: 'KEY', dir: host });
    expect(tlsFilesFor('other.io', [join(dir, 'certs.d')])).to.deep.equal({ ca: [] });
    writeFileSync(join(host, 'lonely.key'), 'KEY');
    expect(() => tlsFilesFor('r.io:5000', [join(dir, 'certs.d')])).to.throw(/missing client certificate/);
    expect(isLoopbackRegistry('127.0.0.1:5000')).to.equal(true);
    expect(isLoopbackRegistry('127.8.9.1')).to.equal(true);
    expect(isLoopbackRegistry('localhost:5000')).to.equal(true);
    expect(isLoopbackRegistry('[::1]:5000')).to.equal(true);
    expect(isLoopbackRegistry('10.0.0.1:5000')).to.equal(false);
  });
});

describe('registry: manifests and platforms', () => {
  const d = (arch: string, variant?: string, os = 'linux') => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${arch.padEnd(64, '0').slice(0, 64).replace(/[^0-9a-f]/g, 'a')}`,
    size: 1,
    platform: { os, architecture: arch, ...(variant ? { variant } : {}) },
  });

  it('recognises the manifest kinds, by header or by body', () => {
    const img = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: 'sha256:' + 'a'.repeat(64), size: 1, mediaType: 'x' }, layers: [] }));
    expect(parseManifest(img, 'application/vnd.docker.distribution.manifest.v2+json', 'x').kind).to.equal('image');
    expect(parseManifest(img, 'application/json', 'x').mediaType).to.equal('application/vnd.oci.image.manifest.v1+json');
    const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }));
    expect(parseManifest(idx, undefined, 'x').kind).to.equal('index');
    expect(() => parseManifest(Buffer.from('{"schemaVersion":1}'), 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'x')).to.throw(/schema 1/);
    expect(() => parseManifest(Buffer.from('nope'), undefined, 'x')).to.throw(/not valid JSON/);
  });

  it('picks the platform: requested, else this host; variants; none found', () => {
    const index = { schemaVersion: 2 as const, manifests: [d('amd64'), d('arm', 'v6'), d('arm', 'v7'), d('arm64', 'v8'), d('s390x'), d('amd64', undefined, 'windows')] };
    expect(selectManifest(index, wantedPlatform({ os: 'linux', architecture: 's390x' }), 'x').platform!.architecture).to.equal('s390x');
    expect(selectManifest(index, wantedPlatform({ architecture: 'arm', variant: 'v7' }), 'x').platform!.variant).to.equal('v7');
    expect(selectManifest(index, wantedPlatform({ architecture: 'arm64' }), 'x').platform!.architecture).to.equal('arm64');
    expect(selectManifest(index, wantedPlatform({ architecture: 'aarch64' }), 'x').platform!.architecture).to.equal('arm64');
    expect(selectManifest(index, wantedPlatform({ architecture: 'x86_64' }), 'x').platform).to.deep.equal({ os: 'linux', architecture: 'amd64' });
    expect(selectManifest(index, wantedPlatform({ os: 'windows', architecture: 'amd64' }), 'x').platform!.os).to.equal('windows');
    // arm v8 runs v7 when there is no v8 image.
    expect(selectManifest({ schemaVersion: 2, manifests: [d('arm', 'v6'), d('arm', 'v7')] }, { os: 'linux', architecture: 'arm', variant: 'v8' }, 'x').platform!.variant).to.equal('v7');
    expect(() => selectManifest(index, wantedPlatform({ architecture: 'mips64le' }), 'x')).to.throw(/no image found in manifest list/);
    expect(normalizePlatform({ architecture: 'arm64', variant: 'v8' })).to.deep.equal({ architecture: 'arm64', variant: undefined });
    const host = wantedPlatform(undefined);
    expect(host.os).to.equal('linux');
  });

  it('slots hand out at most n at a time', async () => {
    const s = new Slots(2);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        await s.acquire();
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        s.release();
      }),
    );
    expect(peak).to.equal(2);
  });
});
