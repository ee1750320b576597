// GET /libpod/images/{name}/changes (podman image diff): an image's changes against the layers
// below its top layer, or against another image, as Podman 5.1 reports them (libpod/diff.go,
// containers/storage OverlayChanges for a parent layer, the naive tree diff otherwise).
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { podman } from '../helpers/clients.js';
import { canRunContainers, runContainer, shutdown, waitExit } from '../helpers/containers.js';
import { assertMatchesSchema } from '../helpers/schema.js';
import { TestService } from '../helpers/service.js';
import { tar, type TestEntry } from '../helpers/tar-builder.js';
import { busyboxBaseLayer, busyboxExtraLayer, loadBusyboxImage, postFile } from '../helpers/test-image.js';

const L = '/v5.1.0/libpod';
const q = encodeURIComponent;
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const MTIME = 1_700_000_000;

/** A third layer on the variant: deletes /etc/hello.txt (added by layer 2), re-creates /opt/old/a.txt, adds /usr/bin/tool. */
function thirdLayer(): Buffer {
  const e = (x: TestEntry): TestEntry => ({ uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: MTIME + 120, ...x });
  return tar([
    e({ name: 'etc/', type: 'dir', mode: 0o755 }),
    e({ name: 'etc/.wh.hello.txt' }),
    e({ name: 'opt/', type: 'dir', mode: 0o755 }),
    e({ name: 'opt/old/', type: 'dir', mode: 0o755 }),
    e({ name: 'opt/old/a.txt', content: 'a again, in layer 3\n', mode: 0o644 }),
    e({ name: 'usr/', type: 'dir', mode: 0o755 }),
    e({ name: 'usr/bin/', type: 'dir', mode: 0o755 }),
    e({ name: 'usr/bin/tool', content: '#!/bin/sh\n', mode: 0o755 }),
  ]);
}

/** Loads base + layer 2 + layer 3 as localhost/three:latest (a docker-archive). */
async function loadThreeLayers(svc: TestService): Promise<void> {
  const layers = [busyboxBaseLayer(), busyboxExtraLayer(), thirdLayer()];
  const diffIDs = layers.map((l) => `sha256:${sha(l)}`);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: diffIDs } }));
  const id = sha(config);
  const entries: TestEntry[] = [];
  for (const [i, l] of layers.entries()) entries.push({ name: `${diffIDs[i]!.slice(7)}/layer.tar`, content: l, mtime: MTIME });
  entries.push({ name: `${id}.json`, content: config, mtime: MTIME });
  entries.push({ name: 'manifest.json', content: JSON.stringify([{ Config: `${id}.json`, RepoTags: ['localhost/three:latest'], Layers: diffIDs.map((d) => `${d.slice(7)}/layer.tar`) }]), mtime: MTIME });
  const file = join(svc.dir, 'three.tar');
  writeFileSync(file, tar(entries));
  const r = await postFile(svc.socketPath, `${L}/images/load`, file);
  expect(r.status, r.text).to.equal(200);
}

