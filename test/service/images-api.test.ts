// Black-box tests of the image endpoints (compat and Libpod) against the real service: load,
// list, inspect, lookups, tag/untag, remove, prune, history, tree, events, persistence.
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertMatchesSchema } from '../helpers/schema.js';
import { TestService } from '../helpers/service.js';
import { BUSYBOX_TAG, cachedBusyboxImage, loadBusyboxImage, postFile } from '../helpers/test-image.js';

const layerDirs = (svc: TestService) => readdirSync(join(svc.root, 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n));
const blobs = (svc: TestService) => readdirSync(join(svc.root, 'blobs', 'sha256'));
const q = (o: unknown) => encodeURIComponent(JSON.stringify(o));

describe('images API: load, list, inspect', function () {
  this.timeout(60_000);
  let svc: TestService;
  before(async () => (svc = await TestService.start()));
  after(async () => svc?.cleanup());

  it('loads a docker-archive through the compat API and reports it as Docker does', async () => {
    const img = await cachedBusyboxImage();
    const r = await postFile(svc.socketPath, '/v1.40/images/load?quiet=1', img.tarPath);
    expect(r.status, r.text).to.equal(200);
    expect(r.text.trim().split('\n').map((l) => JSON.parse(l))).to.deep.equal([{ stream: 'Loaded image: localhost/busybox:latest\n' }]);
    const list = (await svc.request('GET', '/v1.40/images/json')).json();
    assertMatchesSchema('docker', 'ImageList', 200, list);
    expect(list).to.have.length(1);
    expect(list[0].Id).to.equal(`sha256:${img.id}`);
    expect(list[0].RepoTags).to.deep.equal([BUSYBOX_TAG]);
    expect(list[0].RepoDigests).to.have.length(1);
    expect(list[0].RepoDigests[0]).to.match(/^localhost\/busybox@sha256:[0-9a-f]{64}$/);
    expect(list[0].Created).to.equal(Date.parse('2024-01-01T00:00:00Z') / 1000);
    expect(list[0].Size).to.be.greaterThan(1_000_000);
    expect(list[0].VirtualSize).to.equal(list[0].Size);
    expect(list[0].Labels).to.deep.equal({ 'org.tspod.test': 'base' });
    expect(list[0].Containers).to.equal(0);
  });

  it('inspects in the Docker shape with config, RootFS and an overlay GraphDriver', async () => {
    const img = await cachedBusyboxImage();
    for (const ref of [BUSYBOX_TAG, 'busybox', 'busybox:latest', img.id, `sha256:${img.id}`, img.id.slice(0, 12)]) {
      const r = await svc.request('GET', `/v1.40/images/${ref}/json`);
      expect(r.status, ref).to.equal(200);
      const body = r.json();
      assertMatchesSchema('docker', 'ImageInspect', 200, body);
      expect(body.Id).to.equal(`sha256:${img.id}`);
      expect(body.Config.Cmd).to.deep.equal(['sh']);
      expect(body.Config.Env).to.deep.equal(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
      expect(body.RootFS).to.deep.equal({ Type: 'layers', Layers: img.diffIDs });
      expect(body.GraphDriver.Name).to.equal('overlay');
      expect(body.GraphDriver.Data.UpperDir).to.equal(join(svc.root, 'layers', img.diffIDs[0]!.slice(7), 'diff'));
      expect(body.Architecture).to.be.a('string').and.not.equal('');
      expect(body.Os).to.equal('linux');
    }
  });

  it('inspects and lists in the Libpod shapes', async () => {
    const img = await cachedBusyboxImage();
    const r = await svc.request('GET', '/v4.3.1/libpod/images/localhost%2Fbusybox:latest/json');
    expect(r.status).to.equal(200);
    const data = r.json();
    assertMatchesSchema('libpod', 'ImageInspectLibpod', 200, data);
    expect(data.Id).to.equal(img.id);
    expect(data.Digest).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(data.RepoTags).to.deep.equal([BUSYBOX_TAG]);
    expect(data.Config.Cmd).to.deep.equal(['sh']);
    expect(data.History).to.have.length(2);
    expect(data.ManifestType).to.equal('application/vnd.docker.distribution.manifest.v2+json');
    expect(data.NamesHistory).to.deep.equal([BUSYBOX_TAG]);
    const list = (await svc.request('GET', '/v4.3.1/libpod/images/json')).json();
    assertMatchesSchema('libpod', 'ImageListLibpod', 200, list);
    expect(list[0]).to.include({ Id: img.id, Dangling: false, ReadOnly: false, Digest: data.Digest });
    expect(list[0].Names).to.deep.equal([BUSYBOX_TAG]);
  });

  it('answers 404 for unknown images, 400 for malformed names', async () => {
    for (const path of ['/v1.40/images/nosuch/json', '/v1.40/images/nosuch/history', '/libpod/images/nosuch/json', '/libpod/images/sha256:abc/json']) {
      const r = await svc.request('GET', path);
      expect(r.status, path).to.equal(404);
      expect(r.json().message).to.match(/image not known|no such image/i);
    }
    expect((await svc.request('GET', '/libpod/images/nosuch/exists')).status).to.equal(404);
    expect((await svc.request('GET', '/libpod/images/busybox/exists')).status).to.equal(204);
    expect((await svc.request('GET', '/v1.40/images/UPPER/json')).status).to.equal(400);
  });

  it('stores a layer shared by two images once, and computes SharedSize', async () => {
    const before = layerDirs(svc);
    expect(before).to.have.length(1);
    const variant = await loadBusyboxImage(svc, { extraLayers: true, tag: 'localhost/busybox:variant' });
    expect(variant.names).to.deep.equal(['localhost/busybox:variant']);
    const after = layerDirs(svc);
    expect(after).to.have.length(2);
    expect(after).to.include(before[0]);
    // One blob per distinct layer, plus a config and a manifest per image.
    expect(blobs(svc)).to.have.length(2 + 2 * 2);
    const list = (await svc.request('GET', '/libpod/images/json')).json() as Array<{ Id: string; Size: number; SharedSize: number; ParentId: string }>;
    const baseId = (await cachedBusyboxImage()).id;
    const base = list.find((i) => i.Id === baseId)!;
    const v = list.find((i) => i.Id === variant.id)!;
    expect(v.ParentId).to.equal((await cachedBusyboxImage()).id);
    expect(v.SharedSize).to.be.greaterThan(1_000_000);
    expect(v.Size).to.be.greaterThan(v.SharedSize);
    expect(base.SharedSize).to.equal(v.SharedSize);
    // Loading the same archive again stores nothing new.
    await loadBusyboxImage(svc, { extraLayers: true, tag: 'localhost/busybox:variant' });
    expect(layerDirs(svc)).to.have.length(2);
    expect(blobs(svc)).to.have.length(6);
  });

  it('loads gzip-compressed docker-archives and oci-archives to the same image IDs', async () => {
    const gz = await cachedBusyboxImage({ gzip: true, tag: 'localhost/busybox:gz' });
    const r1 = await postFile(svc.socketPath, '/libpod/images/load', gz.tarPath);
    expect(r1.status, r1.text).to.equal(200);
    expect(r1.text).to.include('localhost/busybox:gz');
    const oci = await cachedBusyboxImage({ format: 'oci-archive', tag: 'localhost/busybox:oci' });
    expect(oci.id).to.equal(gz.id);
    const r2 = await postFile(svc.socketPath, '/libpod/images/load', oci.tarPath);
    expect(r2.status, r2.text).to.equal(200);
    expect(JSON.parse(r2.text)).to.deep.equal({ Names: ['localhost/busybox:oci'] });
    const data = (await svc.request('GET', '/libpod/images/busybox:oci/json')).json();
    expect(data.Id).to.equal(gz.id);
    expect(data.RepoTags).to.have.members([BUSYBOX_TAG, 'localhost/busybox:gz', 'localhost/busybox:oci']);
    expect(layerDirs(svc)).to.have.length(2);
  });

  it('loads the OCI-layout archives Docker 25+ saves', async () => {
    const img = await cachedBusyboxImage({ format: 'docker-oci-archive', tag: 'localhost/busybox:docker25' });
    const r = await postFile(svc.socketPath, '/v1.40/images/load', img.tarPath);
    expect(r.status, r.text).to.equal(200);
    expect(JSON.parse(r.text).stream).to.equal('Loaded image: localhost/busybox:docker25\n');
    expect((await svc.request('GET', '/v1.40/images/busybox:docker25/json')).json().Id).to.equal(`sha256:${img.id}`);
    const info = (await svc.request('GET', '/v1.40/info')).json();
    expect(info.Images).to.equal(2);
  });

  it('looks names up as Podman does: candidates, ID prefixes, digests, repository suffixes', async () => {
    const img = await cachedBusyboxImage();
    const inspect = (await svc.request('GET', `/libpod/images/${img.id}/json`)).json();
    const digest: string = inspect.Digest;
    for (const ref of [`localhost/busybox@${digest}`, `busybox@${digest}`, `busybox:latest@${digest}`, 'busybox:gz', img.id.slice(0, 5)]) {
      const r = await svc.request('GET', `/libpod/images/${encodeURIComponent(ref)}/json`);
      expect(r.status, ref).to.equal(200);
      expect(r.json().Id, ref).to.equal(img.id);
    }
    // docker.io names are tried after localhost/.
    await svc.request('POST', `/v1.40/images/${img.id}/tag?repo=quay.io/some/busybox&tag=fuzzy`);
    const r = await svc.request('GET', '/libpod/images/busybox:fuzzy/json');
    expect(r.status).to.equal(200);
    expect(r.json().Id).to.equal(img.id);
    await svc.request('DELETE', '/libpod/images/quay.io/some/busybox:fuzzy');
  });

  it('tags the compat way (docker.io) and the Libpod way (localhost/), and untags', async () => {
    const img = await cachedBusyboxImage();
    let r = await svc.request('POST', '/v1.40/images/busybox/tag?repo=myimage&tag=v1');
    expect(r.status).to.equal(201);
    r = await svc.request('POST', '/v4.3.1/libpod/images/busybox/tag?repo=myimage&tag=v2');
    expect(r.status).to.equal(201);
    let data = (await svc.request('GET', `/libpod/images/${img.id}/json`)).json();
    expect(data.RepoTags).to.include.members(['docker.io/library/myimage:v1', 'localhost/myimage:v2']);
    expect((await svc.request('GET', '/v1.40/images/myimage:v1/json')).json().Id).to.equal(`sha256:${img.id}`);
    r = await svc.request('POST', '/v1.40/images/busybox/tag');
    expect(r.status).to.equal(400);
    r = await svc.request('POST', '/v1.40/images/nosuch/tag?repo=x');
    expect(r.status).to.equal(404);
    r = await svc.request('POST', '/libpod/images/busybox/untag?repo=localhost/myimage&tag=v2');
    expect(r.status).to.equal(201);
    r = await svc.request('POST', '/libpod/images/busybox/untag?repo=docker.io/library/myimage&tag=v1');
    expect(r.status).to.equal(201);
    r = await svc.request('POST', '/libpod/images/busybox/untag?repo=localhost/myimage&tag=v2');
    expect(r.status).to.equal(404);
    data = (await svc.request('GET', `/libpod/images/${img.id}/json`)).json();
    expect(data.RepoTags).to.not.include.members(['docker.io/library/myimage:v1', 'localhost/myimage:v2']);
    expect(data.NamesHistory).to.include('localhost/myimage:v2');
  });

  it('moves a name to the image it is given to, leaving the other dangling', async () => {
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant' });
    let r = await svc.request('POST', `/libpod/images/${variant.id}/tag?repo=localhost/moving&tag=x`);
    expect(r.status).to.equal(201);
    const base = await cachedBusyboxImage();
    r = await svc.request('POST', `/libpod/images/${base.id}/tag?repo=localhost/moving&tag=x`);
    expect(r.status).to.equal(201);
    expect((await svc.request('GET', '/libpod/images/localhost/moving:x/json')).json().Id).to.equal(base.id);
    expect((await svc.request('GET', `/libpod/images/${variant.id}/json`)).json().RepoTags).to.deep.equal(['localhost/busybox:variant']);
    await svc.request('POST', `/libpod/images/${base.id}/untag?repo=localhost/moving&tag=x`);
  });

  it('answers history in both shapes, newest first, with the layer sizes', async () => {
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant' });
    const base = await cachedBusyboxImage();
    const compat = (await svc.request('GET', '/v1.40/images/busybox:variant/history')).json();
    assertMatchesSchema('docker', 'ImageHistory', 200, compat);
    expect(compat).to.have.length(3);
    expect(compat[0]).to.include({ Id: `sha256:${variant.id}`, Comment: 'layer 2' });
    expect(compat[0].Tags).to.deep.equal(['localhost/busybox:variant']);
    expect(compat[0].Size).to.be.greaterThan(0).and.lessThan(100);
    expect(compat[1]).to.include({ Id: `sha256:${base.id}`, Size: 0 });
    expect(compat[2].Size).to.be.greaterThan(1_000_000);
    const libpod = (await svc.request('GET', '/libpod/images/busybox:variant/history')).json();
    for (const h of libpod) assertMatchesSchema('libpod', 'ImageHistoryLibpod', 200, h);
    expect(libpod[0].Id).to.equal(variant.id);
    const tree = (await svc.request('GET', '/libpod/images/busybox:variant/tree')).json();
    expect(tree.Tree).to.match(/^Image ID: [0-9a-f]{12}\n/);
    expect(tree.Tree).to.include('Image Layers\n├── ID:');
    expect(tree.Tree).to.include('Top Layer of: [localhost/busybox:variant]');
  });

  it('filters lists: reference, label, dangling, before/since, id, and rejects unknown filters', async () => {
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant' });
    const base = await cachedBusyboxImage();
    const ids = async (filters: object, api = '/v1.40') => ((await svc.request('GET', `${api}/images/json?filters=${q(filters)}`)).json() as Array<{ Id: string }>).map((i) => i.Id.replace(/^sha256:/, ''));
    expect(await ids({ reference: ['busybox:variant'] })).to.deep.equal([variant.id]);
    expect(await ids({ reference: ['localhost/busybox'] })).to.have.members([variant.id, base.id]);
    expect(await ids({ reference: { 'busy*': true } })).to.have.members([variant.id, base.id]);
    expect(await ids({ label: ['org.tspod.test=base'] })).to.deep.equal([base.id]);
    expect(await ids({ label: ['org.tspod.test'] })).to.have.length(2);
    expect(await ids({ dangling: ['true'] })).to.deep.equal([]);
    expect(await ids({ before: ['busybox:variant'] })).to.deep.equal([base.id]);
    expect(await ids({ since: [base.id] })).to.deep.equal([variant.id]);
    expect(await ids({ id: [variant.id.slice(0, 8)] }, '/libpod')).to.deep.equal([variant.id]);
    expect((await svc.request('GET', `/v1.40/images/json?filters=${q({ colour: ['red'] })}`)).status).to.equal(400);
    expect((await svc.request('GET', '/v1.40/images/json?filters=nope')).status).to.equal(400);
  });

  it('keeps images across a restart', async () => {
    const before = (await svc.request('GET', '/libpod/images/json')).json();
    await svc.stop();
    await svc.start();
    const after = (await svc.request('GET', '/libpod/images/json')).json();
    expect(after).to.deep.equal(before);
  });
});

describe('images API: remove and prune', function () {
  this.timeout(60_000);
  let svc: TestService;
  beforeEach(async () => {
    svc = await TestService.start();
    await loadBusyboxImage(svc);
    await loadBusyboxImage(svc, { extraLayers: true, tag: 'localhost/busybox:variant' });
  });
  afterEach(async () => svc?.cleanup());

  it('untags a name of an image with several names, refuses its ID without force', async () => {
    const base = await cachedBusyboxImage();
    await svc.request('POST', '/libpod/images/busybox/tag?repo=localhost/other');
    let r = await svc.request('DELETE', '/v1.40/images/localhost/other:latest');
    expect(r.status).to.equal(200);
    assertMatchesSchema('docker', 'ImageDelete', 200, r.json());
    expect(r.json()).to.deep.equal([{ Untagged: 'localhost/other:latest' }]);
    await svc.request('POST', '/libpod/images/busybox/tag?repo=localhost/other');
    r = await svc.request('DELETE', `/v1.40/images/${base.id.slice(0, 12)}`);
    expect(r.status).to.equal(409);
    expect(r.json().message).to.match(/more than one tag/);
    r = await svc.request('DELETE', `/v1.40/images/${base.id.slice(0, 12)}?force=1`);
    expect(r.status, r.text).to.equal(200);
    // A child still holds the base layer: the base is untagged and its record removed, not "Deleted".
    expect(r.json()).to.deep.include({ Untagged: BUSYBOX_TAG });
    expect((await svc.request('GET', `/libpod/images/${base.id}/exists`)).status).to.equal(404);
    expect(layerDirs(svc)).to.have.length(2);
  });

  it('hides intermediate images (untagged parents) unless all', async () => {
    const base = await cachedBusyboxImage();
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant' });
    expect((await svc.request('POST', `/libpod/images/${base.id}/untag`)).status).to.equal(201);
    const ids = async (path: string) => ((await svc.request('GET', path)).json() as Array<{ Id: string }>).map((i) => i.Id.replace(/^sha256:/, ''));
    expect(await ids('/v1.40/images/json')).to.deep.equal([variant.id]);
    expect(await ids('/v1.40/images/json?all=1')).to.have.members([variant.id, base.id]);
    expect(await ids(`/libpod/images/json?all=true&filters=${q({ dangling: ['true'] })}`)).to.deep.equal([]);
    expect(await ids(`/libpod/images/json?all=true&filters=${q({ intermediate: ['true'] })}`)).to.deep.equal([base.id]);
    // Pruning leaves it (it is not dangling); removing the child then prunes it as a dangling parent.
    expect((await svc.request('POST', '/libpod/images/prune')).json()).to.deep.equal([]);
    const r = await svc.request('DELETE', '/libpod/images/busybox:variant');
    expect(r.json().Deleted).to.deep.equal([variant.id, base.id]);
    expect(layerDirs(svc)).to.deep.equal([]);
  });

  it('removes an image and its unshared layers and blobs, keeping shared ones', async () => {
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant' });
    const r = await svc.request('DELETE', '/v1.40/images/busybox:variant');
    expect(r.status).to.equal(200);
    expect(r.json()).to.deep.equal([{ Untagged: 'localhost/busybox:variant' }, { Deleted: `sha256:${variant.id}` }]);
    expect(layerDirs(svc)).to.have.length(1);
    expect(blobs(svc)).to.have.length(3);
    const r2 = await svc.request('DELETE', '/libpod/images/busybox');
    expect(r2.status).to.equal(200);
    assertMatchesSchema('libpod', 'ImageDeleteLibpod', 200, r2.json());
    expect(r2.json()).to.include({ ExitCode: 0 });
    expect(layerDirs(svc)).to.have.length(0);
    expect(blobs(svc)).to.have.length(0);
    expect((await svc.request('GET', '/libpod/images/json')).json()).to.deep.equal([]);
  });

  it('reports per image on the Libpod batch remove', async () => {
    let r = await svc.request('DELETE', '/v4.3.1/libpod/images/remove?images=localhost%2Fbusybox%3Avariant&images=nosuch');
    expect(r.status).to.equal(200);
    const report = r.json();
    assertMatchesSchema('libpod', 'ImageDeleteAllLibpod', 200, report);
    expect(report.Untagged).to.deep.equal(['localhost/busybox:variant']);
    expect(report.Deleted).to.have.length(1);
    expect(report.Errors).to.have.length(1);
    expect(report.Errors[0]).to.match(/nosuch/);
    expect(report.ExitCode).to.equal(1);
    r = await svc.request('DELETE', '/libpod/images/remove?images=nosuch&ignore=true');
    expect(r.json()).to.include({ ExitCode: 0 });
    r = await svc.request('DELETE', '/libpod/images/remove?all=true');
    expect(r.json().Deleted).to.have.length(1);
    expect((await svc.request('GET', '/libpod/images/json')).json()).to.deep.equal([]);
    expect(layerDirs(svc)).to.have.length(0);
  });

  it('prunes dangling images (and parents that become dangling), reporting the space', async () => {
    // Untag the variant: it becomes dangling; the base stays tagged.
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant' });
    await svc.request('POST', `/libpod/images/${variant.id}/untag`);
    const list = (await svc.request('GET', `/v1.40/images/json?filters=${q({ dangling: ['true'] })}`)).json();
    expect(list.map((i: { Id: string }) => i.Id)).to.deep.equal([`sha256:${variant.id}`]);
    expect(list[0].RepoTags).to.deep.equal([]);
    const r = await svc.request('POST', '/v1.40/images/prune');
    expect(r.status).to.equal(200);
    const report = r.json();
    assertMatchesSchema('docker', 'ImagePrune', 200, report);
    expect(report.ImagesDeleted).to.deep.equal([{ Deleted: `sha256:${variant.id}` }]);
    expect(report.SpaceReclaimed).to.be.greaterThan(0).and.lessThan(1000);
    expect(layerDirs(svc)).to.have.length(1);
    // Nothing left to prune by default; with all (dangling=false) the base goes too.
    expect((await svc.request('POST', '/libpod/images/prune')).json()).to.deep.equal([]);
    const all = (await svc.request('POST', `/libpod/images/prune?all=true&filters=${q({ label: ['org.tspod.test=base'] })}`)).json();
    assertMatchesSchema('libpod', 'ImagePruneLibpod', 200, all);
    expect(all).to.have.length(1);
    expect(all[0].Size).to.be.greaterThan(1_000_000);
    expect(layerDirs(svc)).to.have.length(0);
  });

  it('prunes with the Docker dangling=false filter and until', async () => {
    let r = await svc.request('POST', `/v1.40/images/prune?filters=${q({ dangling: ['false'], until: ['2023-01-01T00:00:00Z'] })}`);
    expect(r.json().ImagesDeleted).to.deep.equal([]);
    r = await svc.request('POST', `/v1.40/images/prune?filters=${q({ dangling: ['false'], until: ['2024-01-01T00:00:30Z'] })}`);
    expect(r.json().ImagesDeleted).to.deep.equal([{ Untagged: BUSYBOX_TAG }, { Deleted: `sha256:${(await cachedBusyboxImage()).id}` }]);
  });

  it('emits image events for load, tag, untag and remove', async () => {
    const since = Math.floor(Date.now() / 1000) - 60;
    await svc.request('POST', '/libpod/images/busybox/tag?repo=localhost/evt');
    await svc.request('DELETE', '/libpod/images/localhost/evt:latest');
    await svc.request('DELETE', '/libpod/images/busybox:variant');
    const r = await svc.request('GET', `/libpod/events?stream=false&since=${since}&filters=${q({ type: ['image'] })}`);
    const events = r.text.trim().split('\n').map((l) => JSON.parse(l));
    const actions = events.map((e: { Action: string; Actor: { Attributes: { name?: string } } }) => `${e.Action}:${e.Actor.Attributes.name ?? ''}`);
    expect(actions).to.include.members(['load:localhost/busybox:latest', 'tag:localhost/evt:latest', 'untag:localhost/evt:latest', 'remove:localhost/busybox:variant']);
  });
});
