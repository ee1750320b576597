// Black-box tests of the volume endpoints (compat and Libpod) against the real service: answers
// checked against the spec schemas, bad input refused with nothing left behind, filters, prune,
// events, export/import (round trip, bind volumes, hostile archives), and the docker and podman
// CLIs. Every test file ends with a leak check: nothing mounted under its temporary directory.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readTar } from '../../engine/storage/tar-reader.js';
import { assertMatchesSchema } from '../helpers/schema.js';
import { TestService, type Reply } from '../helpers/service.js';
import { tar } from '../helpers/tar-builder.js';

const run = promisify(execFile);

/** Mount points at or under `dir` (from /proc/self/mountinfo). */
function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((mp): mp is string => !!mp && (mp === dir || mp.startsWith(dir + '/')));
}

const routes = JSON.parse(fs.readFileSync(new URL('../../../generated/libpod.routes.json', import.meta.url), 'utf8')) as { operations: Record<string, unknown> };
const hasArchiveRoutes = 'VolumeExportLibpod' in routes.operations && 'VolumeImportLibpod' in routes.operations;

async function tarEntries(body: Buffer) {
  const out: Array<{ name: string; type: string; mode: number; uid: number; gid: number; linkname: string; content: string; xattrs: Record<string, string> }> = [];
  async function* src() {
    yield body;
  }
  for await (const e of readTar(src())) {
    const chunks: Buffer[] = [];
    for await (const c of e.body()) chunks.push(Buffer.from(c));
    out.push({
      name: e.header.name,
      type: e.header.type,
      mode: e.header.mode,
      uid: e.header.uid,
      gid: e.header.gid,
      linkname: e.header.linkname,
      content: Buffer.concat(chunks).toString(),
      xattrs: Object.fromEntries([...e.header.xattrs].map(([k, v]) => [k, v.toString()])),
    });
  }
  return out;
}

