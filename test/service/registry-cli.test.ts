// Real clients pulling and pushing through the service against a local docker-registry: the
// docker CLI (loopback registries are insecure-allowed, as Docker's daemon does for 127.0.0.0/8)
// and podman --remote 4.3 (--tls-verify=false).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { TestRegistry } from '../helpers/registry.js';
import { DOCKER, docker, haveDocker, havePodman, ok, podman } from '../helpers/clients.js';
import { TestService } from '../helpers/service.js';
import { loadBusyboxImage } from '../helpers/test-image.js';


describe('registry with the docker CLI', function () {
  this.timeout(180_000);
  let reg: TestRegistry;
  let secured: TestRegistry;
  let svc: TestService;
  let id: string;
  before(async function () {
    if (!haveDocker) this.skip();
    [reg, secured, svc] = await Promise.all([TestRegistry.start(), TestRegistry.start({ users: { bob: 'builder' } }), TestService.start()]);
    id = (await loadBusyboxImage(svc, { extraLayers: true })).id;
  });
  after(async () => {
    await svc?.stop();
    await svc?.cleanup();
    await reg?.stop();
    await secured?.stop();
  });

  it('docker push to a loopback registry', () => {
    ok(docker(svc, 'tag', 'localhost/busybox:latest', `${reg.host}/cli/busybox:1`));
    const out = ok(docker(svc, 'push', `${reg.host}/cli/busybox:1`));
    expect(out).to.contain(`The push refers to repository [${reg.host}/cli/busybox]`);
    expect(out).to.match(/1: digest: sha256:[0-9a-f]{64} size: \d+/);
  });

  it('docker pull after docker rmi gets the same image back; docker pull by digest', () => {
    ok(docker(svc, 'rmi', '-f', id));
    const out = ok(docker(svc, 'pull', `${reg.host}/cli/busybox:1`));
    expect(out).to.contain('Pull complete');
    expect(out).to.match(/Digest: sha256:[0-9a-f]{64}/);
    expect(out).to.contain(`Status: Downloaded newer image for ${reg.host}/cli/busybox:1`);
    const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(out)![1]!;
    expect(ok(docker(svc, 'image', 'inspect', '--format', '{{.Id}}', `${reg.host}/cli/busybox:1`)).trim()).to.equal(`sha256:${id}`);
    const again = ok(docker(svc, 'pull', `${reg.host}/cli/busybox@${digest}`));
    expect(again).to.contain(`Status: Image is up to date for ${reg.host}/cli/busybox@${digest}`);
    const digests = ok(docker(svc, 'images', '--digests', '--format', '{{.Repository}} {{.Digest}}'));
    expect(digests).to.contain(`${reg.host}/cli/busybox ${digest}`);
  });

  it('docker pull of a missing tag fails with the registry\'s reason', () => {
    const r = docker(svc, 'pull', `${reg.host}/cli/busybox:missing`);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain('manifest unknown');
  });

  it('docker search finds repositories of a registry named in the term', () => {
    const out = ok(docker(svc, 'search', '--format', '{{.Name}}', `${reg.host}/cli`));
    expect(out.trim().split('\n')).to.include(`${reg.host}/cli/busybox`);
  });

  it('docker login checks credentials; push and pull with them', () => {
    const bad = spawnSync(DOCKER, ['login', '-u', 'bob', '--password-stdin', secured.host], {
      input: 'wrong\n',
      encoding: 'utf8',
      env: { ...process.env, DOCKER_HOST: `unix://${svc.socketPath}`, DOCKER_CONFIG: join(svc.dir, 'docker-config') },
    });
    expect(bad.status).to.equal(1);
    const good = spawnSync(DOCKER, ['login', '-u', 'bob', '--password-stdin', secured.host], {
      input: 'builder\n',
      encoding: 'utf8',
      env: { ...process.env, DOCKER_HOST: `unix://${svc.socketPath}`, DOCKER_CONFIG: join(svc.dir, 'docker-config') },
    });
    expect(good.status, good.stderr).to.equal(0);
    expect(good.stdout).to.contain('Login Succeeded');
    ok(docker(svc, 'tag', `${reg.host}/cli/busybox:1`, `${secured.host}/team/busybox:1`));
    ok(docker(svc, 'push', `${secured.host}/team/busybox:1`));
    ok(docker(svc, 'rmi', `${secured.host}/team/busybox:1`));
    ok(docker(svc, 'pull', `${secured.host}/team/busybox:1`));
  });
});

describe('registry with podman --remote', function () {
  this.timeout(180_000);
  let reg: TestRegistry;
  let svc: TestService;
  let id: string;
  before(async function () {
    if (!havePodman) this.skip();
    [reg, svc] = await Promise.all([TestRegistry.start(), TestService.start()]);
    id = (await loadBusyboxImage(svc)).id;
  });
  after(async () => {
    await svc?.stop();
    await svc?.cleanup();
    await reg?.stop();
  });

  it('podman push --tls-verify=false', () => {
    const r = podman(svc, 'push', '--tls-verify=false', 'localhost/busybox:latest', `${reg.host}/pm/busybox:2`);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.contain('Writing manifest to image destination');
  });

  it('podman rmi, podman pull --tls-verify=false, podman images', () => {
    ok(podman(svc, 'rmi', '-f', id));
    const r = podman(svc, 'pull', '--tls-verify=false', `${reg.host}/pm/busybox:2`);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal(id);
    expect(r.stderr).to.contain(`Trying to pull ${reg.host}/pm/busybox:2...`);
    const images = ok(podman(svc, 'images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'));
    expect(images).to.contain(`${reg.host}/pm/busybox:2 ${id.slice(0, 12)}`);
  });

  it('podman pull -q and a failing pull', () => {
    expect(ok(podman(svc, 'pull', '-q', '--tls-verify=false', `${reg.host}/pm/busybox:2`)).trim()).to.equal(id);
    const r = podman(svc, 'pull', '--tls-verify=false', `${reg.host}/pm/busybox:nope`);
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.contain('manifest unknown');
  });

  it('podman search --tls-verify=false lists the catalog', () => {
    const out = ok(podman(svc, 'search', '--tls-verify=false', '--format', '{{.Name}}', `${reg.host}/pm`));
    expect(out.trim().split('\n')).to.include(`${reg.host}/pm/busybox`);
  });
});
