// GET /libpod/images/{name}/resolve: the candidates a name resolves to per registries.conf, as
// Podman answers them (200 {Names}; short-name-mode is ignored: the handler resolves "disabled").
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertMatchesSchema } from '../helpers/schema.js';
import { TestService } from '../helpers/service.js';

const L = '/v5.1.0/libpod';

describe('images API: resolve short names', function () {
  this.timeout(60_000);
  let svc: TestService;
  let conf: string;
  before(async () => {
    svc = new TestService();
    conf = join(svc.dir, 'registries.conf');
    writeFileSync(
      conf,
      [
        'unqualified-search-registries = ["registry.example", "docker.io"]',
        'short-name-mode = "enforcing"',
        '[aliases]',
        '"fedora" = "registry.fedoraproject.org/fedora"',
      ].join('\n') + '\n',
    );
    await svc.start({ env: { CONTAINERS_REGISTRIES_CONF: conf } });
  });
  after(async () => {
    await svc?.stop();
    await svc?.cleanup();
  });

  const resolve = async (name: string) => {
    const r = await svc.request('GET', `${L}/images/${name}/resolve`);
    if (r.status === 200) assertMatchesSchema('libpod', 'ImageResolveLibpod', 200, r.json());
    return r;
  };

  it('a short name: one candidate per unqualified-search registry, in order, tag kept, none added', async () => {
    const r = await resolve('busybox');
    expect(r.status, r.text).to.equal(200);
    expect(r.json()).to.deep.equal({ Names: ['registry.example/busybox', 'docker.io/library/busybox'] });
    expect((await resolve('busybox:1.36')).json()).to.deep.equal({ Names: ['registry.example/busybox:1.36', 'docker.io/library/busybox:1.36'] });
    expect((await resolve('team/app')).json()).to.deep.equal({ Names: ['registry.example/team/app', 'docker.io/team/app'] });
  });

  it('an alias wins and keeps the tag; a qualified name is itself, normalised', async () => {
    expect((await resolve('fedora:40')).json()).to.deep.equal({ Names: ['registry.fedoraproject.org/fedora:40'] });
    expect((await resolve('quay.io/podman/hello')).json()).to.deep.equal({ Names: ['quay.io/podman/hello'] });
    expect((await resolve('docker.io/alpine:3')).json()).to.deep.equal({ Names: ['docker.io/library/alpine:3'] });
    expect((await resolve('localhost/mine')).json()).to.deep.equal({ Names: ['localhost/mine'] });
  });

  it('an invalid name is a 400 naming it', async () => {
    const r = await resolve('Bad_Name');
    expect(r.status, r.text).to.equal(400);
    expect(r.json().message).to.match(/^resolving "Bad_Name": cannot parse input: "Bad_Name": invalid reference format/);
  });
});

describe('images API: resolve without search registries', function () {
  this.timeout(60_000);
  let svc: TestService;
  before(async () => {
    svc = new TestService();
    const conf = join(svc.dir, 'registries.conf');
    writeFileSync(conf, 'unqualified-search-registries = []\n');
    await svc.start({ env: { CONTAINERS_REGISTRIES_CONF: conf } });
  });
  after(async () => {
    await svc?.stop();
    await svc?.cleanup();
  });

  it('a short name with no alias and no search registry is a 400; a qualified one still resolves', async () => {
    const r = await svc.request('GET', `${L}/images/busybox/resolve`);
    expect(r.status, r.text).to.equal(400);
    expect(r.json().message).to.match(/short-name "busybox" did not resolve to an alias and no unqualified-search registries are defined/);
    const ok = await svc.request('GET', `${L}/images/quay.io/x/y:1/resolve`);
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.json()).to.deep.equal({ Names: ['quay.io/x/y:1'] });
  });
});