describe('volumes API', function () {
  this.timeout(60_000);
  let svc: TestService;
  const req = (method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply> => svc.request(method, path, { body, headers });
  const names = async () => ((await req('GET', '/libpod/volumes/json')).json() as Array<{ Name: string }>).map((v) => v.Name).sort();
  const dirs = () => (fs.existsSync(join(svc.root, 'volumes')) ? fs.readdirSync(join(svc.root, 'volumes')).sort() : []);

  before(async () => {
    svc = await TestService.start();
  });
  after(async () => {
    if (svc) {
      const left = mountsUnder(svc.dir);
      await svc.cleanup();
      expect(left, 'mounts left under the test directory').to.deep.equal([]);
    }
  });

  describe('create, inspect, list, remove', () => {
    it('creates a named volume (compat) in the documented shape, under <root>/volumes/<name>/_data', async () => {
      const r = await req('POST', '/v1.40/volumes/create', { Name: 'web-data', Labels: { app: 'web', tier: 'front' } });
      expect(r.status).to.equal(201);
      assertMatchesSchema('docker', 'VolumeCreate', 201, r.json());
      const v = r.json();
      expect(v).to.include({ Name: 'web-data', Driver: 'local', Scope: 'local', Mountpoint: join(svc.root, 'volumes', 'web-data', '_data') });
      expect(v.Labels).to.deep.equal({ app: 'web', tier: 'front' });
      expect(v.Options).to.deep.equal({});
      expect(v.CreatedAt).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Math.abs(Date.parse(v.CreatedAt) - Date.now())).to.be.below(5_000);
      expect(fs.statSync(v.Mountpoint).isDirectory()).to.equal(true);

      const i = await req('GET', '/v1.40/volumes/web-data');
      expect(i.status).to.equal(200);
      assertMatchesSchema('docker', 'VolumeInspect', 200, i.json());
      expect(i.json()).to.deep.equal(v);

      const l = await req('GET', '/v1.40/volumes');
      expect(l.status).to.equal(200);
      assertMatchesSchema('docker', 'VolumeList', 200, l.json());
      expect(l.json().Warnings).to.deep.equal([]);
      expect(l.json().Volumes.map((x: { Name: string }) => x.Name)).to.include('web-data');
    });

    it('answers the Libpod shape on /libpod (201 create, inspect, list)', async () => {
      const r = await req('POST', '/v5.1.0/libpod/volumes/create', { Name: 'pod-data', Label: { a: '1' }, Labels: { b: '2' }, Options: { o: 'uid=1234,gid=5678' } });
      expect(r.status).to.equal(201);
      assertMatchesSchema('libpod', 'VolumeCreateLibpod', 201, r.json());
      const v = r.json();
      expect(v).to.include({ Name: 'pod-data', Driver: 'local', Scope: 'local', UID: 1234, GID: 5678, MountCount: 0 });
      expect(v.Labels).to.deep.equal({ a: '1', b: '2' });
      expect(v.CreatedAt).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      const st = fs.statSync(v.Mountpoint);
      expect([st.uid, st.gid]).to.deep.equal([1234, 5678]);
      const i = await req('GET', '/libpod/volumes/pod-data/json');
      assertMatchesSchema('libpod', 'VolumeInspectLibpod', 200, i.json());
      expect(i.json()).to.deep.equal(v);
      const l = await req('GET', '/libpod/volumes/json');
      assertMatchesSchema('libpod', 'VolumeListLibpod', 200, l.json());
      expect(l.json().find((x: { Name: string }) => x.Name === 'pod-data')).to.deep.equal(v);
    });

    it('returns an existing name on compat (as Docker) and refuses it with 409 on Libpod unless IgnoreIfExists', async () => {
      const first = (await req('GET', '/v1.40/volumes/web-data')).json();
      const again = await req('POST', '/v1.40/volumes/create', { Name: 'web-data', Labels: { other: 'x' } });
      expect(again.status).to.equal(201);
      expect(again.json()).to.deep.equal(first);
      const conflict = await req('POST', '/libpod/volumes/create', { Name: 'web-data' });
      expect(conflict.status).to.equal(409);
      expect(conflict.json().message).to.contain('already exists');
      const ignored = await req('POST', '/libpod/volumes/create', { Name: 'web-data', IgnoreIfExists: true });
      expect(ignored.status).to.equal(201);
      expect(ignored.json().CreatedAt.slice(0, 19)).to.equal(first.CreatedAt.slice(0, 19));
    });

    it('generates a 64-hex name when none is given', async () => {
      const r = await req('POST', '/v1.40/volumes/create', {});
      expect(r.status).to.equal(201);
      expect(r.json().Name).to.match(/^[0-9a-f]{64}$/);
      expect((await req('DELETE', `/v1.40/volumes/${r.json().Name}`)).status).to.equal(204);
    });

    it('answers exists with 204 / 404', async () => {
      expect((await req('GET', '/libpod/volumes/web-data/exists')).status).to.equal(204);
      const r = await req('GET', '/libpod/volumes/nope/exists');
      expect(r.status).to.equal(404);
      assertMatchesSchema('libpod', 'VolumeExistsLibpod', 404, r.json());
    });

    it('removes a volume with 204 and its directory, 404 for an unknown one (compat force: 204)', async () => {
      await req('POST', '/v1.40/volumes/create', { Name: 'short-lived' });
      const dir = join(svc.root, 'volumes', 'short-lived');
      fs.writeFileSync(join(dir, '_data', 'f'), 'x');
      expect((await req('DELETE', '/v1.40/volumes/short-lived')).status).to.equal(204);
      expect(fs.existsSync(dir)).to.equal(false);
      const missing = await req('DELETE', '/v1.40/volumes/short-lived');
      expect(missing.status).to.equal(404);
      assertMatchesSchema('docker', 'VolumeDelete', 404, missing.json());
      expect(missing.json().message).to.match(/no such volume/);
      expect((await req('DELETE', '/v1.40/volumes/short-lived?force=1')).status).to.equal(204);
      expect((await req('DELETE', '/libpod/volumes/short-lived?force=true')).status).to.equal(404);
      expect((await req('GET', '/v1.40/volumes/short-lived')).status).to.equal(404);
      expect((await req('GET', '/libpod/volumes/short-lived/json')).status).to.equal(404);
    });
  });

  describe('bad input: a clear error and nothing created', () => {
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['an invalid name', '/v1.40/volumes/create', { Name: '-bad' }, /invalid volume name "-bad".*\[a-zA-Z0-9\]/],
      ['a name with a slash', '/libpod/volumes/create', { Name: 'a/b' }, /invalid volume name/],
      ['an unknown driver', '/v1.40/volumes/create', { Name: 'drv', Driver: 'nfs-plugin' }, /driver "nfs-plugin" is not available/],
      ['an unknown option', '/v1.40/volumes/create', { Name: 'opt', DriverOpts: { foo: 'bar' } }, /invalid option "foo"/],
      ['tmpfs with a bad size', '/v1.40/volumes/create', { Name: 'tmp', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=lots' } }, /invalid tmpfs size "lots"/],
      ['tmpfs with an unknown option', '/libpod/volumes/create', { Name: 'tmp', Options: { type: 'tmpfs', o: 'frobnicate=1' } }, /invalid tmpfs option o=frobnicate=1/],
      ['a bind of a missing directory', '/v1.40/volumes/create', { Name: 'bnd', DriverOpts: { type: 'none', o: 'bind', device: '/nonexistent/dir' } }, /device=\/nonexistent\/dir: no such file/],
      ['a relative bind source', '/v1.40/volumes/create', { Name: 'bnd', DriverOpts: { type: 'none', o: 'bind', device: 'rel/dir' } }, /absolute path/],
      ['type=none without bind', '/v1.40/volumes/create', { Name: 'bnd', DriverOpts: { type: 'none', device: '/tmp' } }, /needs o=bind/],
      ['size on a plain volume', '/libpod/volumes/create', { Name: 'sz', Options: { o: 'size=10m' } }, /only supported with type=tmpfs/],
      ['a non-numeric uid', '/libpod/volumes/create', { Name: 'uid', Options: { o: 'uid=root' } }, /uid must be a number/],
      ['a device starting with -', '/v1.40/volumes/create', { Name: 'dash', DriverOpts: { type: 'ext4', device: '--bind' } }, /cannot start with "-"/],
    ];
    for (const [what, path, body, message] of cases) {
      it(`refuses ${what} (400)`, async () => {
        const before = [await names(), dirs()];
        const r = await req('POST', path, body);
        expect(r.status, r.text).to.equal(400);
        expect(r.json().message).to.match(message);
        expect([await names(), dirs()]).to.deep.equal(before);
      });
    }

    it('refuses a body of the wrong shape (400 naming the field)', async () => {
      const r = await req('POST', '/v1.40/volumes/create', { Name: 'x', Labels: { a: 1 } });
      expect(r.status).to.equal(400);
      expect(r.json().message).to.contain('Labels');
    });
  });

  describe('filters', () => {
    before(async () => {
      await req('POST', '/v1.40/volumes/create', { Name: 'f-one', Labels: { env: 'prod', team: 'a' } });
      await req('POST', '/v1.40/volumes/create', { Name: 'f-two', Labels: { env: 'dev' } });
      await req('POST', '/libpod/volumes/create', { Name: 'f-tmp', Options: { type: 'tmpfs', device: 'tmpfs', o: 'size=2m' } });
    });
    const list = async (filters: unknown, libpod = false) => {
      const q = encodeURIComponent(JSON.stringify(filters));
      const r = await req('GET', libpod ? `/libpod/volumes/json?filters=${q}` : `/v1.40/volumes?filters=${q}`);
      expect(r.status, r.text).to.equal(200);
      return (libpod ? r.json() : r.json().Volumes).map((v: { Name: string }) => v.Name).sort();
    };

    it('name (a regexp, values OR-ed), driver', async () => {
      expect(await list({ name: ['^f-'] })).to.deep.equal(['f-one', 'f-tmp', 'f-two']);
      expect(await list({ name: { 'f-one': true, 'f-two': true } })).to.deep.equal(['f-one', 'f-two']);
      expect(await list({ name: ['^f-'], driver: ['local'] })).to.deep.equal(['f-one', 'f-tmp', 'f-two']);
      expect(await list({ driver: ['other'] })).to.deep.equal([]);
    });

    it('label by key and by key=value (values AND-ed), label!', async () => {
      expect(await list({ label: ['env'] })).to.deep.equal(['f-one', 'f-two']);
      expect(await list({ label: ['env=prod'] })).to.deep.equal(['f-one']);
      expect(await list({ label: ['env=prod', 'team=a'] })).to.deep.equal(['f-one']);
      expect(await list({ label: ['env=dev', 'team=a'] })).to.deep.equal([]);
      expect(await list({ name: ['^f-'], 'label!': ['env'] }, true)).to.deep.equal(['f-tmp']);
    });

    it('dangling, until, opt (Libpod only)', async () => {
      expect(await list({ name: ['^f-'], dangling: ['true'] })).to.deep.equal(['f-one', 'f-tmp', 'f-two']);
      expect(await list({ name: ['^f-'], dangling: ['false'] })).to.deep.equal([]);
      expect(await list({ name: ['^f-'], until: [String(Math.floor(Date.now() / 1000) + 60)] })).to.deep.equal(['f-one', 'f-tmp', 'f-two']);
      expect(await list({ name: ['^f-'], until: ['2000-01-01T00:00:00Z'] })).to.deep.equal([]);
      expect(await list({ opt: ['type=tmpfs'] }, true)).to.deep.equal(['f-tmp']);
      expect(await list({ opt: ['device'] }, true)).to.deep.equal(['f-tmp']);
    });

    it('refuses unknown filters and bad values (400)', async () => {
      for (const [path, message] of [
        [`/v1.40/volumes?filters=${encodeURIComponent('{"colour":["red"]}')}`, /"colour" is an invalid volume filter/],
        [`/v1.40/volumes?filters=${encodeURIComponent('{"opt":["type=tmpfs"]}')}`, /invalid filter "opt"/],
        [`/libpod/volumes/json?filters=${encodeURIComponent('{"dangling":["maybe"]}')}`, /not a valid value for the "dangling" filter/],
        [`/libpod/volumes/json?filters=${encodeURIComponent('{"until":["yesterday"]}')}`, /invalid time value/],
        ['/v1.40/volumes?filters=notjson', /invalid filters/],
      ] as const) {
        const r = await req('GET', path);
        expect(r.status, path).to.equal(400);
        expect(r.json().message, path).to.match(message);
      }
    });

    after(async () => {
      for (const n of ['f-one', 'f-two', 'f-tmp']) await req('DELETE', `/v1.40/volumes/${n}`);
    });
  });

  describe('prune', () => {
    it('removes unused volumes matching the label filter and reports the space reclaimed (compat)', async () => {
      await req('POST', '/v1.40/volumes/create', { Name: 'p-keep', Labels: { keep: 'yes' } });
      await req('POST', '/v1.40/volumes/create', { Name: 'p-gone', Labels: { prune: 'me' } });
      fs.writeFileSync(join(svc.root, 'volumes', 'p-gone', '_data', 'blob'), Buffer.alloc(12345));
      fs.mkdirSync(join(svc.root, 'volumes', 'p-gone', '_data', 'sub'));
      fs.writeFileSync(join(svc.root, 'volumes', 'p-gone', '_data', 'sub', 'small'), 'abc');
      const r = await req('POST', `/v1.40/volumes/prune?filters=${encodeURIComponent(JSON.stringify({ label: ['prune=me'] }))}`);
      expect(r.status, r.text).to.equal(200);
      assertMatchesSchema('docker', 'VolumePrune', 200, r.json());
      expect(r.json()).to.deep.equal({ VolumesDeleted: ['p-gone'], SpaceReclaimed: 12348 });
      expect(await names()).to.include('p-keep').and.not.include('p-gone');
      expect(fs.existsSync(join(svc.root, 'volumes', 'p-gone'))).to.equal(false);
    });

    it('answers Libpod PruneReports; until keeps newer volumes; bad filters are refused', async () => {
      const past = await req('POST', `/libpod/volumes/prune?filters=${encodeURIComponent(JSON.stringify({ until: ['2000-01-01T00:00:00Z'] }))}`);
      expect(past.status).to.equal(200);
      expect(past.json()).to.deep.equal([]);
      const bad = await req('POST', `/libpod/volumes/prune?filters=${encodeURIComponent(JSON.stringify({ name: ['x'] }))}`);
      expect(bad.status).to.equal(400);
      expect(bad.json().message).to.contain('invalid volume prune filter');
      fs.writeFileSync(join(svc.root, 'volumes', 'p-keep', '_data', 'f'), 'hello');
      const r = await req('POST', `/libpod/volumes/prune?filters=${encodeURIComponent(JSON.stringify({ label: ['keep'] }))}`);
      expect(r.status).to.equal(200);
      assertMatchesSchema('libpod', 'VolumePruneLibpod', 200, r.json());
      expect(r.json()).to.deep.equal([{ Id: 'p-keep', Size: 5 }]);
    });
  });

  it('logs create, remove and prune events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await req('POST', '/v1.40/volumes/create', { Name: 'ev-vol' });
    await req('DELETE', '/v1.40/volumes/ev-vol');
    await req('POST', '/v1.40/volumes/prune');
    const until = Math.floor(Date.now() / 1000) + 1;
    const r = await req('GET', `/v1.40/events?since=${since}&until=${until}&filters=${encodeURIComponent('{"type":["volume"]}')}`);
    const events = r.text.trim().split('\n').map((l) => JSON.parse(l));
    const mine = events.filter((e) => e.Actor.ID === 'ev-vol' || e.Action === 'prune');
    expect(mine.map((e) => e.Action)).to.include.members(['create', 'remove', 'prune']);
    const create = mine.find((e) => e.Action === 'create');
    expect(create).to.include({ Type: 'volume' });
    expect(create.Actor.Attributes).to.include({ driver: 'local', name: 'ev-vol' });
    expect(mine.find((e) => e.Action === 'prune').Actor.Attributes).to.have.property('reclaimed');
  });

  describe('export and import (Libpod)', function () {
    before(function () {
      if (!hasArchiveRoutes) this.skip(); // needs VolumeExportLibpod / VolumeImportLibpod in the spec overlay
    });
    const importTar = (name: string, body: Buffer) => req('POST', `/libpod/volumes/${name}/import`, body, { 'Content-Type': 'application/x-tar' });

    it('round-trips content with owners, modes, symlinks, hardlinks and xattrs', async () => {
      await req('POST', '/libpod/volumes/create', { Name: 'rt-src' });
      const archive = tar([
        { name: 'etc/', type: 'dir', mode: 0o750, uid: 1234, gid: 5678 },
        { name: 'etc/app.conf', content: 'key=value\n', mode: 0o640, uid: 1234, gid: 5678, xattrs: { 'user.origin': 'test' } },
        { name: 'etc/link', type: 'symlink', linkname: 'app.conf' },
        { name: 'etc/hard', type: 'hardlink', linkname: 'etc/app.conf' },
        { name: 'run.sh', content: '#!/bin/sh\necho hi\n', mode: 0o4755 },
      ]);
      const imp = await importTar('rt-src', archive);
      expect(imp.status, imp.text).to.equal(204);
      const data = join(svc.root, 'volumes', 'rt-src', '_data');
      const conf = fs.statSync(join(data, 'etc', 'app.conf'));
      expect([conf.uid, conf.gid, conf.mode & 0o7777]).to.deep.equal([1234, 5678, 0o640]);
      expect(fs.readlinkSync(join(data, 'etc', 'link'))).to.equal('app.conf');
      expect(fs.statSync(join(data, 'etc', 'hard')).ino).to.equal(conf.ino);
      expect(fs.statSync(join(data, 'run.sh')).mode & 0o7777).to.equal(0o4755);

      const exp = await req('GET', '/libpod/volumes/rt-src/export');
      expect(exp.status).to.equal(200);
      expect(exp.headers['content-type']).to.equal('application/x-tar');
      const entries = await tarEntries(exp.body);
      expect(entries.map((e) => e.name)).to.deep.equal(['etc/', 'etc/app.conf', 'etc/hard', 'etc/link', 'run.sh']);
      const app = entries.find((e) => e.name === 'etc/app.conf')!;
      expect(app).to.include({ type: 'file', mode: 0o640, uid: 1234, gid: 5678, content: 'key=value\n' });
      expect(app.xattrs).to.deep.equal({ 'user.origin': 'test' });
      expect(entries.find((e) => e.name === 'etc/hard')).to.include({ type: 'hardlink', linkname: 'etc/app.conf' });
      expect(entries.find((e) => e.name === 'etc/link')).to.include({ type: 'symlink', linkname: 'app.conf' });
      expect(entries.find((e) => e.name === 'etc/')).to.include({ type: 'directory', mode: 0o750, uid: 1234 });

      await req('POST', '/libpod/volumes/create', { Name: 'rt-dst' });
      expect((await importTar('rt-dst', exp.body)).status).to.equal(204);
      const again = await tarEntries((await req('GET', '/libpod/volumes/rt-dst/export')).body);
      expect(again).to.deep.equal(entries);
    });

    it('imports gzip-compressed archives and answers 404 for an unknown volume', async () => {
      const { gzip } = await import('../helpers/tar-builder.js');
      await req('POST', '/libpod/volumes/create', { Name: 'gz' });
      expect((await importTar('gz', gzip(tar([{ name: 'a.txt', content: 'A' }])))).status).to.equal(204);
      expect(fs.readFileSync(join(svc.root, 'volumes', 'gz', '_data', 'a.txt'), 'utf8')).to.equal('A');
      expect((await importTar('nope', tar([{ name: 'a', content: 'x' }]))).status).to.equal(404);
      expect((await req('GET', '/libpod/volumes/nope/export')).status).to.equal(404);
    });

    it('refuses hostile archives and writes nothing outside the volume', async () => {
      const outside = join(svc.dir, 'outside');
      fs.mkdirSync(outside, { recursive: true });
      await req('POST', '/libpod/volumes/create', { Name: 'hostile' });
      const cases: Array<[string, Buffer]> = [
        ['../ path', tar([{ name: '../../../../outside/pwned', content: 'x' }])],
        ['absolute path', tar([{ name: `${outside}/pwned`, content: 'x' }])],
        ['write through a symlink', tar([{ name: 'link', type: 'symlink', linkname: outside }, { name: 'link/pwned', content: 'x' }])],
        ['symlink then directory through it', tar([{ name: 'd', type: 'symlink', linkname: '../../../..' }, { name: 'd/outside/pwned', content: 'x' }])],
        ['hardlink out of the volume', tar([{ name: 'h', type: 'hardlink', linkname: '../../../../outside/target' }])],
      ];
      fs.writeFileSync(join(outside, 'target'), 'keep');
      for (const [what, body] of cases) {
        const r = await importTar('hostile', body);
        expect(r.status, what).to.equal(400);
        expect(r.json().message, what).to.match(/refusing tar entry/);
      }
      expect(fs.readdirSync(outside)).to.deep.equal(['target']);
      expect(fs.readFileSync(join(outside, 'target'), 'utf8')).to.equal('keep');
    });

    it('exports and imports a bind volume through its mount, and leaves no mount behind', async () => {
      const host = join(svc.dir, 'bind-src');
      fs.mkdirSync(host, { recursive: true });
      fs.writeFileSync(join(host, 'from-host.txt'), 'host');
      const c = await req('POST', '/v1.40/volumes/create', { Name: 'bindvol', DriverOpts: { type: 'none', o: 'bind', device: host } });
      expect(c.status, c.text).to.equal(201);
      expect((await importTar('bindvol', tar([{ name: 'from-import.txt', content: 'imp' }]))).status).to.equal(204);
      expect(fs.readFileSync(join(host, 'from-import.txt'), 'utf8')).to.equal('imp');
      expect(mountsUnder(svc.root)).to.deep.equal([]);
      const entries = await tarEntries((await req('GET', '/libpod/volumes/bindvol/export')).body);
      expect(entries.map((e) => e.name)).to.deep.equal(['from-host.txt', 'from-import.txt']);
      expect((await req('DELETE', '/v1.40/volumes/bindvol')).status).to.equal(204);
      expect(fs.readdirSync(host).sort()).to.deep.equal(['from-host.txt', 'from-import.txt']);
    });

    it('mounts a tmpfs volume only while it is held (import content is gone once released)', async () => {
      await req('POST', '/v1.40/volumes/create', { Name: 'tmpvol', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } });
      expect((await importTar('tmpvol', tar([{ name: 'f', content: 'x' }]))).status).to.equal(204);
      expect(mountsUnder(svc.root)).to.deep.equal([]);
      const entries = await tarEntries((await req('GET', '/libpod/volumes/tmpvol/export')).body);
      expect(entries).to.deep.equal([]);
      const big = await importTar('tmpvol', tar([{ name: 'big', content: Buffer.alloc(2 * 1024 * 1024) }]));
      expect(big.status).to.equal(500);
      expect(big.json().message).to.match(/ENOSPC|no space/i);
      expect(mountsUnder(svc.root)).to.deep.equal([]);
    });

    it('answers 409 when removing a volume held by an export in progress', async () => {
      await req('POST', '/libpod/volumes/create', { Name: 'busy' });
      fs.writeFileSync(join(svc.root, 'volumes', 'busy', '_data', 'big'), Buffer.alloc(32 * 1024 * 1024));
      const { request } = await import('node:http');
      const started = new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
        const r = request({ socketPath: svc.socketPath, path: '/libpod/volumes/busy/export', method: 'GET' }, resolve);
        r.on('error', reject);
        r.end();
      });
      const res = await started;
      res.pause();
      const rm = await req('DELETE', '/libpod/volumes/busy');
      expect(rm.status).to.equal(409);
      expect(rm.json().message).to.contain('being used');
      res.destroy();
      await new Promise((r) => setTimeout(r, 200));
      expect((await req('GET', '/libpod/volumes/busy/json')).json().MountCount).to.equal(0);
      expect((await req('DELETE', '/libpod/volumes/busy')).status).to.equal(204);
    });
  });

  describe('clients', () => {
    const env = () => ({ ...process.env, DOCKER_HOST: `unix://${svc.socketPath}` });
    const docker = async (...args: string[]) => (await run('/usr/local/bin/docker', args, { env: env() })).stdout.trim();

    it('docker volume create / ls / inspect / rm / prune', async function () {
      if (!fs.existsSync('/usr/local/bin/docker')) this.skip();
      expect(await docker('volume', 'create', '--label', 'cli=docker', 'cli-vol')).to.equal('cli-vol');
      expect(await docker('volume', 'create', '-d', 'local', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'cli-tmp')).to.equal('cli-tmp');
      const ls = (await docker('volume', 'ls', '-q', '--filter', 'label=cli=docker')).split('\n');
      expect(ls).to.deep.equal(['cli-vol']);
      const inspect = JSON.parse(await docker('volume', 'inspect', 'cli-tmp'));
      expect(inspect[0]).to.include({ Name: 'cli-tmp', Driver: 'local', Scope: 'local' });
      expect(inspect[0].Options).to.deep.equal({ type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
      expect(await docker('volume', 'inspect', '--format', '{{.Mountpoint}}', 'cli-vol')).to.equal(join(svc.root, 'volumes', 'cli-vol', '_data'));
      const bad = await run('/usr/local/bin/docker', ['volume', 'create', '-o', 'type=tmpfs', '-o', 'o=size=huge', 'cli-bad'], { env: env() }).catch((e) => e);
      expect(bad.code).to.not.equal(0);
      expect(bad.stderr).to.contain('invalid tmpfs size');
      expect(await docker('volume', 'rm', 'cli-tmp')).to.equal('cli-tmp');
      const missing = await run('/usr/local/bin/docker', ['volume', 'rm', 'cli-tmp'], { env: env() }).catch((e) => e);
      expect(missing.stderr).to.match(/no such volume/i);
      const pruned = await docker('volume', 'prune', '-f', '--filter', 'label=cli=docker');
      expect(pruned).to.contain('cli-vol');
      expect(await docker('volume', 'ls', '-q', '--filter', 'name=cli-')).to.equal('');
    });

    it('podman --remote volume create / ls / inspect / exists / rm', async function () {
      if (!fs.existsSync('/usr/bin/podman')) this.skip();
      const podman = async (...args: string[]) => (await run('podman', ['--remote', '--url', `unix://${svc.socketPath}`, ...args])).stdout.trim();
      expect(await podman('volume', 'create', '--label', 'cli=podman', 'pm-vol')).to.equal('pm-vol');
      expect(await podman('volume', 'create', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'o=size=2m', 'pm-tmp')).to.equal('pm-tmp');
      expect((await podman('volume', 'ls', '-q', '--filter', 'label=cli=podman')).split('\n')).to.deep.equal(['pm-vol']);
      const inspect = JSON.parse(await podman('volume', 'inspect', 'pm-tmp'));
      expect(inspect[0]).to.include({ Name: 'pm-tmp', Driver: 'local', Mountpoint: join(svc.root, 'volumes', 'pm-tmp', '_data') });
      await podman('volume', 'exists', 'pm-vol');
      const gone = await run('podman', ['--remote', '--url', `unix://${svc.socketPath}`, 'volume', 'exists', 'pm-nope']).catch((e) => e);
      expect(gone.code).to.equal(1);
      const dup = await run('podman', ['--remote', '--url', `unix://${svc.socketPath}`, 'volume', 'create', 'pm-vol']).catch((e) => e);
      expect(dup.stderr).to.contain('already exists');
      expect(await podman('volume', 'rm', 'pm-vol', 'pm-tmp')).to.equal('pm-vol\npm-tmp');
      expect(await podman('volume', 'ls', '-q', '--filter', 'name=pm-')).to.equal('');
    });
  });
});
