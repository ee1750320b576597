// The image domain in-process: the ImageResolver contract (and an overlay of the resolved
// layers showing the whiteouts applied), the containers' usage hook, concurrent loads, leases,
// records seen by a second process's connection, and the pure parsers (changes, globs).
import { expect } from 'chai';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containersConfDefaults } from '../../engine/config/containers-conf.js';
import type { EngineContext } from '../../engine/context.js';
import { EngineError } from '../../engine/errors.js';
import { EventLog } from '../../engine/events/event-log.js';
import { applyChanges, splitWords } from '../../engine/images/changes.js';
import { type ImageDomain, openImageDomain } from '../../engine/images/domain.js';
import { globMatch } from '../../engine/images/filters.js';
import { ImageDb } from '../../engine/images/image-db.js';
import { mountOverlay, unmount } from '../../engine/storage/overlay.js';
import { tar } from '../helpers/tar-builder.js';
import { cachedBusyboxImage } from '../helpers/test-image.js';

const isRoot = process.getuid?.() === 0;

async function domainIn(dir: string): Promise<ImageDomain> {
  const ctx: EngineContext = {
    root: join(dir, 'root'),
    runroot: join(dir, 'run'),
    rootless: !isRoot,
    conf: { files: [], ...(containersConfDefaults as object) } as unknown as EngineContext['conf'],
    events: new EventLog(join(dir, 'run', 'events', 'events.log')),
  };
  return openImageDomain(ctx);
}

const load = (d: ImageDomain, file: string) => d.engine.imageLoad(createReadStream(file) as AsyncIterable<Buffer>, {});

describe('images: domain', function () {
  this.timeout(60_000);
  let dir: string;
  let d: ImageDomain;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tspod-images-'));
    d = await domainIn(dir);
  });
  afterEach(async () => {
    await d?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves images for the containers domain (ImageResolver)', async () => {
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant' });
    await load(d, variant.tarPath);
    const img = await d.resolver.resolveImage('busybox:variant');
    expect(img.id).to.equal(variant.id);
    expect(img.names).to.deep.equal(['localhost/busybox:variant']);
    expect(img.requestedName).to.equal('localhost/busybox:variant');
    expect(img.digests).to.have.length(1);
    expect(img.config.Cmd).to.deep.equal(['sh']);
    expect(img.layerChain).to.have.length(2);
    expect(img.layerChain[0]).to.equal(variant.diffIDs[0]);
    expect(img.os).to.equal('linux');
    const byId = await d.resolver.resolveImage(variant.id.slice(0, 10));
    expect(byId.id).to.equal(variant.id);
    expect(byId.requestedName).to.equal(undefined);
    const lower = d.resolver.lowerDirs(img);
    expect(lower).to.have.length(2);
    expect(lower[1]).to.equal(join(dir, 'root', 'layers', variant.diffIDs[0]!.slice(7), 'diff'));
    try {
      await d.resolver.resolveImage('nosuch');
      expect.fail('resolved an unknown image');
    } catch (e) {
      expect(e).to.be.instanceOf(EngineError);
      expect((e as EngineError).kind).to.equal('not-found');
      expect((e as EngineError).message).to.equal('No such image: nosuch');
    }
  });

  it('gives an overlay of the resolved layers with the upper layer\'s whiteouts applied', async function () {
    if (!isRoot) this.skip();
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant' });
    await load(d, variant.tarPath);
    const img = await d.resolver.resolveImage(variant.id);
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    await mountOverlay(mnt, { lowerDirs: d.resolver.lowerDirs(img) });
    try {
      expect(existsSync(join(mnt, 'bin/busybox'))).to.equal(true);
      expect(existsSync(join(mnt, 'etc/motd'))).to.equal(false);
      expect(readFileSync(join(mnt, 'etc/hello.txt'), 'utf8')).to.equal('hello from layer 2\n');
      expect(readdirSync(join(mnt, 'opt/old'))).to.deep.equal(['new.txt']);
      expect(readFileSync(join(mnt, 'etc/passwd'), 'utf8')).to.match(/^root:x:0:0/);
    } finally {
      await unmount(mnt);
    }
  });

  it('refuses to remove an image a container uses, unless forced with container removal', async () => {
    const img = await cachedBusyboxImage();
    await load(d, img.tarPath);
    const removed: string[][] = [];
    let users = new Map([[img.id, ['ctr1']]]);
    d.setUsage({
      containersByImage: () => users,
      removeContainers: async (ids) => {
        removed.push(ids);
        users = new Map();
      },
    });
    const list = await d.engine.imageList({});
    expect(list[0]!.containers).to.equal(1);
    expect((await d.engine.imageList({ filters: { containers: ['true'] } })).length).to.equal(1);
    let r = await d.engine.imageRemove(['busybox'], {});
    expect(r.errors).to.have.length(1);
    expect(r.errors[0]!.kind).to.equal('conflict');
    expect(r.exitCode).to.equal(2);
    r = await d.engine.imageRemove(['busybox'], { force: true });
    expect(r.errors[0]!.kind, 'compat force does not remove containers').to.equal('conflict');
    expect((await d.engine.imagePrune({ all: true })).removed).to.deep.equal([]);
    r = await d.engine.imageRemove(['busybox'], { force: true, removeContainers: true });
    expect(r.errors).to.deep.equal([]);
    expect(removed).to.deep.equal([['ctr1']]);
    expect(r.deleted).to.deep.equal([img.id]);
  });

  it('shares the work of concurrent loads of the same image', async () => {
    const img = await cachedBusyboxImage();
    const reports = await Promise.all([load(d, img.tarPath), load(d, img.tarPath), load(d, img.tarPath)]);
    for (const r of reports) expect(r.images[0]!.id).to.equal(img.id);
    expect(readdirSync(join(dir, 'root', 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n))).to.have.length(1);
    expect(readdirSync(join(dir, 'root', 'blobs', 'sha256'))).to.have.length(3);
    expect(readdirSync(join(dir, 'root', 'blobs', 'tmp'))).to.deep.equal([]);
  });

  it('keeps leased layers and blobs from removal until released', async () => {
    const img = await cachedBusyboxImage();
    await load(d, img.tarPath);
    const lease = d.store.lease();
    const chain = img.diffIDs[0]!;
    lease.layer(chain);
    const r = await d.engine.imageRemove([img.id], {});
    expect(r.deleted).to.deep.equal([img.id]);
    expect(d.store.layers.has(chain), 'leased layer kept').to.equal(true);
    lease.release();
    await d.store.collect([chain], []);
    expect(d.store.layers.has(chain)).to.equal(false);
  });

  it('collects layers and blobs a crash left unrecorded, once they are old enough', async () => {
    const img = await cachedBusyboxImage();
    await load(d, img.tarPath);
    const orphanTar = tar([{ name: 'orphan.txt', content: 'left behind' }]);
    const blob = await d.store.blobs.putBuffer(orphanTar);
    const layer = await d.store.layers.put((async function* () { yield orphanTar; })(), null);
    expect(await d.store.collectOrphans(60 * 60 * 1000)).to.deep.equal({ layers: 0, blobs: 0 });
    await new Promise((r) => setTimeout(r, 20));
    expect(await d.store.collectOrphans(5)).to.deep.equal({ layers: 1, blobs: 1 });
    expect(d.store.layers.has(layer.layer.chainID)).to.equal(false);
    expect(await d.store.blobs.has(blob.digest)).to.equal(false);
    // The image's own layers and blobs stay.
    expect(d.store.layers.has(img.diffIDs[0]!)).to.equal(true);
    expect((await d.engine.imageSave([img.id], { format: 'docker-archive' }))).to.not.equal(undefined);
  });

  it('lets another connection (another tspod process) see changes', async () => {
    const img = await cachedBusyboxImage();
    const other = ImageDb.open(join(dir, 'root'));
    try {
      expect(other.all().size).to.equal(0);
      await load(d, img.tarPath);
      expect([...other.all().keys()]).to.deep.equal([img.id]);
      await d.engine.imageTag('busybox', 'x:1', 'podman');
      expect(other.all().get(img.id)!.names).to.include('localhost/x:1');
      // And the other way round: a change made through it is seen by the service's store.
      other.update((recs) => ({ put: [{ ...recs.get(img.id)!, names: ['localhost/renamed:1'] }], result: undefined }));
      expect((await d.engine.imageInspect('renamed:1')).id).to.equal(img.id);
    } finally {
      other.close();
    }
  });
});

