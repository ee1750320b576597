// Pull and push against a real registry (Debian's docker-registry on a loopback port), through
// the running service: compat and Libpod streams, digests, credentials, TLS with certs.d, a
// registry that dies midway, corrupted blobs, mirrors and short names from registries.conf.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync, copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { seedImage, seedIndex, TestRegistry, ThrottledRelay, registryRequest } from '../helpers/registry.js';
import { TestService, type Reply } from '../helpers/service.js';
import { tar } from '../helpers/tar-builder.js';
import { loadBusyboxImage } from '../helpers/test-image.js';

const V = '/v1.40';
const L = '/v5.1.0/libpod';

function lines(r: Reply): Array<Record<string, any>> {
  return r.text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, any>);
}

function authHeader(creds: Record<string, unknown>): Record<string, string> {
  return { 'X-Registry-Auth': Buffer.from(JSON.stringify(creds)).toString('base64url') };
}

/** A layer tar with one file of `size` random (incompressible) bytes, plus a small text file. */
function randomLayer(name: string, size: number): Buffer {
  return tar([
    { name: `${name}/`, type: 'dir', mode: 0o755, mtime: 1_700_000_000 },
    { name: `${name}/data.bin`, content: randomBytes(size), mode: 0o644, mtime: 1_700_000_000 },
    { name: `${name}/hello.txt`, content: `hello from ${name}\n`, mode: 0o644, mtime: 1_700_000_000 },
  ]);
}

async function imageIds(svc: TestService): Promise<string[]> {
  const r = await svc.request('GET', `${V}/images/json?all=true`);
  expect(r.status).to.equal(200);
  return r.json<Array<{ Id: string }>>().map((i) => i.Id.replace(/^sha256:/, ''));
}

function layerDirs(svc: TestService): string[] {
  const dir = join(svc.root, 'layers');
  return existsSync(dir) ? readdirSync(dir).filter((n) => n !== 'l').sort() : [];
}

