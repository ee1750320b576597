// Commit over the API: the new image is the container's image plus one layer holding only the
// container's changes (whiteouts for deletions, an opaque marker for a replaced directory),
// with history, author and comment as Docker records them; bad changes create nothing; the
// pause lasts only as long as the commit.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readTar } from '../../engine/storage/tar-reader.js';
import { canRunContainers, demux, IMAGE, inspect, removeAll, runContainer, shutdown, startWithImage, textOf, waitExit } from '../helpers/containers.js';
import { assertMatchesSchema } from '../helpers/schema.js';
import type { TestService } from '../helpers/service.js';
import { waitFor } from '../helpers/service.js';

const q = encodeURIComponent;

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

/** The image's layers as `docker save` writes them: diff IDs in order, the entries of each layer. */
async function savedLayers(svc: TestService, name: string): Promise<Array<Map<string, string>>> {
  const r = await svc.request('GET', `/v1.40/images/${q(name)}/get`);
  expect(r.status, r.text).to.equal(200);
  const files = new Map<string, Buffer>();
  for await (const e of readTar(once(r.body))) {
    const chunks: Buffer[] = [];
    for await (const c of e.body()) chunks.push(Buffer.from(c));
    files.set(e.header.name, Buffer.concat(chunks));
  }
  const manifest = JSON.parse(files.get('manifest.json')!.toString()) as Array<{ Layers: string[] }>;
  const out: Array<Map<string, string>> = [];
  for (const l of manifest[0]!.Layers) {
    const entries = new Map<string, string>();
    for await (const e of readTar(once(files.get(l)!))) {
      const chunks: Buffer[] = [];
      for await (const c of e.body()) chunks.push(Buffer.from(c));
      entries.set(e.header.name, e.header.type === 'file' ? Buffer.concat(chunks).toString() : e.header.type);
    }
    out.push(entries);
  }
  return out;
}

async function runToEnd(svc: TestService, image: string, cmd: string): Promise<string> {
  const id = await runContainer(svc, { Image: image, Cmd: ['sh', '-c', cmd], HostConfig: { NetworkMode: 'none' } });
  await waitExit(svc, id);
  const logs = demux((await svc.request('GET', `/v1.40/containers/${id}/logs?stdout=1&stderr=1`)).body);
  await svc.request('DELETE', `/v1.40/containers/${id}`);
  return textOf(logs, 1) + textOf(logs, 2);
}

async function changesOf(svc: TestService, id: string): Promise<Array<{ Path: string; Kind: number }>> {
  const r = await svc.request('GET', `/libpod/containers/${id}/changes`);
  expect(r.status, r.text).to.equal(200);
  return r.json();
}