describe('images: changes and globs', () => {
  it('applies Dockerfile-style changes', () => {
    const c = applyChanges({ Env: ['A=1'] }, [
      'CMD ["a","b"]',
      'ENTRYPOINT exec me',
      'ENV A=2 B="two words"',
      'ENV C 3 4',
      'LABEL "x y"=z k=v',
      'EXPOSE 80 53/udp',
      'USER nobody',
      'VOLUME ["/a","/b"]',
      'WORKDIR /srv',
      'WORKDIR sub',
      'STOPSIGNAL SIGINT',
    ]);
    expect(c).to.deep.equal({
      Env: ['A=2', 'B=two words', 'C=3 4'],
      Cmd: ['a', 'b'],
      Entrypoint: ['/bin/sh', '-c', 'exec me'],
      Labels: { 'x y': 'z', k: 'v' },
      ExposedPorts: { '80/tcp': {}, '53/udp': {} },
      User: 'nobody',
      Volumes: { '/a': {}, '/b': {} },
      WorkingDir: '/srv/sub',
      StopSignal: 'SIGINT',
    });
    expect(applyChanges({}, ['CMD=["x"]']).Cmd).to.deep.equal(['x']);
    for (const bad of ['FROB x', 'EXPOSE http', 'ENV', 'nonsense']) expect(() => applyChanges({}, [bad]), bad).to.throw(EngineError);
    expect(splitWords(`a "b c" 'd e' f\\ g`)).to.deep.equal(['a', 'b c', 'd e', 'f g']);
  });

  it('matches reference globs as Go path.Match', () => {
    expect(globMatch('busy*', 'busybox')).to.equal(true);
    expect(globMatch('*', 'localhost/busybox')).to.equal(false);
    expect(globMatch('localhost/*', 'localhost/busybox')).to.equal(true);
    expect(globMatch('b?sybox', 'busybox')).to.equal(true);
    expect(globMatch('[a-c]usybox', 'busybox')).to.equal(true);
    expect(globMatch('[^b]usybox', 'busybox')).to.equal(false);
    expect(globMatch('a.b', 'axb')).to.equal(false);
  });
});
