// Real clients against the service: the docker CLI (28) and podman --remote (4.3.1) on images.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOCKER, docker, haveDocker, havePodman, ok, podman } from '../helpers/clients.js';
import { TestService } from '../helpers/service.js';
import { BUSYBOX_TAG, cachedBusyboxImage } from '../helpers/test-image.js';


/** `docker save` from one service piped into `docker load` of another. */
function pipeSaveLoad(from: TestService, to: TestService, names: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const env = (s: TestService) => ({ ...process.env, DOCKER_HOST: `unix://${s.socketPath}`, DOCKER_CONFIG: join(s.dir, 'docker-config') });
    const save = spawn(DOCKER, ['save', ...names], { env: env(from), stdio: ['ignore', 'pipe', 'pipe'] });
    const load = spawn(DOCKER, ['load'], { env: env(to), stdio: ['pipe', 'pipe', 'pipe'] });
    save.stdout.pipe(load.stdin);
    let out = '';
    let err = '';
    save.stderr.on('data', (c: Buffer) => (err += c));
    load.stdout.on('data', (c: Buffer) => (out += c));
    load.stderr.on('data', (c: Buffer) => (err += c));
    load.on('error', reject);
    load.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('images with the docker CLI', function () {
  this.timeout(120_000);
  let svc: TestService;
  let other: TestService;
  before(async function () {
    if (!haveDocker) this.skip();
    [svc, other] = await Promise.all([TestService.start(), TestService.start()]);
  });
  after(async () => Promise.all([svc?.cleanup(), other?.cleanup()]));

  it('docker load -i, docker images, docker image inspect', async () => {
    const img = await cachedBusyboxImage();
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant' });
    expect(ok(docker(svc, 'load', '-i', img.tarPath))).to.equal(`Loaded image: ${BUSYBOX_TAG}\n`);
    expect(ok(docker(svc, 'load', '-q', '-i', variant.tarPath))).to.equal('Loaded image: localhost/busybox:variant\n');
    const lines = ok(docker(svc, 'images', '--format', '{{.Repository}} {{.Tag}} {{.ID}} {{.Size}}')).trim().split('\n');
    expect(lines).to.have.members([`localhost/busybox variant ${variant.id.slice(0, 12)} 1.98MB`, `localhost/busybox latest ${img.id.slice(0, 12)} 1.98MB`]);
    const inspect = JSON.parse(ok(docker(svc, 'image', 'inspect', 'busybox')));
    expect(inspect[0].Id).to.equal(`sha256:${img.id}`);
    expect(inspect[0].RootFS.Layers).to.deep.equal(img.diffIDs);
    expect(ok(docker(svc, 'image', 'inspect', '--format', '{{json .Config.Cmd}}', 'localhost/busybox:variant')).trim()).to.equal('["sh"]');
    expect(docker(svc, 'image', 'inspect', 'nosuch').status).to.equal(1);
  });

  it('docker tag and docker history', () => {
    ok(docker(svc, 'tag', 'busybox', 'mytag:1'));
    ok(docker(svc, 'tag', 'busybox:variant', 'registry.example.com:5000/team/app:v2'));
    const repos = ok(docker(svc, 'images', '--format', '{{.Repository}}:{{.Tag}}')).trim().split('\n');
    expect(repos).to.include.members(['mytag:1', 'registry.example.com:5000/team/app:v2']);
    const history = ok(docker(svc, 'history', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}', 'busybox:variant')).trim().split('\n');
    expect(history).to.have.length(3);
    expect(history[0]).to.match(/^[0-9a-f]{12}\|\/bin\/sh -c rm \/etc\/motd.*\|34B\|layer 2$/);
    expect(history[2]).to.match(/^<missing>\|.*ADD file:busybox-static.*\|1\.98MB\|$/);
  });

  it('docker save | docker load into a second service keeps the image IDs', async () => {
    const img = await cachedBusyboxImage();
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant' });
    const r = await pipeSaveLoad(svc, other, ['busybox', 'localhost/busybox:variant', 'mytag:1']);
    expect(r.code, r.err).to.equal(0);
    expect(r.out.trim().split('\n')).to.have.members(['Loaded image: localhost/busybox:latest', 'Loaded image: localhost/busybox:variant', 'Loaded image: mytag:1']);
    const ids = ok(docker(other, 'images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}')).trim().split('\n');
    expect(ids).to.have.members([`localhost/busybox:latest sha256:${img.id}`, `localhost/busybox:variant sha256:${variant.id}`, `mytag:1 sha256:${img.id}`]);
    // docker save -o writes the same archive to a file, which loads too.
    const dir = mkdtempSync(join(tmpdir(), 'tspod-cli-'));
    try {
      ok(docker(svc, 'save', '-o', join(dir, 'x.tar'), 'registry.example.com:5000/team/app:v2'));
      expect(statSync(join(dir, 'x.tar')).size).to.be.greaterThan(1_900_000);
      expect(ok(docker(other, 'load', '-i', join(dir, 'x.tar')))).to.equal('Loaded image: registry.example.com:5000/team/app:v2\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('docker rmi and docker image prune', async () => {
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant' });
    // Podman's compat API reports full names.
    expect(ok(docker(svc, 'rmi', 'mytag:1'))).to.equal('Untagged: docker.io/library/mytag:1\n');
    const rm = docker(svc, 'rmi', 'nosuch');
    expect(rm.status).to.equal(1);
    expect(rm.stderr).to.match(/nosuch: image not known/);
    ok(docker(svc, 'rmi', 'registry.example.com:5000/team/app:v2'));
    ok(docker(svc, 'rmi', 'localhost/busybox:variant'));
    ok(docker(svc, 'load', '-i', variant.tarPath));
    // Untagged, the variant is dangling: `docker image prune` removes it, the base stays.
    const untag = await svc.request('POST', `/libpod/images/${variant.id}/untag`);
    expect(untag.status).to.equal(201);
    expect(ok(docker(svc, 'images', '-q', '--filter', 'dangling=true')).trim()).to.equal(variant.id.slice(0, 12));
    const pruned = ok(docker(svc, 'image', 'prune', '-f'));
    expect(pruned).to.include(`deleted: sha256:${variant.id}`);
    expect(pruned).to.match(/Total reclaimed space: \d+B/);
    expect(ok(docker(svc, 'images', '-q')).trim()).to.equal((await cachedBusyboxImage()).id.slice(0, 12));
    const all = ok(docker(svc, 'image', 'prune', '-a', '-f'));
    expect(all).to.include('untagged: localhost/busybox:latest');
    expect(all).to.match(/Total reclaimed space: 1\.98\d*MB/);
    expect(ok(docker(svc, 'images', '-q'))).to.equal('');
  });

  it('docker import with changes', async () => {
    const img = await cachedBusyboxImage();
    const dir = mkdtempSync(join(tmpdir(), 'tspod-cli-'));
    try {
      const { busyboxBaseLayer } = await import('../helpers/test-image.js');
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(dir, 'rootfs.tar'), busyboxBaseLayer());
      const id = ok(docker(svc, 'import', '-c', 'CMD ["/bin/echo","imported"]', '-c', 'ENV X=1', '-m', 'via docker import', join(dir, 'rootfs.tar'), 'imported:v1')).trim();
      expect(id).to.match(/^sha256:[0-9a-f]{64}$/);
      const inspect = JSON.parse(ok(docker(svc, 'image', 'inspect', 'imported:v1')))[0];
      expect(inspect.Config.Cmd).to.deep.equal(['/bin/echo', 'imported']);
      expect(inspect.Config.Env).to.deep.equal(['X=1']);
      expect(inspect.Comment).to.equal('via docker import');
      expect(inspect.RootFS.Layers).to.deep.equal(img.diffIDs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('images with podman --remote', function () {
  this.timeout(120_000);
  let svc: TestService;
  let dir: string;
  before(async function () {
    if (!havePodman) this.skip();
    svc = await TestService.start();
    dir = mkdtempSync(join(tmpdir(), 'tspod-podman-'));
  });
  after(async () => {
    await svc?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('podman load, images, image inspect, tag, tree', async () => {
    const img = await cachedBusyboxImage();
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant', format: 'oci-archive' });
    expect(ok(podman(svc, 'load', '-i', img.tarPath))).to.equal(`Loaded image: ${BUSYBOX_TAG}\n`);
    expect(ok(podman(svc, 'load', '-i', variant.tarPath))).to.equal('Loaded image: localhost/busybox:variant\n');
    const lines = ok(podman(svc, 'images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}')).trim().split('\n');
    expect(lines).to.have.members([`localhost/busybox:latest ${img.id.slice(0, 12)}`, `localhost/busybox:variant ${variant.id.slice(0, 12)}`]);
    const inspect = JSON.parse(ok(podman(svc, 'image', 'inspect', 'busybox')));
    expect(inspect[0].Id).to.equal(img.id);
    ok(podman(svc, 'tag', 'busybox', 'ptag:2'));
    expect(ok(podman(svc, 'images', '--format', '{{.Repository}}:{{.Tag}}'))).to.include('localhost/ptag:2');
    expect(ok(podman(svc, 'image', 'tree', 'busybox:variant'))).to.include('Top Layer of: [localhost/busybox:variant]');
    expect(ok(podman(svc, 'image', 'exists', 'busybox:variant'))).to.equal('');
    expect(podman(svc, 'image', 'exists', 'nosuch').status).to.equal(1);
  });

  it('podman save in every format and podman history', () => {
    for (const format of ['oci-archive', 'docker-archive']) {
      const file = join(dir, `${format}.tar`);
      ok(podman(svc, 'save', '--format', format, '-o', file, 'busybox:variant'));
      expect(statSync(file).size, format).to.be.greaterThan(1_900_000);
    }
    for (const format of ['oci-dir', 'docker-dir']) {
      ok(podman(svc, 'save', '--format', format, '-o', join(dir, format), 'busybox'));
      expect(existsSync(join(dir, format, 'manifest.json')) || existsSync(join(dir, format, 'index.json')), format).to.equal(true);
    }
    const history = ok(podman(svc, 'history', '--format', '{{.ID}} {{.Size}}', 'busybox:variant')).trim().split('\n');
    expect(history).to.have.length(3);
  });

  it('podman rmi untags, removes, and reports unknown images', async () => {
    expect(ok(podman(svc, 'rmi', 'ptag:2'))).to.equal('Untagged: localhost/ptag:2\n');
    const variant = await cachedBusyboxImage({ extraLayers: true, tag: 'localhost/busybox:variant' });
    expect(ok(podman(svc, 'rmi', 'busybox:variant'))).to.equal(`Untagged: localhost/busybox:variant\nDeleted: ${variant.id}\n`);
    const r = podman(svc, 'rmi', 'nosuch');
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/nosuch: image not known/);
    // A podman-saved archive loads back through podman.
    ok(podman(svc, 'rmi', '-a'));
    expect(ok(podman(svc, 'images', '-q'))).to.equal('');
    expect(ok(podman(svc, 'load', '-i', join(dir, 'oci-archive.tar')))).to.equal('Loaded image: localhost/busybox:variant\n');
    expect(ok(podman(svc, 'load', '-i', join(dir, 'docker-archive.tar')))).to.equal('Loaded image: localhost/busybox:variant\n');
  });
});