describe('images API: changes (image diff)', function () {
  this.timeout(60_000);
  let svc: TestService;
  before(async () => {
    svc = await TestService.start();
    await loadBusyboxImage(svc);
    await loadBusyboxImage(svc, { extraLayers: true, tag: 'localhost/busybox:variant' });
    await loadThreeLayers(svc);
  });
  after(async () => svc?.cleanup());

  const changes = async (name: string, query = '') => {
    const r = await svc.request('GET', `${L}/images/${q(name)}/changes${query}`);
    expect(r.status, r.text).to.equal(200);
    const body = r.json();
    assertMatchesSchema('libpod', 'ImageChangesLibpod', 200, body);
    return body as Array<{ Path: string; Kind: number }> | null;
  };

  const variantLayer = [
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/hello.txt', Kind: 1 },
    { Path: '/etc/motd', Kind: 2 },
    { Path: '/opt', Kind: 0 },
    // An opaque directory that hid something below is reported deleted, as containers/storage does.
    { Path: '/opt/old', Kind: 2 },
    { Path: '/opt/old/new.txt', Kind: 1 },
  ];

  it('without a parent: the top layer against the layers below it', async () => {
    expect(await changes('localhost/busybox:variant')).to.deep.equal(variantLayer);
    expect(await changes('localhost/busybox:variant', '?diffType=image')).to.deep.equal(variantLayer);
  });

  it('a one-layer image: everything added, without the paths the runtime makes (/dev, /proc, /run, /sys)', async () => {
    const all = (await changes('localhost/busybox:latest'))!;
    expect(all.every((c) => c.Kind === 1)).to.equal(true);
    const paths = all.map((c) => c.Path);
    expect(paths).to.include.members(['/bin', '/bin/busybox', '/etc/motd', '/opt/old/a.txt', '/tmp']);
    expect(paths).to.not.include.members(['/dev']);
    for (const p of ['/dev', '/proc', '/run', '/sys']) expect(paths).to.not.include(p);
    expect(paths.indexOf('/etc')).to.be.lessThan(paths.indexOf('/etc/motd'));
  });

  it('against the parent image: the same as without one; against itself: null', async () => {
    expect(await changes('localhost/busybox:variant', `?parent=${q('localhost/busybox:latest')}`)).to.deep.equal(variantLayer);
    expect(await changes('localhost/busybox:variant', `?parent=${q('localhost/busybox:variant')}`)).to.equal(null);
  });

  it('against an ancestor several layers down: the merged layers, a file added then deleted does not show', async () => {
    expect(await changes('localhost/three', `?parent=${q('localhost/busybox:latest')}`)).to.deep.equal([
      { Path: '/etc', Kind: 0 },
      { Path: '/etc/motd', Kind: 2 },
      { Path: '/opt', Kind: 0 },
      { Path: '/opt/old', Kind: 0 },
      { Path: '/opt/old/a.txt', Kind: 0 },
      { Path: '/opt/old/b.txt', Kind: 2 },
      { Path: '/opt/old/new.txt', Kind: 1 },
      { Path: '/usr', Kind: 0 },
      { Path: '/usr/bin', Kind: 0 },
      { Path: '/usr/bin/tool', Kind: 1 },
    ]);
  });

  it('against a descendant (the trees compared the other way round)', async () => {
    expect(await changes('localhost/busybox:latest', `?parent=${q('localhost/busybox:variant')}`)).to.deep.equal([
      { Path: '/etc', Kind: 0 },
      { Path: '/etc/hello.txt', Kind: 2 },
      { Path: '/etc/motd', Kind: 1 },
      { Path: '/opt', Kind: 0 },
      { Path: '/opt/old', Kind: 0 },
      { Path: '/opt/old/a.txt', Kind: 1 },
      { Path: '/opt/old/b.txt', Kind: 1 },
      { Path: '/opt/old/new.txt', Kind: 2 },
    ]);
  });

  it('unknown image or parent: 404 naming it; a bad diffType: 400; nothing changes', async () => {
    const before = (await svc.request('GET', `${L}/images/json`)).json();
    const r = await svc.request('GET', `${L}/images/nosuch/changes?diffType=image`);
    expect(r.status, r.text).to.equal(404);
    expect(r.json().message).to.match(/^nosuch not found: .*image not known/);
    const p = await svc.request('GET', `${L}/images/localhost/busybox:variant/changes?parent=nosuch`);
    expect(p.status, p.text).to.equal(404);
    expect(p.json().message).to.match(/^nosuch not found/);
    const c = await svc.request('GET', `${L}/images/localhost/busybox:variant/changes?diffType=container`);
    expect(c.status, c.text).to.equal(404);
    const all = await svc.request('GET', `${L}/images/nosuch/changes`);
    expect(all.status, all.text).to.equal(404);
    const bad = await svc.request('GET', `${L}/images/localhost/busybox:variant/changes?diffType=layer`);
    expect(bad.status, bad.text).to.equal(400);
    expect((await svc.request('GET', `${L}/images/json`)).json()).to.deep.equal(before);
  });

  it('podman --remote image diff prints them', () => {
    const r = podman(svc, 'image', 'diff', 'localhost/busybox:variant');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim().split('\n')).to.deep.equal(['C /etc', 'A /etc/hello.txt', 'D /etc/motd', 'C /opt', 'D /opt/old', 'A /opt/old/new.txt']);
    const two = podman(svc, 'image', 'diff', '--format', 'json', 'localhost/three', 'localhost/busybox:latest');
    expect(two.status, two.stderr).to.equal(0);
    expect(JSON.parse(two.stdout)).to.deep.include({ deleted: ['/etc/motd', '/opt/old/b.txt'], added: ['/opt/old/new.txt', '/usr/bin/tool'] });
  });
});

(canRunContainers() ? describe : describe.skip)('changes endpoints: containers (diffType)', function () {
  this.timeout(120_000);
  let svc: TestService;
  let id: string;
  before(async () => {
    svc = await TestService.start();
    await loadBusyboxImage(svc, { extraLayers: true, tag: 'localhost/busybox:variant' });
    // /etc/motd is deleted by the image's second layer: writing it again adds it.
    id = await runContainer(svc, { Image: 'localhost/busybox:variant', Cmd: ['sh', '-c', 'echo back > /etc/motd'], HostConfig: { NetworkMode: 'none' } });
    expect(await waitExit(svc, id)).to.equal(0);
  });
  after(async () => shutdown(svc));

  it('a file the image deleted and the container wrote again is added, not modified', async () => {
    const want = [
      { Path: '/etc', Kind: 0 },
      { Path: '/etc/motd', Kind: 1 },
    ];
    const r = await svc.request('GET', `${L}/containers/${id}/changes`);
    expect(r.status, r.text).to.equal(200);
    assertMatchesSchema('libpod', 'ContainerChangesLibpod', 200, r.json());
    expect(r.json()).to.deep.equal(want);
    expect((await svc.request('GET', `/v1.40/containers/${id}/changes`)).json()).to.deep.equal(want);
    // Podman serves both endpoints with one handler: the images one finds containers too.
    const viaImages = await svc.request('GET', `${L}/images/${id}/changes?diffType=container`);
    expect(viaImages.json()).to.deep.equal(want);
  });

  it('diffType narrows the lookup; a parent for a container is a 400 naming the limitation', async () => {
    const asImage = await svc.request('GET', `${L}/containers/${id}/changes?diffType=image`);
    expect(asImage.status, asImage.text).to.equal(404);
    const img = await svc.request('GET', `${L}/containers/${q('localhost/busybox:variant')}/changes?diffType=image`);
    expect(img.status, img.text).to.equal(200);
    expect(img.json().map((c: { Path: string }) => c.Path)).to.include('/opt/old/new.txt');
    const withParent = await svc.request('GET', `${L}/containers/${id}/changes?diffType=container&parent=${q('localhost/busybox:variant')}`);
    expect(withParent.status, withParent.text).to.equal(400);
    expect(withParent.json().message).to.match(/only a container's own changes can be listed/);
  });
});