(canRunContainers() ? describe : describe.skip)('commit: one new layer on the image (API, real containers)', function () {
  this.timeout(120_000);
  let svc: TestService;
  let base: any;
  let baseHistory: any[];

  before(async () => {
    svc = await startWithImage();
    base = (await svc.request('GET', `/v1.40/images/${q(IMAGE)}/json`)).json();
    baseHistory = (await svc.request('GET', `/v1.40/images/${q(IMAGE)}/history`)).json();
  });
  after(async () => {
    await removeAll(svc);
    await shutdown(svc);
  });

  it('adds one layer with only the changes (whiteouts, opaque directory), history, author and comment', async () => {
    const script = 'echo committed > /marker && rm /etc/motd && rm -rf /opt/old && mkdir /opt/old && echo n > /opt/old/new.txt && sleep 300';
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = await runContainer(svc, { Cmd: ['sh', '-c', script], HostConfig: { NetworkMode: 'none' } });
    await waitFor(async () => (await changesOf(svc, id)).some((c) => c.Path === '/opt/old/new.txt'), 20_000, 'the container changes');
    const r = await svc.request('POST', `/v1.40/commit?container=${id}&repo=localhost/layered&tag=v1&author=${q('Me <me@example.org>')}&comment=${q('a message')}&changes=${q('ENV STAGE=one')}`);
    expect(r.status, r.text).to.equal(201);
    assertMatchesSchema('docker', 'ImageCommit', 201, r.json());
    const imageId = r.json().Id as string;
    // Paused for the commit only.
    const state = (await inspect(svc, id)).State;
    expect([state.Status, state.Paused]).to.deep.equal(['running', false]);

    const img = (await svc.request('GET', '/v1.40/images/localhost/layered:v1/json')).json();
    expect(img.Id).to.equal(imageId);
    expect(img.Parent).to.equal(base.Id);
    expect(img.Author).to.equal('Me <me@example.org>');
    expect(img.Comment).to.equal('a message');
    expect(img.Config.Env).to.include('STAGE=one');
    expect(img.Config.Cmd).to.deep.equal(['sh', '-c', script]);
    expect(img.RootFS.Layers).to.have.length(base.RootFS.Layers.length + 1);
    expect(img.RootFS.Layers.slice(0, -1)).to.deep.equal(base.RootFS.Layers);

    const history = (await svc.request('GET', '/v1.40/images/localhost/layered:v1/history')).json();
    assertMatchesSchema('docker', 'ImageHistory', 200, history);
    expect(history).to.have.length(baseHistory.length + 1);
    expect(history[0]).to.include({ Id: imageId, CreatedBy: `sh -c ${script}`, Comment: 'a message' });
    expect(history[0].Size).to.be.greaterThan(0);
    expect(history.slice(1).map((h: any) => h.CreatedBy)).to.deep.equal(baseHistory.map((h) => h.CreatedBy));

    // The new layer holds the changes and nothing else, in the layer format.
    const layers = await savedLayers(svc, 'localhost/layered:v1');
    expect(layers).to.have.length(base.RootFS.Layers.length + 1);
    const top = layers.at(-1)!;
    expect([...top.keys()].sort()).to.deep.equal(['etc/', 'etc/.wh.motd', 'marker', 'opt/', 'opt/old/', 'opt/old/.wh..wh..opq', 'opt/old/new.txt']);
    expect(top.get('marker')).to.equal('committed\n');
    // ... which are what the changes endpoint lists.
    const fromLayer = [...top.keys()].filter((n) => !n.endsWith('.wh..wh..opq')).map((n) => `/${n.replace(/\/$/, '').replace(/(^|\/)\.wh\./, '$1')}`);
    expect(fromLayer.sort()).to.deep.equal((await changesOf(svc, id)).map((c) => c.Path).sort());

    // A container of the new image sees the parent's files less the deleted ones.
    expect(await runToEnd(svc, 'localhost/layered:v1', 'cat /marker; ls /opt/old; test -e /etc/motd && echo motd-still-there; ls /etc/passwd')).to.equal('committed\nnew.txt\n/etc/passwd\n');

    const ev = await svc.request('GET', `/v1.40/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${q(JSON.stringify({ event: ['commit'] }))}`);
    const commits = ev.text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(commits).to.have.length(1);
    expect(commits[0]).to.deep.include({ Type: 'container', Action: 'commit' });
    expect(commits[0].Actor).to.deep.include({ ID: id });
    expect(commits[0].Actor.Attributes).to.include({ imageID: imageId, comment: 'a message' });
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('stacks a second commit on the first, sharing its layers', async () => {
    const first = (await svc.request('GET', '/v1.40/images/localhost/layered:v1/json')).json();
    const id = await runContainer(svc, { Image: 'localhost/layered:v1', Cmd: ['sh', '-c', 'echo two > /second && rm /marker'], HostConfig: { NetworkMode: 'none' } });
    await waitExit(svc, id);
    const r = await svc.request('POST', `/libpod/commit?container=${id}&repo=localhost/layered&tag=v2&author=podder&comment=second&format=docker`);
    expect(r.status, r.text).to.equal(201);
    const img = (await svc.request('GET', '/libpod/images/localhost/layered:v2/json')).json();
    expect(img.Author).to.equal('podder');
    expect(img.RootFS.Layers).to.have.length(first.RootFS.Layers.length + 1);
    expect(img.RootFS.Layers.slice(0, -1)).to.deep.equal(first.RootFS.Layers);
    const history = (await svc.request('GET', '/v1.40/images/localhost/layered:v2/history')).json();
    expect(history).to.have.length(baseHistory.length + 2);
    expect(history.slice(0, 2).map((h: any) => h.Comment)).to.deep.equal(['second', 'a message']);
    const top = (await savedLayers(svc, 'localhost/layered:v2')).at(-1)!;
    expect([...top.keys()].sort()).to.deep.equal(['.wh.marker', 'second']);
    expect(await runToEnd(svc, 'localhost/layered:v2', 'cat /second; ls /opt/old; test -e /marker || echo marker-gone')).to.equal('two\nnew.txt\nmarker-gone\n');
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('libpod commits in the OCI format by default, where a message has no place (as Podman)', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'echo oci > /oci'], HostConfig: { NetworkMode: 'none' } });
    await waitExit(svc, id);
    const msg = await svc.request('POST', `/libpod/commit?container=${id}&repo=localhost/oci&comment=nope`);
    expect(msg.status).to.equal(400);
    expect(msg.json().message).to.equal('messages are only compatible with the docker image format (-f docker)');
    expect((await svc.request('POST', `/libpod/commit?container=${id}&repo=localhost/oci&format=v1`)).status).to.equal(400);
    const r = await svc.request('POST', `/libpod/commit?container=${id}&repo=localhost/oci&author=someone`);
    expect(r.status, r.text).to.equal(201);
    const img = (await svc.request('GET', '/libpod/images/localhost/oci:latest/json')).json();
    expect(img.ManifestType).to.equal('application/vnd.oci.image.manifest.v1+json');
    expect(img.Author).to.equal('someone');
    expect(img.RootFS.Layers).to.have.length(base.RootFS.Layers.length + 1);
    const docker = (await svc.request('GET', '/libpod/images/localhost/layered:v1/json')).json();
    expect(docker.ManifestType).to.equal('application/vnd.docker.distribution.manifest.v2+json');
    expect(await runToEnd(svc, 'localhost/oci:latest', 'cat /oci')).to.equal('oci\n');
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('a container without changes: no new layer, one more history entry (empty_layer)', async () => {
    const id = await runContainer(svc, { Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
    await waitExit(svc, id);
    const r = await svc.request('POST', `/v1.40/commit?container=${id}&repo=localhost/unchanged`);
    expect(r.status, r.text).to.equal(201);
    const img = (await svc.request('GET', '/v1.40/images/localhost/unchanged:latest/json')).json();
    expect(img.RootFS.Layers).to.deep.equal(base.RootFS.Layers);
    const history = (await svc.request('GET', '/v1.40/images/localhost/unchanged:latest/history')).json();
    expect(history).to.have.length(baseHistory.length + 1);
    expect(history[0]).to.include({ CreatedBy: 'true', Size: 0 });
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('refuses bad changes with 400 and creates no image, no layer, no pause', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'echo x > /x && sleep 300'], HostConfig: { NetworkMode: 'none' } });
    const images = (await svc.request('GET', '/v1.40/images/json?all=1')).json().length;
    const layers = readdirSync(join(svc.root, 'layers')).length;
    for (const change of ['FROM busybox', 'RUN echo hi', 'STOPSIGNAL SIGNOPE', 'EXPOSE eighty', 'ONBUILD ONBUILD RUN x', 'ENV ONLYKEY', 'HEALTHCHECK --interval=soon CMD true', 'NONSENSE']) {
      const r = await svc.request('POST', `/v1.40/commit?container=${id}&repo=localhost/bad&changes=${q(change)}`);
      expect(r.status, `${change}: ${r.text}`).to.equal(400);
      expect(r.json().message).to.be.a('string').and.not.equal('');
      const l = await svc.request('POST', `/libpod/commit?container=${id}&repo=localhost/bad&changes=${q(change)}`);
      expect(l.status, `${change}: ${l.text}`).to.equal(400);
      expect(l.json()).to.include({ response: 400 });
    }
    expect((await svc.request('GET', '/v1.40/images/json?all=1')).json()).to.have.length(images);
    expect(readdirSync(join(svc.root, 'layers'))).to.have.length(layers);
    expect((await inspect(svc, id)).State).to.include({ Status: 'running', Paused: false });
    expect((await svc.request('POST', '/v1.40/commit?container=no-such-container')).status).to.equal(404);
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('accepts the changes Docker accepts and applies them to the config', async () => {
    const id = await runContainer(svc, { Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
    await waitExit(svc, id);
    const changes = [
      'CMD ["/bin/sh", "-c", "echo hi"]',
      'ENTRYPOINT /bin/env',
      'ENV A=1 B="two words"',
      'LABEL com.example.x=y',
      'EXPOSE 8080 53/udp',
      'USER nobody',
      'WORKDIR /srv',
      'VOLUME ["/data"]',
      'STOPSIGNAL SIGINT',
      'ONBUILD run echo built',
      'HEALTHCHECK --interval=30s --retries=2 CMD ["true"]',
    ];
    const r = await svc.request('POST', `/v1.40/commit?container=${id}&repo=localhost/changed&${changes.map((c) => `changes=${q(c)}`).join('&')}`);
    expect(r.status, r.text).to.equal(201);
    const c = (await svc.request('GET', '/v1.40/images/localhost/changed:latest/json')).json().Config;
    expect(c.Cmd).to.deep.equal(['/bin/sh', '-c', 'echo hi']);
    expect(c.Entrypoint).to.deep.equal(['/bin/sh', '-c', '/bin/env']);
    expect(c.Env).to.include.members(['A=1', 'B=two words']);
    expect(c.Labels).to.include({ 'com.example.x': 'y' });
    expect(c.ExposedPorts).to.have.keys(['8080/tcp', '53/udp']);
    expect(c.User).to.equal('nobody');
    expect(c.WorkingDir).to.equal('/srv');
    expect(c.Volumes).to.have.keys(['/data']);
    expect(c.StopSignal).to.equal('SIGINT');
    expect(c.OnBuild).to.deep.equal(['RUN echo built']);
    expect(c.Healthcheck).to.deep.include({ Test: ['CMD', 'true'], Interval: 30e9, Retries: 2 });
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('a commit failing while the container is paused resumes it and leaves no layer or blob behind', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'mkdir /moved && sleep 300'], HostConfig: { NetworkMode: 'none' } });
    await waitFor(async () => (await changesOf(svc, id)).some((c) => c.Path === '/moved'), 20_000, 'the container changes');
    // A directory overlay would have redirected (redirect_dir=on): no layer can hold it.
    execFileSync('setfattr', ['-n', 'trusted.overlay.redirect', '-v', '/elsewhere', join(svc.root, 'containers', id, 'upper', 'moved')]);
    const count = (dir: string) => readdirSync(join(svc.root, dir)).length;
    const before = { layers: count('layers'), blobs: count('blobs/sha256'), images: (await svc.request('GET', '/v1.40/images/json?all=1')).json().length };
    const r = await svc.request('POST', `/v1.40/commit?container=${id}&repo=localhost/failing`);
    expect(r.status, r.text).to.equal(500);
    expect(r.json().message).to.match(/overlay redirect/);
    expect((await inspect(svc, id)).State).to.include({ Status: 'running', Paused: false });
    // Not frozen any more, as runc sees it.
    expect(JSON.parse(execFileSync('runc', ['--root', join(svc.runroot, 'runc'), 'state', id], { encoding: 'utf8' })).status).to.equal('running');
    const ex = await svc.request('POST', `/v1.40/containers/${id}/exec`, { body: { Cmd: ['true'] } });
    expect(ex.status).to.equal(201);
    expect((await svc.request('POST', `/v1.40/exec/${ex.json().Id}/start`, { body: { Detach: true } })).status).to.equal(200);
    expect({ layers: count('layers'), blobs: count('blobs/sha256'), images: (await svc.request('GET', '/v1.40/images/json?all=1')).json().length }).to.deep.equal(before);
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('leaves a paused container paused, and pause=0 commits without pausing', async () => {
    const id = await runContainer(svc, { Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'none' } });
    expect((await svc.request('POST', `/v1.40/containers/${id}/pause`)).status).to.equal(204);
    expect((await svc.request('POST', `/v1.40/commit?container=${id}&repo=localhost/frompaused`)).status).to.equal(201);
    expect((await inspect(svc, id)).State).to.include({ Status: 'paused', Paused: true });
    expect((await svc.request('POST', `/v1.40/containers/${id}/unpause`)).status).to.equal(204);
    expect((await svc.request('POST', `/v1.40/commit?container=${id}&repo=localhost/nopause&pause=0`)).status).to.equal(201);
    expect((await inspect(svc, id)).State).to.include({ Status: 'running', Paused: false });
    // Not frozen: it still answers an exec.
    const ex = await svc.request('POST', `/v1.40/containers/${id}/exec`, { body: { Cmd: ['true'] } });
    expect(ex.status).to.equal(201);
    expect((await svc.request('POST', `/v1.40/containers/${id}/stop?t=0`)).status).to.equal(204);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });
});
