// Black-box tests of image archives: save in every format (checked entry by entry and loaded
// back into a second service), import of root filesystem tarballs with changes, and hostile
// archives refused with nothing stored and nothing written outside.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readTar } from '../../engine/storage/tar-reader.js';
import { TestService } from '../helpers/service.js';
import { tar } from '../helpers/tar-builder.js';
import { busyboxBaseLayer, cachedBusyboxImage, loadBusyboxImage, postFile } from '../helpers/test-image.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const layerDirs = (svc: TestService) => readdirSync(join(svc.root, 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n));
const blobCount = (svc: TestService) => readdirSync(join(svc.root, 'blobs', 'sha256')).length;

async function untar(data: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const e of readTar((async function* () { yield data; })())) {
    if (e.header.type !== 'file') continue;
    const chunks: Buffer[] = [];
    for await (const c of e.body()) chunks.push(Buffer.from(c));
    out.set(e.header.name, Buffer.concat(chunks));
  }
  return out;
}

describe('images API: save and load back', function () {
  this.timeout(60_000);
  let svc: TestService;
  let other: TestService;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tspod-save-'));
    [svc, other] = await Promise.all([TestService.start(), TestService.start()]);
    await loadBusyboxImage(svc);
    await loadBusyboxImage(svc, { extraLayers: true, tag: 'localhost/busybox:variant' });
  });
  after(async () => {
    await Promise.all([svc?.cleanup(), other?.cleanup()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('saves a docker-archive whose layers hash to the config DiffIDs', async () => {
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant' });
    const r = await svc.request('GET', '/v1.40/images/localhost/busybox:variant/get');
    expect(r.status).to.equal(200);
    expect(r.headers['content-type']).to.equal('application/x-tar');
    const files = await untar(r.body);
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    expect(manifest).to.have.length(1);
    expect(manifest[0].RepoTags).to.deep.equal(['localhost/busybox:variant']);
    const config = files.get(manifest[0].Config)!;
    expect(sha(config)).to.equal(variant.id);
    const diffIDs = manifest[0].Layers.map((l: string) => `sha256:${sha(files.get(l)!)}`);
    expect(diffIDs).to.deep.equal(variant.diffIDs);
    expect(JSON.parse(files.get('repositories')!.toString())).to.deep.equal({ 'localhost/busybox': { variant: variant.diffIDs[1]!.slice(7) } });
    writeFileSync(join(dir, 'variant.tar'), r.body);
    const loaded = await postFile(other.socketPath, '/v1.40/images/load', join(dir, 'variant.tar'));
    expect(loaded.status, loaded.text).to.equal(200);
    const back = (await other.request('GET', '/v1.40/images/localhost/busybox:variant/json')).json();
    expect(back.Id).to.equal(`sha256:${variant.id}`);
  });

  it('saves several images in one archive, each layer once', async () => {
    const r = await svc.request('GET', '/v1.40/images/get?names=busybox&names=localhost/busybox:variant');
    expect(r.status).to.equal(200);
    const files = await untar(r.body);
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    expect(manifest.map((m: { RepoTags: string[] }) => m.RepoTags)).to.deep.equal([['localhost/busybox:latest'], ['localhost/busybox:variant']]);
    expect([...files.keys()].filter((k) => k.endsWith('layer.tar'))).to.have.length(2);
    const ex = (await svc.request('GET', '/libpod/images/export?format=docker-archive&references=busybox&references=busybox:variant')).body;
    expect((await untar(ex)).has('manifest.json')).to.equal(true);
  });

  it('saves by ID without names, and answers 404 before any byte for unknown images', async () => {
    const base = await cachedBusyboxImage();
    const r = await svc.request('GET', `/v1.40/images/${base.id.slice(0, 12)}/get`);
    const manifest = JSON.parse((await untar(r.body)).get('manifest.json')!.toString());
    expect(manifest[0].RepoTags).to.equal(null);
    expect((await svc.request('GET', '/v1.40/images/nosuch/get')).status).to.equal(404);
    expect((await svc.request('GET', '/v1.40/images/get?names=busybox&names=nosuch')).status).to.equal(404);
    expect((await svc.request('GET', '/libpod/images/busybox/get?format=zip')).status).to.equal(400);
  });

  it('saves oci-archive (the default of the Libpod API) that loads back', async () => {
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant' });
    const r = await svc.request('GET', '/v4.3.1/libpod/images/localhost%2Fbusybox:variant/get');
    expect(r.status).to.equal(200);
    const files = await untar(r.body);
    expect(JSON.parse(files.get('oci-layout')!.toString())).to.deep.equal({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(files.get('index.json')!.toString());
    expect(index.manifests[0].annotations['org.opencontainers.image.ref.name']).to.equal('localhost/busybox:variant');
    const mPath = `blobs/sha256/${index.manifests[0].digest.slice(7)}`;
    const manifest = JSON.parse(files.get(mPath)!.toString());
    expect(manifest.mediaType).to.equal('application/vnd.oci.image.manifest.v1+json');
    expect(manifest.config.digest).to.equal(`sha256:${variant.id}`);
    for (const [name, data] of files) if (name.startsWith('blobs/sha256/')) expect(sha(data), name).to.equal(name.slice(13));
    writeFileSync(join(dir, 'variant-oci.tar'), r.body);
    const loaded = await postFile(other.socketPath, '/libpod/images/load', join(dir, 'variant-oci.tar'));
    expect(JSON.parse(loaded.text)).to.deep.equal({ Names: ['localhost/busybox:variant'] });
  });

  it('saves oci-dir and docker-dir layouts, compressed on request', async () => {
    let files = await untar((await svc.request('GET', '/libpod/images/busybox/get?format=oci-dir&compress=true')).body);
    const index = JSON.parse(files.get('index.json')!.toString());
    const manifest = JSON.parse(files.get(`blobs/sha256/${index.manifests[0].digest.slice(7)}`)!.toString());
    expect(manifest.layers[0].mediaType).to.equal('application/vnd.oci.image.layer.v1.tar+gzip');
    const gz = files.get(`blobs/sha256/${manifest.layers[0].digest.slice(7)}`)!;
    expect(gz[0]).to.equal(0x1f);
    expect(sha(gz)).to.equal(manifest.layers[0].digest.slice(7));
    files = await untar((await svc.request('GET', '/libpod/images/busybox/get?format=docker-dir')).body);
    expect(files.get('version')!.toString()).to.equal('Directory Transport Version: 1.1\n');
    const dm = JSON.parse(files.get('manifest.json')!.toString());
    expect(dm.mediaType).to.equal('application/vnd.docker.distribution.manifest.v2+json');
    expect(files.has(dm.config.digest.slice(7))).to.equal(true);
    expect(sha(files.get(dm.layers[0].digest.slice(7))!)).to.equal(dm.layers[0].digest.slice(7));
  });
});

describe('images API: import', function () {
  this.timeout(60_000);
  let svc: TestService;
  before(async () => (svc = await TestService.start()));
  after(async () => svc?.cleanup());

  it('imports a rootfs tarball through the compat API with repo, tag, changes and message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tspod-import-'));
    try {
      const file = join(dir, 'rootfs.tar.gz');
      writeFileSync(file, gzipSync(busyboxBaseLayer()));
      const changes = ['CMD ["/bin/sh","-c","echo hi"]', 'ENV A=b C=d', 'WORKDIR /srv', 'EXPOSE 8080', 'LABEL k=v', 'USER 1000', 'VOLUME /data', 'ENTRYPOINT /bin/env'];
      const qs = changes.map((c) => `changes=${encodeURIComponent(c)}`).join('&');
      const r = await postFile(svc.socketPath, `/v1.40/images/create?fromSrc=-&repo=imported&tag=v1&message=hello&${qs}`, file);
      expect(r.status, r.text).to.equal(200);
      const status = JSON.parse(r.text.trim()).status as string;
      expect(status).to.match(/^sha256:[0-9a-f]{64}$/);
      const data = (await svc.request('GET', '/v1.40/images/imported:v1/json')).json();
      expect(data.Id).to.equal(status);
      expect(data.RepoTags).to.deep.equal(['docker.io/library/imported:v1']);
      expect(data.Comment).to.equal('hello');
      expect(data.Config).to.deep.include({
        Cmd: ['/bin/sh', '-c', 'echo hi'],
        Env: ['A=b', 'C=d'],
        WorkingDir: '/srv',
        ExposedPorts: { '8080/tcp': {} },
        Labels: { k: 'v' },
        User: '1000',
        Volumes: { '/data': {} },
        Entrypoint: ['/bin/sh', '-c', '/bin/env'],
      });
      // The layer is the tar as given: its DiffID is the uncompressed tar's digest.
      expect(data.RootFS.Layers).to.deep.equal([`sha256:${sha(busyboxBaseLayer())}`]);
      // And saves back with the same DiffID.
      const saved = await untar((await svc.request('GET', '/v1.40/images/imported:v1/get')).body);
      const m = JSON.parse(saved.get('manifest.json')!.toString());
      expect(sha(saved.get(m[0].Layers[0])!)).to.equal(sha(busyboxBaseLayer()));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('imports from a URL', async () => {
    const { createServer } = await import('node:http');
    const body = gzipSync(tar([{ name: 'from-url.txt', content: 'downloaded\n' }]));
    const server = createServer((req, res) => {
      if (req.url === '/rootfs.tar.gz') res.end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await svc.request('POST', `/v1.40/images/create?fromSrc=${encodeURIComponent(`http://127.0.0.1:${port}/rootfs.tar.gz`)}&repo=fromurl`);
      expect(r.status, r.text).to.equal(200);
      const data = (await svc.request('GET', '/v1.40/images/fromurl/json')).json();
      expect(data.RepoTags).to.deep.equal(['docker.io/library/fromurl:latest']);
      expect(data.Id).to.equal(JSON.parse(r.text).status);
      const missing = await svc.request('POST', `/v1.40/images/create?fromSrc=${encodeURIComponent(`http://127.0.0.1:${port}/nope`)}&repo=x`);
      expect(missing.status).to.equal(404);
      const scheme = await svc.request('POST', `/v1.40/images/create?fromSrc=${encodeURIComponent('file:///etc/passwd')}&repo=x`);
      expect(scheme.status).to.equal(400);
    } finally {
      server.close();
    }
  });

  it('imports through the Libpod API (localhost/ names) and refuses bad changes before storing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tspod-import-'));
    try {
      const file = join(dir, 'rootfs.tar');
      writeFileSync(file, tar([{ name: 'hello.txt', content: 'hi\n' }]));
      const r = await postFile(svc.socketPath, `/libpod/images/import?reference=mine:1&changes=${encodeURIComponent('CMD=["/hello"]')}`, file);
      expect(r.status, r.text).to.equal(200);
      const id = JSON.parse(r.text).Id as string;
      expect(id).to.match(/^sha256:[0-9a-f]{64}$/);
      const data = (await svc.request('GET', '/libpod/images/mine:1/json')).json();
      expect(`sha256:${data.Id}`).to.equal(id);
      expect(data.RepoTags).to.deep.equal(['localhost/mine:1']);
      expect(data.Config.Cmd).to.deep.equal(['/hello']);
      const layersBefore = layerDirs(svc).length;
      const bad = await postFile(svc.socketPath, `/libpod/images/import?changes=${encodeURIComponent('FROB x')}`, file);
      expect(bad.status).to.equal(400);
      expect(layerDirs(svc)).to.have.length(layersBefore);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('images API: hostile archives', function () {
  this.timeout(60_000);
  let svc: TestService;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tspod-hostile-'));
    svc = await TestService.start();
  });
  after(async () => {
    await svc?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const config = (diffIDs: string[]) => Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIDs } }));

  async function refused(name: string, archive: Buffer): Promise<string> {
    const file = join(dir, name);
    writeFileSync(file, archive);
    const r = await postFile(svc.socketPath, '/v1.40/images/load', file);
    expect(r.status, r.text).to.equal(400);
    expect(layerDirs(svc), 'no layer stored').to.deep.equal([]);
    expect(blobCount(svc), 'no blob stored').to.equal(0);
    expect((await svc.request('GET', '/libpod/images/json')).json()).to.deep.equal([]);
    return JSON.parse(r.text).message as string;
  }

  it('refuses manifest paths that leave the archive', async () => {
    const layer = tar([{ name: 'ok.txt', content: 'ok' }]);
    const cfg = config([`sha256:${sha(layer)}`]);
    const msg = await refused(
      'traversal-manifest.tar',
      tar([
        { name: 'layer.tar', content: layer },
        { name: 'c.json', content: cfg },
        { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', RepoTags: ['evil:1'], Layers: ['../../../etc/passwd'] }]) },
      ]),
    );
    expect(msg).to.match(/leaves the archive/);
    await refused(
      'absolute-config.tar',
      tar([
        { name: 'layer.tar', content: layer },
        { name: 'manifest.json', content: JSON.stringify([{ Config: '/etc/passwd', RepoTags: ['evil:1'], Layers: ['layer.tar'] }]) },
      ]),
    );
    await refused('traversal-entry.tar', tar([{ name: '../outside.txt', content: 'x' }, { name: 'manifest.json', content: '[]' }]));
  });

  it('refuses a layer with a ../ entry or a symlink escape, writing nothing outside', async () => {
    const outside = join(dir, 'escaped');
    const layers = {
      dotdot: tar([{ name: `../../../../../../../..${outside}`, content: 'escaped' }]),
      symlink: tar([
        { name: 'link', type: 'symlink', linkname: dir },
        { name: 'link/escaped', content: 'escaped' },
      ]),
    };
    for (const [kind, layer] of Object.entries(layers)) {
      const cfg = config([`sha256:${sha(layer)}`]);
      const big = Buffer.concat([layer, Buffer.alloc(2 << 20)]); // large enough to be spooled, not kept in memory
      for (const l of [layer, big]) {
        const c = l === layer ? cfg : config([`sha256:${sha(big)}`]);
        const msg = await refused(
          `hostile-${kind}-${l.length}.tar`,
          tar([
            { name: 'l/layer.tar', content: l },
            { name: 'c.json', content: c },
            { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', RepoTags: ['evil:1'], Layers: ['l/layer.tar'] }]) },
          ]),
        );
        expect(msg, kind).to.match(/refusing layer/);
        expect(existsSync(outside), kind).to.equal(false);
      }
    }
  });

  it('refuses a layer whose content does not match the config DiffID, and a truncated archive', async () => {
    const layer = tar([{ name: 'ok.txt', content: 'ok' }]);
    await refused(
      'wrong-diffid.tar',
      tar([
        { name: 'l.tar', content: layer },
        { name: 'c.json', content: config([`sha256:${sha('something else')}`]) },
        { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', RepoTags: null, Layers: ['l.tar'] }]) },
      ]),
    );
    const img = await cachedBusyboxImage();
    const { readFileSync } = await import('node:fs');
    const whole = readFileSync(img.tarPath);
    await refused('truncated.tar', whole.subarray(0, Math.floor(whole.length / 2)));
    await refused('not-an-archive.tar', Buffer.from('this is not a tar file at all, just text'.repeat(20)));
  });

  it('refuses OCI blobs whose content does not match their names', async () => {
    const layer = tar([{ name: 'ok.txt', content: 'ok' }]);
    const fake = 'a'.repeat(64);
    const cfg = config([`sha256:${sha(layer)}`]);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha(cfg)}`, size: cfg.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${fake}`, size: layer.length }] }));
    await refused(
      'oci-bad-blob.tar',
      tar([
        { name: `blobs/sha256/${fake}`, content: layer },
        { name: `blobs/sha256/${sha(cfg)}`, content: cfg },
        { name: `blobs/sha256/${sha(manifest)}`, content: manifest },
        { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
        { name: 'index.json', content: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${sha(manifest)}`, size: manifest.length }] }) },
      ]),
    );
  });
});
