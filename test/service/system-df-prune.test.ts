// Black-box: disk usage (`system df`, compat and Libpod) and Libpod's system prune, with real
// containers, volumes and networks, through the API and the docker and podman CLIs.
import { expect } from 'chai';
import { docker, haveDocker, havePodman, ok, podman } from '../helpers/clients.js';
import { canRunContainers, IMAGE, runContainer, shutdown, startWithImage, waitExit } from '../helpers/containers.js';
import { assertMatchesSchema } from '../helpers/schema.js';
import type { TestService } from '../helpers/service.js';
import { loadBusyboxImage } from '../helpers/test-image.js';

(canRunContainers() ? describe : describe.skip)('system df and system prune (real containers)', function () {
  this.timeout(120_000);
  let svc: TestService;

  before(async () => {
    svc = await startWithImage();
  });
  after(async () => {
    await shutdown(svc);
  });

  it('reports every image, container and volume with its size (compat and Libpod)', async () => {
    await svc.request('POST', '/v1.40/volumes/create', { body: { Name: 'df-data' } });
    const writer = await runContainer(svc, { Cmd: ['sh', '-c', 'printf 12345 > /data/f; printf abc > /rw'], HostConfig: { Binds: ['df-data:/data'] } });
    expect(await waitExit(svc, writer)).to.equal(0);
    const sleeper = await runContainer(svc, { Cmd: ['sleep', '300'] });

    const compat = await svc.request('GET', '/v1.40/system/df');
    expect(compat.status).to.equal(200);
    const c = compat.json();
    assertMatchesSchema('docker', 'SystemDataUsage', 200, c);
    expect(c.Images).to.have.length(1);
    expect(c.Images[0].RepoTags).to.deep.equal([IMAGE]);
    expect(c.Images[0].Containers).to.equal(2);
    expect(c.LayersSize).to.equal(c.Images[0].Size);
    const w = c.Containers.find((x: { Id: string }) => x.Id === writer);
    expect(w.SizeRw).to.equal(3);
    expect(w.SizeRootFs).to.be.greaterThan(c.Images[0].Size - 1);
    expect(c.Containers.find((x: { Id: string }) => x.Id === sleeper).State).to.equal('running');
    const v = c.Volumes.find((x: { Name: string }) => x.Name === 'df-data');
    expect(v.UsageData).to.deep.equal({ Size: 5, RefCount: 1 });
    expect(c.BuildCache).to.deep.equal([]);

    const libpod = await svc.request('GET', '/v5.1.0/libpod/system/df');
    expect(libpod.status).to.equal(200);
    const l = libpod.json();
    assertMatchesSchema('libpod', 'SystemDataUsageLibpod', 200, l);
    expect(l.Images[0]).to.include({ Repository: 'localhost/busybox', Tag: 'latest', Containers: 2, SharedSize: 0, UniqueSize: l.Images[0].Size });
    expect(l.Images[0].Created).to.equal('2024-01-01T00:00:00Z');
    expect(l.Containers.find((x: { ContainerID: string }) => x.ContainerID === writer)).to.include({ RWSize: 3, LocalVolumes: 1, Status: 'exited' });
    expect(l.Containers.find((x: { ContainerID: string }) => x.ContainerID === sleeper)).to.include({ LocalVolumes: 0, Status: 'running' });
    expect(l.Volumes.find((x: { VolumeName: string }) => x.VolumeName === 'df-data')).to.deep.equal({ VolumeName: 'df-data', Links: 1, Size: 5, ReclaimableSize: 0 });

    if (haveDocker) {
      const out = ok(docker(svc, 'system', 'df'));
      expect(out).to.match(/^Images\s+1\s+1\s/m);
      expect(out).to.match(/^Containers\s+2\s+1\s/m);
      expect(out).to.match(/^Local Volumes\s+1\s+1\s+5B/m);
    }
    if (havePodman) {
      const out = ok(podman(svc, 'system', 'df', '-v'));
      expect(out).to.match(/df-data\s+1\s+5B/);
    }
    await svc.request('DELETE', `/v1.40/containers/${writer}`);
    await svc.request('DELETE', `/v1.40/containers/${sleeper}?force=1`);
    await svc.request('DELETE', '/v1.40/volumes/df-data');
  });

  it('prunes stopped containers, unused images, networks and (when asked) volumes, keeping what is in use', async () => {
    await loadBusyboxImage(svc, { extraLayers: true, tag: 'localhost/busybox:extra' });
    for (const name of ['pr-used', 'pr-unused']) await svc.request('POST', '/v1.40/volumes/create', { body: { Name: name } });
    expect((await svc.request('POST', '/v1.40/networks/create', { body: { Name: 'pr-net' } })).status).to.equal(201);
    const running = await runContainer(svc, { Cmd: ['sleep', '300'], HostConfig: { Binds: ['pr-used:/v'] } });
    const exited = await runContainer(svc, { Cmd: ['true'] });
    expect(await waitExit(svc, exited)).to.equal(0);

    // A filter system prune does not know: 400, nothing removed.
    const bad = await svc.request('POST', `/v5.1.0/libpod/system/prune?filters=${encodeURIComponent(JSON.stringify({ dangling: ['true'] }))}`);
    expect(bad.status).to.equal(400);
    expect(bad.json()).to.include({ response: 400 });
    expect((await svc.request('GET', `/v1.40/containers/${exited}/json`)).status).to.equal(200);

    // Without all or volumes: tagged images and volumes stay.
    const first = await svc.request('POST', '/v5.1.0/libpod/system/prune');
    expect(first.status).to.equal(200);
    const f = first.json();
    assertMatchesSchema('libpod', 'SystemPruneLibpod', 200, f);
    expect(f.ContainerPruneReports.map((r: { Id: string }) => r.Id)).to.deep.equal([exited]);
    expect(f.NetworkPruneReports.map((r: { Name: string }) => r.Name)).to.deep.equal(['pr-net']);
    expect(f.VolumePruneReports).to.deep.equal([]);
    expect((await svc.request('GET', '/v1.40/images/localhost/busybox:extra/json')).status).to.equal(200);

    const all = await svc.request('POST', '/v5.1.0/libpod/system/prune?all=true&volumes=true');
    expect(all.status).to.equal(200);
    const a = all.json();
    assertMatchesSchema('libpod', 'SystemPruneLibpod', 200, a);
    expect(a.ImagePruneReports).to.have.length(1);
    expect(a.VolumePruneReports.map((r: { Id: string }) => r.Id)).to.deep.equal(['pr-unused']);
    expect(a.ReclaimedSpace).to.be.greaterThan(0);
    expect((await svc.request('GET', '/v1.40/images/localhost/busybox:extra/json')).status).to.equal(404);
    expect((await svc.request('GET', `/v1.40/images/${IMAGE}/json`)).status).to.equal(200);
    expect((await svc.request('GET', '/v1.40/volumes/pr-used')).status).to.equal(200);
    expect((await svc.request('GET', `/v1.40/containers/${running}/json`)).json().State.Running).to.equal(true);

    if (havePodman) {
      await svc.request('POST', '/v1.40/volumes/create', { body: { Name: 'pr-cli' } });
      const out = ok(podman(svc, 'system', 'prune', '--force', '--volumes'));
      expect(out).to.include('pr-cli');
      expect((await svc.request('GET', '/v1.40/volumes/pr-cli')).status).to.equal(404);
    }
    await svc.request('DELETE', `/v1.40/containers/${running}?force=1`);
    await svc.request('DELETE', '/v1.40/volumes/pr-used');
  });
});