function blobFiles(svc: TestService): string[] {
  const dir = join(svc.root, 'blobs', 'sha256');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

describe('registry: push and pull against docker-registry', function () {
  this.timeout(120_000);
  let reg: TestRegistry;
  let svc: TestService;
  let busyboxId: string;

  before(async () => {
    reg = await TestRegistry.start();
    svc = await TestService.start();
    const img = await loadBusyboxImage(svc, { extraLayers: true });
    busyboxId = img.id;
  });
  after(async () => {
    await svc?.stop();
    await svc?.cleanup();
    await reg?.stop();
  });

  it('pushes with the Libpod API (tlsVerify=false) and the registry has the image', async () => {
    const dest = `${reg.host}/test/busybox:latest`;
    const r = await svc.request('POST', `${L}/images/localhost%2Fbusybox:latest/push?destination=${encodeURIComponent(dest)}&tlsVerify=false&quiet=false`);
    expect(r.status, r.text).to.equal(200);
    const recs = lines(r);
    expect(recs.filter((x) => x.error)).to.deep.equal([]);
    expect(recs.map((x) => x.stream).join('')).to.contain('Writing manifest to image destination');
    expect(recs.at(-1)).to.have.property('manifestdigest').that.matches(/^sha256:[0-9a-f]{64}$/);
    const m = await registryRequest(reg, 'GET', '/v2/test/busybox/manifests/latest', { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' } });
    expect(m.status).to.equal(200);
    const manifest = JSON.parse(m.body.toString());
    expect(manifest.config.digest).to.equal(`sha256:${busyboxId}`);
    expect(manifest.layers).to.have.length(2);
  });

  it('pushes with the Docker API: progress stream, digest and aux record', async () => {
    const tag = await svc.request('POST', `${V}/images/localhost%2Fbusybox:latest/tag?repo=${reg.host}/busybox&tag=v1`);
    expect(tag.status, tag.text).to.equal(201);
    const r = await svc.request('POST', `${V}/images/${reg.host}/busybox/push?tag=v1`, { headers: authHeader({}) });
    expect(r.status, r.text).to.equal(200);
    const recs = lines(r);
    expect(recs.filter((x) => x.error)).to.deep.equal([]);
    expect(recs[0]!.status).to.equal(`The push refers to repository [${reg.host}/busybox]`);
    const statuses = recs.map((x) => x.status);
    expect(statuses).to.include('Preparing');
    // The blobs are in test/busybox already: mounted across repositories, or found there.
    expect(statuses.some((s) => typeof s === 'string' && (s.startsWith('Mounted from') || s === 'Layer already exists' || s === 'Pushed'))).to.equal(true);
    const digestLine = recs.find((x) => typeof x.status === 'string' && x.status.startsWith('v1: digest: '));
    expect(digestLine, r.text).to.not.equal(undefined);
    const aux = recs.find((x) => x.aux);
    expect(aux!.aux.Tag).to.equal('v1');
    expect(aux!.aux.Digest).to.match(/^sha256:/);
    const m = await registryRequest(reg, 'HEAD', '/v2/busybox/manifests/v1', { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' } });
    expect(m.status).to.equal(200);
    expect(m.headers['docker-content-digest']).to.equal(aux!.aux.Digest);
  });

  it('pulls back with the Docker API after removal: the progress stream and the same image', async () => {
    const rm = await svc.request('DELETE', `${V}/images/${busyboxId}?force=true`);
    expect(rm.status, rm.text).to.equal(200);
    expect(await imageIds(svc)).to.deep.equal([]);
    const r = await svc.request('POST', `${V}/images/create?fromImage=${reg.host}/busybox&tag=v1`);
    expect(r.status, r.text).to.equal(200);
    const recs = lines(r);
    expect(recs.filter((x) => x.error)).to.deep.equal([]);
    expect(recs[0]).to.deep.equal({ status: 'Pulling from busybox', id: 'v1' });
    const statuses = recs.map((x) => x.status as string);
    for (const s of ['Pulling fs layer', 'Downloading', 'Download complete', 'Pull complete']) expect(statuses, s).to.include(s);
    const dl = recs.find((x) => x.status === 'Downloading')!;
    expect(dl.progressDetail.total).to.be.a('number');
    expect(dl.progress).to.match(/^\[[= >]*\]/);
    expect(statuses.at(-2)).to.match(/^Digest: sha256:[0-9a-f]{64}$/);
    expect(statuses.at(-1)).to.equal(`Status: Downloaded newer image for ${reg.host}/busybox:v1`);
    expect(await imageIds(svc)).to.deep.equal([busyboxId]);
    const insp = await svc.request('GET', `${V}/images/${reg.host}/busybox:v1/json`);
    expect(insp.status).to.equal(200);
    const digest = statuses.at(-2)!.slice('Digest: '.length);
    expect(insp.json().RepoDigests).to.include(`${reg.host}/busybox@${digest}`);
    expect(insp.json().RepoTags).to.include(`${reg.host}/busybox:v1`);
  });

  it('a second pull says the image is up to date and downloads nothing', async () => {
    const r = await svc.request('POST', `${V}/images/create?fromImage=${reg.host}/busybox&tag=v1`);
    expect(r.status).to.equal(200);
    const statuses = lines(r).map((x) => x.status as string);
    expect(statuses).to.not.include('Downloading');
    expect(statuses.filter((s) => s === 'Already exists' || s === 'Pulling fs layer')).to.deep.equal([]);
    expect(statuses.at(-1)).to.equal(`Status: Image is up to date for ${reg.host}/busybox:v1`);
  });

  it('pulls with the Libpod API: stream lines, then images and id', async () => {
    await svc.request('DELETE', `${V}/images/${busyboxId}?force=true`);
    const r = await svc.request('POST', `${L}/images/pull?reference=${reg.host}/test/busybox:latest&tlsVerify=false`);
    expect(r.status, r.text).to.equal(200);
    const recs = lines(r);
    expect(recs[0]).to.deep.equal({ stream: `Trying to pull ${reg.host}/test/busybox:latest...\n` });
    const text = recs.map((x) => x.stream ?? '').join('');
    expect(text).to.contain('Getting image source signatures');
    expect(text).to.contain(`Copying config sha256:${busyboxId}`);
    expect(recs.at(-1)).to.deep.equal({ images: [busyboxId], id: busyboxId });
    const quiet = await svc.request('POST', `${L}/images/pull?reference=${reg.host}/test/busybox:latest&tlsVerify=false&quiet=true`);
    expect(lines(quiet)).to.deep.equal([{ images: [busyboxId], id: busyboxId }]);
    const compat = await svc.request('POST', `${L}/images/pull?reference=${reg.host}/test/busybox:latest&tlsVerify=false&compatMode=true`);
    expect(lines(compat).at(-1)).to.deep.equal({ status: `Status: Image is up to date for ${reg.host}/test/busybox:latest` });
  });

  it('re-pulls by digest, and the image carries that digest', async () => {
    const head = await registryRequest(reg, 'HEAD', '/v2/busybox/manifests/v1', { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' } });
    const digest = String(head.headers['docker-content-digest']);
    await svc.request('DELETE', `${V}/images/${busyboxId}?force=true`);
    const r = await svc.request('POST', `${L}/images/pull?reference=${reg.host}/busybox@${digest}&tlsVerify=false&quiet=true`);
    expect(lines(r), r.text).to.deep.equal([{ images: [busyboxId], id: busyboxId }]);
    const c = await svc.request('POST', `${V}/images/create?fromImage=${reg.host}/busybox&tag=${digest}`);
    const statuses = lines(c).map((x) => x.status as string);
    expect(statuses.at(-2)).to.equal(`Digest: ${digest}`);
    expect(statuses.at(-1)).to.equal(`Status: Image is up to date for ${reg.host}/busybox@${digest}`);
    const insp = await svc.request('GET', `${L}/images/${busyboxId}/json`);
    expect(insp.json().RepoDigests).to.include(`${reg.host}/busybox@${digest}`);
  });

  it('an unknown tag is a 404 before any stream; a bad reference a 400', async () => {
    const r = await svc.request('POST', `${V}/images/create?fromImage=${reg.host}/busybox&tag=nope`);
    expect(r.status, r.text).to.equal(404);
    expect(r.json().message).to.contain('manifest unknown');
    expect(r.json().message).to.contain(reg.host);
    const bad = await svc.request('POST', `${V}/images/create?fromImage=${reg.host}/Bad..Name&tag=x`);
    expect(bad.status).to.equal(400);
    const lp = await svc.request('POST', `${L}/images/pull?reference=${reg.host}/busybox:nope&tlsVerify=false`);
    expect(lp.status).to.equal(200);
    const recs = lines(lp);
    expect(recs.at(-1)!.error).to.contain('manifest unknown');
  });

  it('pulls a multi-layer image seeded directly, OCI and Docker manifests, and a manifest list', async () => {
    const layers = [randomLayer('a', 300_000), randomLayer('b', 200_000), randomLayer('c', 100_000)];
    const docker = await seedImage(reg, 'multi', 'docker', layers.map((t) => ({ tar: t })));
    const oci = await seedImage(reg, 'multi', 'oci', [{ tar: layers[0]! }, { tar: layers[1]!, gzip: false }], { oci: true });
    const r1 = await svc.request('POST', `${L}/images/pull?reference=${reg.host}/multi:docker&tlsVerify=false&quiet=true`);
    expect(lines(r1), r1.text).to.deep.equal([{ images: [docker.id], id: docker.id }]);
    const r2 = await svc.request('POST', `${L}/images/pull?reference=${reg.host}/multi:oci&tlsVerify=false&quiet=true`);
    expect(lines(r2), r2.text).to.deep.equal([{ images: [oci.id], id: oci.id }]);
    // A list with an entry for another architecture and one for this host.
    const other = await seedImage(reg, 'multi', 'other', [{ tar: layers[2]! }], { architecture: 's390x' });
    const list = await seedIndex(reg, 'multi', 'list', [
      { digest: other.manifestDigest, size: other.manifest.length, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', platform: { os: 'linux', architecture: 's390x' } },
      { digest: docker.manifestDigest, size: docker.manifest.length, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', platform: { os: 'linux', architecture: process.arch === 'arm64' ? 'arm64' : 'amd64' } },
    ]);
    const r3 = await svc.request('POST', `${V}/images/create?fromImage=${reg.host}/multi&tag=list`);
    const st = lines(r3).map((x) => x.status);
    expect(st.at(-2)).to.equal(`Digest: ${list}`);
    const insp = await svc.request('GET', `${V}/images/${reg.host}/multi:list/json`);
    expect(insp.json().Id).to.equal(`sha256:${docker.id}`);
    const r4 = await svc.request('POST', `${V}/images/create?fromImage=${reg.host}/multi&tag=list&platform=linux/s390x`);
    expect(lines(r4).filter((x) => x.error), r4.text).to.deep.equal([]);
    const insp4 = await svc.request('GET', `${V}/images/${reg.host}/multi:list/json`);
    expect(insp4.json().Id).to.equal(`sha256:${other.id}`);
    const r5 = await svc.request('POST', `${V}/images/create?fromImage=${reg.host}/multi&tag=list&platform=linux/mips64le`);
    expect(r5.status).to.equal(404);
    expect(r5.json().message).to.contain('no image found in manifest list');
    // Distribution inspect: the list's descriptor and platforms.
    const d = await svc.request('GET', `${V}/distribution/${reg.host}/multi:list/json`);
    expect(d.status, d.text).to.equal(200);
    expect(d.json().Descriptor.digest).to.equal(list);
    expect(d.json().Platforms.map((p: { architecture: string }) => p.architecture)).to.include('s390x');
    const d2 = await svc.request('GET', `${V}/distribution/${reg.host}/multi:docker/json`);
    expect(d2.json().Descriptor).to.deep.equal({ mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: docker.manifestDigest, size: docker.manifest.length });
    expect(d2.json().Platforms[0].os).to.equal('linux');
  });

  it('a blob whose content does not match its digest fails the pull and stores nothing', async () => {
    const layers = [randomLayer('x', 50_000), randomLayer('y', 60_000)];
    const seeded = await seedImage(reg, 'corrupt', 'v1', layers.map((t) => ({ tar: t })));
    // Flip bytes in the registry's copy of the top layer blob (same size).
    const file = reg.blobPath(seeded.layerDigests[1]!);
    const data = readFileSync(file);
    data[data.length - 20] ^= 0xff;
    writeFileSync(file, data);
    const layersBefore = layerDirs(svc);
    const blobsBefore = blobFiles(svc);
    const r = await svc.request('POST', `${V}/images/create?fromImage=${reg.host}/corrupt&tag=v1`);
    expect(r.status).to.equal(200);
    const err = lines(r).at(-1)!;
    expect(err.error, r.text).to.match(/digest mismatch|does not match|invalid gzip|unexpected end|checksum/);
    expect(err.errorDetail.message).to.equal(err.error);
    expect(await imageIds(svc)).to.not.include(seeded.id);
    expect(layerDirs(svc)).to.deep.equal(layersBefore);
    expect(blobFiles(svc)).to.deep.equal(blobsBefore);
  });

  it('pull policies: missing and never use the local image, newer checks the digest; allTags pulls every tag', async () => {
    const localId = (await svc.request('GET', `${V}/images/${reg.host}/multi:docker/json`)).json().Id.slice(7);
    const missing = await svc.request('POST', `${L}/images/pull?reference=${reg.host}/multi:docker&policy=missing&quiet=true`);
    expect(lines(missing), missing.text).to.deep.equal([{ images: [localId], id: localId }]);
    const never = await svc.request('POST', `${L}/images/pull?reference=${reg.host}/nothere:v1&policy=never&quiet=true`);
    expect(never.status).to.equal(404);
    const newer = await svc.request('POST', `${L}/images/pull?reference=${reg.host}/multi:docker&policy=newer&tlsVerify=false&quiet=true`);
    expect(lines(newer), newer.text).to.deep.equal([{ images: [localId], id: localId }]);
    const bad = await svc.request('POST', `${L}/images/pull?reference=${reg.host}/multi:docker&policy=sometimes`);
    expect(bad.status).to.equal(400);
    const all = await svc.request('POST', `${L}/images/pull?reference=${reg.host}/multi&allTags=true&tlsVerify=false&quiet=true`);
    const last = lines(all).at(-1)!;
    expect(last.images, all.text).to.have.length(3); // docker (= list on this host), oci, other
    for (const tag of ['docker', 'oci', 'other', 'list']) {
      expect((await svc.request('GET', `${L}/images/${reg.host}/multi:${tag}/exists`)).status, tag).to.equal(204);
    }
  });

  it('searches the catalog and lists tags', async () => {
    const r = await svc.request('GET', `${V}/images/search?term=${reg.host}/busy`);
    expect(r.status, r.text).to.equal(200);
    const names = r.json<Array<{ name: string }>>().map((x) => x.name).sort();
    expect(names).to.deep.equal([`${reg.host}/busybox`, `${reg.host}/test/busybox`]);
    const l = await svc.request('GET', `${L}/images/search?term=${reg.host}/multi&tlsVerify=false&listTags=true`);
    expect(l.status, l.text).to.equal(200);
    const tags = l.json<Array<{ Name: string; Tag: string; Index: string }>>().map((x) => x.Tag).sort();
    expect(tags).to.include.members(['docker', 'list', 'oci']);
    expect(l.json()[0].Index).to.equal(reg.host);
  });

  it('emits pull and push events', async () => {
    const r = await svc.request('GET', `${L}/events?stream=false&since=0&filters=${encodeURIComponent(JSON.stringify({ type: ['image'] }))}`);
    const actions = lines(r).map((e) => e.Action ?? e.status);
    expect(actions).to.include('pull');
    expect(actions).to.include('push');
  });
});

describe('registry: shared and interrupted pulls', function () {
  this.timeout(120_000);
  let reg: TestRegistry;
  let svc: TestService;

  before(async () => {
    reg = await TestRegistry.start();
    svc = await TestService.start();
  });
  after(async () => {
    await svc?.stop();
    await svc?.cleanup();
    await reg?.stop();
  });

  it('two concurrent pulls of the same image share the work and both succeed', async () => {
    const seeded = await seedImage(reg, 'shared', 'v1', [randomLayer('s1', 2_000_000), randomLayer('s2', 1_000_000)].map((t) => ({ tar: t })));
    const [a, b] = await Promise.all([
      svc.request('POST', `${V}/images/create?fromImage=${reg.host}/shared&tag=v1`),
      svc.request('POST', `${V}/images/create?fromImage=${reg.host}/shared&tag=v1`),
    ]);
    for (const r of [a, b]) {
      expect(lines(r).filter((x) => x.error), r.text).to.deep.equal([]);
      expect(lines(r).at(-1)!.status).to.match(/^Status: /);
    }
    expect(await imageIds(svc)).to.deep.equal([seeded.id]);
    // Each layer was unpacked once.
    expect(layerDirs(svc).filter((n) => n.startsWith('tmp-'))).to.deep.equal([]);
  });

  it('a registry killed mid-pull: a clear error, nothing half-stored, and the next pull succeeds', async () => {
    const seeded = await seedImage(reg, 'big', 'v1', [randomLayer('k1', 3_000_000), randomLayer('k2', 3_000_000), randomLayer('k3', 3_000_000)].map((t) => ({ tar: t })));
    const relay = new ThrottledRelay(reg.port, 16 * 1024);
    await relay.start();
    try {
      const layersBefore = layerDirs(svc);
      const blobsBefore = blobFiles(svc);
      const ref = `127.0.0.1:${relay.port}/big`;
      const pull = svc.request('POST', `${V}/images/create?fromImage=${ref}&tag=v1`);
      // Kill the registry once downloads are under way.
      await new Promise((r) => setTimeout(r, 700));
      await reg.kill();
      relay.cut();
      const r = await pull;
      expect(r.status).to.equal(200);
      const last = lines(r).at(-1)!;
      expect(last.error, r.text).to.be.a('string');
      expect(last.error).to.contain(`127.0.0.1:${relay.port}`);
      expect(await imageIds(svc)).to.not.include(seeded.id);
      expect(layerDirs(svc)).to.deep.equal(layersBefore);
      expect(blobFiles(svc)).to.deep.equal(blobsBefore);
      expect(readdirSync(join(svc.root, 'blobs', 'tmp'))).to.deep.equal([]);
      await reg.restart();
      const again = await svc.request('POST', `${V}/images/create?fromImage=${reg.host}/big&tag=v1`);
      expect(lines(again).filter((x) => x.error), again.text).to.deep.equal([]);
      expect(await imageIds(svc)).to.include(seeded.id);
    } finally {
      await relay.stop();
    }
  });

  it('a registry that is down: a 500 naming it, before any stream', async () => {
    const r = await svc.request('POST', `${V}/images/create?fromImage=127.0.0.1:1/nothing&tag=v1`);
    expect(r.status).to.equal(500);
    expect(r.json().message).to.contain('127.0.0.1:1');
  });
});

describe('registry: credentials (htpasswd)', function () {
  this.timeout(120_000);
  let reg: TestRegistry;
  let svc: TestService;
  const alice = { username: 'alice', password: 'wonderland' };

  before(async () => {
    reg = await TestRegistry.start({ users: { alice: alice.password } });
    svc = await TestService.start();
    await loadBusyboxImage(svc);
  });
  after(async () => {
    await svc?.stop();
    await svc?.cleanup();
    await reg?.stop();
  });

  it('POST /auth checks the credentials against the registry', async () => {
    const ok = await svc.request('POST', `${V}/auth`, { body: { ...alice, serveraddress: reg.host } });
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.json().Status).to.equal('Login Succeeded');
    const bad = await svc.request('POST', `${V}/auth`, { body: { username: 'alice', password: 'nope', serveraddress: reg.host } });
    expect(bad.status, bad.text).to.equal(401);
    expect(bad.json().message).to.contain(reg.host);
  });

  it('push without credentials is refused; with X-Registry-Auth it works', async () => {
    const dest = `${reg.host}/private/busybox:1`;
    const no = await svc.request('POST', `${L}/images/localhost%2Fbusybox:latest/push?destination=${encodeURIComponent(dest)}&tlsVerify=false&quiet=true`);
    expect(no.status, no.text).to.equal(401);
    expect(no.json().message).to.match(/unauthorized|authentication required/i);
    // Once the stream is open the error comes in it.
    const inBand = await svc.request('POST', `${L}/images/localhost%2Fbusybox:latest/push?destination=${encodeURIComponent(dest)}&tlsVerify=false`);
    expect(inBand.status).to.equal(200);
    expect(lines(inBand).at(-1)!.error).to.match(/unauthorized|authentication required/i);
    const yes = await svc.request('POST', `${L}/images/localhost%2Fbusybox:latest/push?destination=${encodeURIComponent(dest)}&tlsVerify=false`, {
      headers: authHeader({ ...alice, serveraddress: reg.host }),
    });
    expect(yes.status, yes.text).to.equal(200);
    expect(lines(yes).filter((x) => x.error)).to.deep.equal([]);
  });

  it('pull with wrong credentials: a 401-class error and nothing stored', async () => {
    const before = await imageIds(svc);
    const layersBefore = layerDirs(svc);
    const r = await svc.request('POST', `${V}/images/create?fromImage=${reg.host}/private/busybox&tag=1`, { headers: authHeader({ username: 'alice', password: 'wrong' }) });
    expect(r.status, r.text).to.equal(401);
    expect(r.json().message).to.match(/unauthorized|authentication required/i);
    const lp = await svc.request('POST', `${L}/images/pull?reference=${reg.host}/private/busybox:1&tlsVerify=false&quiet=true`, { headers: authHeader({ username: 'alice', password: 'wrong' }) });
    expect(lp.status).to.equal(401);
    expect(await imageIds(svc)).to.deep.equal(before);
    expect(layerDirs(svc)).to.deep.equal(layersBefore);
  });

  it('pull with credentials from X-Registry-Auth (a per-registry map too) and from auth.json', async () => {
    await svc.request('DELETE', `${L}/images/localhost/busybox:latest?force=true`);
    const r = await svc.request('POST', `${V}/images/create?fromImage=${reg.host}/private/busybox&tag=1`, { headers: authHeader({ ...alice, serveraddress: reg.host }) });
    expect(lines(r).filter((x) => x.error), r.text).to.deep.equal([]);
    const m = await svc.request('POST', `${L}/images/pull?reference=${reg.host}/private/busybox:1&tlsVerify=false&quiet=true`, { headers: authHeader({ [reg.host]: alice }) });
    expect(lines(m).at(-1)).to.have.property('images');
    // auth.json via REGISTRY_AUTH_FILE, in a second service.
    const authFile = join(svc.dir, 'auth.json');
    writeFileSync(authFile, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${alice.username}:${alice.password}`).toString('base64') } } }));
    const svc2 = await TestService.start({ env: { REGISTRY_AUTH_FILE: authFile } });
    try {
      const r2 = await svc2.request('POST', `${V}/images/create?fromImage=${reg.host}/private/busybox&tag=1`);
      expect(lines(r2).filter((x) => x.error), r2.text).to.deep.equal([]);
    } finally {
      await svc2.stop();
      await svc2.cleanup();
    }
  });
});

describe('registry: TLS with a test CA from certs.d', function () {
  this.timeout(120_000);
  let reg: TestRegistry;
  let svc: TestService;
  let certsDir: string;

  before(async () => {
    reg = await TestRegistry.start({ tls: true });
    svc = new TestService();
    certsDir = join(svc.dir, 'certs.d');
    mkdirSync(join(certsDir, reg.host), { recursive: true });
    copyFileSync(reg.certs!.caCert, join(certsDir, reg.host, 'ca.crt'));
    await svc.start({ env: { TSPOD_CERTS_D: certsDir } });
    await loadBusyboxImage(svc);
  });
  after(async () => {
    await svc?.stop();
    await svc?.cleanup();
    await reg?.stop();
  });

  it('pushes and pulls over HTTPS verified with the CA in certs.d', async () => {
    const dest = `${reg.host}/tls/busybox:1`;
    const p = await svc.request('POST', `${L}/images/localhost%2Fbusybox:latest/push?destination=${encodeURIComponent(dest)}`);
    expect(p.status, p.text).to.equal(200);
    expect(lines(p).filter((x) => x.error)).to.deep.equal([]);
    const r = await svc.request('POST', `${L}/images/pull?reference=${dest}&quiet=true`);
    expect(lines(r).at(-1), r.text).to.have.property('images');
  });

  it('without the CA the certificate is refused; tlsVerify=false skips verification', async () => {
    const other = await TestService.start({ env: { TSPOD_CERTS_D: join(svc.dir, 'empty-certs.d') } });
    try {
      const r = await other.request('POST', `${L}/images/pull?reference=${reg.host}/tls/busybox:1&quiet=true`);
      expect(r.status).to.be.oneOf([200, 500]);
      const msg = r.status === 200 ? lines(r).at(-1)!.error : r.json().message;
      expect(msg).to.match(/certificate|self.signed|issuer/i);
      const skip = await other.request('POST', `${L}/images/pull?reference=${reg.host}/tls/busybox:1&quiet=true&tlsVerify=false`);
      expect(lines(skip).at(-1), skip.text).to.have.property('images');
    } finally {
      await other.stop();
      await other.cleanup();
    }
  });
});

describe('registry: registries.conf (short names, aliases, mirrors, blocked)', function () {
  this.timeout(120_000);
  let reg: TestRegistry;
  let mirror: TestRegistry;
  let svc: TestService;

  before(async () => {
    reg = await TestRegistry.start();
    mirror = await TestRegistry.start();
    svc = new TestService();
    const conf = join(svc.dir, 'registries.conf');
    writeFileSync(
      conf,
      [
        `unqualified-search-registries = ["${reg.host}"]`,
        '[aliases]',
        `"shorty" = "${reg.host}/aliased/thing"`,
        '[[registry]]',
        `location = "${reg.host}"`,
        'insecure = true',
        '[[registry]]',
        'prefix = "example.invalid/mirrored"',
        `location = "${reg.host}/mirrored"`,
        'insecure = true',
        '[[registry.mirror]]',
        `location = "${mirror.host}/mirrored"`,
        'insecure = true',
        '[[registry]]',
        'location = "blocked.example.invalid"',
        'blocked = true',
      ].join('\n') + '\n',
    );
    await svc.start({ env: { CONTAINERS_REGISTRIES_CONF: conf } });
  });
  after(async () => {
    await svc?.stop();
    await svc?.cleanup();
    await reg?.stop();
    await mirror?.stop();
  });

  it('a short name on the Libpod API goes to the unqualified-search registry; aliases are followed', async () => {
    const a = await seedImage(reg, 'plain', 'v1', [{ tar: randomLayer('p', 1000) }]);
    const r = await svc.request('POST', `${L}/images/pull?reference=plain:v1`);
    expect(lines(r)[0]).to.deep.equal({ stream: `Trying to pull ${reg.host}/plain:v1...\n` });
    expect(lines(r).at(-1), r.text).to.deep.equal({ images: [a.id], id: a.id });
    const b = await seedImage(reg, 'aliased/thing', 'latest', [{ tar: randomLayer('q', 1000) }]);
    const r2 = await svc.request('POST', `${L}/images/pull?reference=shorty&quiet=true`);
    expect(lines(r2).at(-1), r2.text).to.deep.equal({ images: [b.id], id: b.id });
  });

  it('a mirror is tried first; the rewritten location when the mirror lacks the image', async () => {
    const viaMirror = await seedImage(mirror, 'mirrored/app', 'v1', [{ tar: randomLayer('m', 1000) }]);
    const r = await svc.request('POST', `${L}/images/pull?reference=example.invalid/mirrored/app:v1&quiet=true`);
    expect(lines(r).at(-1), r.text).to.deep.equal({ images: [viaMirror.id], id: viaMirror.id });
    const onlyPrimary = await seedImage(reg, 'mirrored/app', 'v2', [{ tar: randomLayer('n', 1000) }]);
    const r2 = await svc.request('POST', `${L}/images/pull?reference=example.invalid/mirrored/app:v2&quiet=true`);
    expect(lines(r2).at(-1), r2.text).to.deep.equal({ images: [onlyPrimary.id], id: onlyPrimary.id });
    const insp = await svc.request('GET', `${L}/images/${onlyPrimary.id}/json`);
    expect(insp.json().RepoTags).to.include('example.invalid/mirrored/app:v2');
  });

  it('a blocked registry is refused', async () => {
    const r = await svc.request('POST', `${L}/images/pull?reference=blocked.example.invalid/x:1&quiet=true`);
    expect(r.status).to.be.oneOf([200, 403]);
    const msg = r.status === 200 ? lines(r).at(-1)!.error : r.json().message;
    expect(msg).to.contain('blocked');
  });
});

describe('registry: token auth (Bearer realm/service/scope)', function () {
  this.timeout(120_000);
  let reg: TestRegistry;
  let svc: TestService;
  let id: string;
  const carol = { username: 'carol', password: 'tokenpass' };

  before(async () => {
    reg = await TestRegistry.start({ tokenUsers: { carol: carol.password } });
    svc = await TestService.start();
    id = (await loadBusyboxImage(svc, { extraLayers: true })).id;
  });
  after(async () => {
    await svc?.stop();
    await svc?.cleanup();
    await reg?.stop();
  });

  it('POST /auth gets a token with the credentials, or 401', async () => {
    const ok = await svc.request('POST', `${V}/auth`, { body: { ...carol, serveraddress: reg.host } });
    expect(ok.status, ok.text).to.equal(200);
    const bad = await svc.request('POST', `${V}/auth`, { body: { username: 'carol', password: 'x', serveraddress: reg.host } });
    expect(bad.status, bad.text).to.equal(401);
  });

  it('pushes and pulls with tokens for the scopes needed, cached between requests', async () => {
    const dest = `${reg.host}/tok/busybox:1`;
    const p = await svc.request('POST', `${L}/images/localhost%2Fbusybox:latest/push?destination=${encodeURIComponent(dest)}&tlsVerify=false`, { headers: authHeader(carol) });
    expect(lines(p).filter((x) => x.error), p.text).to.deep.equal([]);
    expect(reg.tokenServer!.issued.some((s) => s.includes('repository:tok/busybox:pull,push'))).to.equal(true);
    await svc.request('DELETE', `${V}/images/${id}?force=true`);
    const before = reg.tokenServer!.issued.length;
    const r = await svc.request('POST', `${V}/images/create?fromImage=${reg.host}/tok/busybox&tag=1`, { headers: authHeader(carol) });
    expect(lines(r).filter((x) => x.error), r.text).to.deep.equal([]);
    expect(await imageIds(svc)).to.include(id);
    // One token for the pull scope served the manifest, config and both layers.
    expect(reg.tokenServer!.issued.length - before).to.equal(1);
    expect(reg.tokenServer!.issued.at(-1)).to.deep.equal(['repository:tok/busybox:pull']);
    const anon = await svc.request('POST', `${V}/images/create?fromImage=${reg.host}/tok/busybox&tag=1`);
    expect(anon.status).to.equal(401);
    const s = await svc.request('GET', `${V}/images/search?term=${reg.host}/tok`, { headers: authHeader(carol) });
    expect(s.status, s.text).to.equal(200);
    expect(s.json().map((x: { name: string }) => x.name)).to.deep.equal([`${reg.host}/tok/busybox`]);
  });
});
