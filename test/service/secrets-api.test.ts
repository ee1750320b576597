// Black-box tests of the secret endpoints (Libpod and compat) against the real service: answers
// checked against the spec schemas, Podman's rules (25-hex IDs, unique names, replace and
// ignore, size limit, name/ID-prefix lookups, name and id filters), bad input refused with
// nothing stored, the data kept 0600 in a 0700 directory and never shown unless asked, events.
import { expect } from 'chai';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { assertMatchesSchema } from '../helpers/schema.js';
import { TestService, type Reply } from '../helpers/service.js';

describe('secrets API', function () {
  this.timeout(60_000);
  let svc: TestService;
  const req = (method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply> => svc.request(method, path, { body, headers });
  const create = (name: string, data: string | Buffer, query = ''): Promise<Reply> =>
    req('POST', `/v5.1.0/libpod/secrets/create?name=${encodeURIComponent(name)}${query}`, data, { 'Content-Type': 'application/octet-stream' });
  const list = async () => (await req('GET', '/libpod/secrets/json')).json() as Array<{ ID: string; Spec: { Name: string } }>;
  const names = async () => (await list()).map((s) => s.Spec.Name).sort();
  const dataDir = () => join(svc.root, 'secrets', 'filedriver');
  const dataFiles = () => (fs.existsSync(dataDir()) ? fs.readdirSync(dataDir()).sort() : []);
  const removeAll = () => req('DELETE', '/libpod/secrets/x?all=true');

  before(async () => {
    svc = await TestService.start();
  });
  after(async () => {
    if (svc) await svc.cleanup();
  });
  afterEach(async () => {
    await removeAll();
  });

  describe('Libpod', () => {
    it('creates a secret from the raw body: a 25-hex ID, data in its own 0600 file in a 0700 directory', async () => {
      const r = await create('db-pass', 'hunter2', `&labels=${encodeURIComponent('{"app":"db"}')}`);
      expect(r.status).to.equal(201);
      assertMatchesSchema('libpod', 'SecretCreateLibpod', 201, r.json());
      const id = r.json().ID as string;
      expect(id).to.match(/^[0-9a-f]{25}$/);
      const file = join(dataDir(), id);
      expect(fs.readFileSync(file, 'utf8')).to.equal('hunter2');
      expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
      expect(fs.statSync(dataDir()).mode & 0o777).to.equal(0o700);
      expect(fs.statSync(join(svc.root, 'secrets')).mode & 0o777).to.equal(0o700);
      expect(fs.statSync(join(svc.root, 'secrets', 'secrets.db')).mode & 0o777).to.equal(0o600);
    });

    it('inspects and lists without the data; showsecret shows it', async () => {
      const id = (await create('api-key', 's3cr3t\nline2', `&labels=${encodeURIComponent('{"a":"b"}')}`)).json().ID;
      const ins = await req('GET', '/v5.1.0/libpod/secrets/api-key/json');
      expect(ins.status).to.equal(200);
      assertMatchesSchema('libpod', 'SecretInspectLibpod', 200, ins.json());
      const s = ins.json();
      expect(s).to.include({ ID: id });
      expect(s).not.to.have.property('SecretData');
      expect(s.Spec).to.deep.equal({ Name: 'api-key', Driver: { Name: 'file', Options: { path: dataDir() } }, Labels: { a: 'b' } });
      expect(s.CreatedAt).to.equal(s.UpdatedAt);
      expect(Math.abs(Date.parse(s.CreatedAt) - Date.now())).to.be.below(10_000);
      expect(ins.text).not.to.contain('s3cr3t');

      const shown = await req('GET', '/v5.1.0/libpod/secrets/api-key/json?showsecret=true');
      assertMatchesSchema('libpod', 'SecretInspectLibpod', 200, shown.json());
      expect(shown.json().SecretData).to.equal('s3cr3t\nline2');

      const l = await req('GET', '/v5.1.0/libpod/secrets/json');
      expect(l.status).to.equal(200);
      assertMatchesSchema('libpod', 'SecretListLibpod', 200, l.json());
      expect(l.json()).to.deep.equal([s]);
      expect(l.text).not.to.contain('s3cr3t');
    });

    it('finds a secret by name, full ID and unique ID prefix; exists answers 204 or 404', async () => {
      const id = (await create('lookup-me', 'x')).json().ID as string;
      for (const ref of ['lookup-me', id, id.slice(0, 6)]) {
        expect((await req('GET', `/libpod/secrets/${ref}/json`)).json().ID, ref).to.equal(id);
        expect((await req('GET', `/libpod/secrets/${ref}/exists`)).status, ref).to.equal(204);
      }
      const missing = await req('GET', '/v5.1.0/libpod/secrets/nope/json');
      expect(missing.status).to.equal(404);
      assertMatchesSchema('libpod', 'SecretInspectLibpod', 404, missing.json());
      expect(missing.json()).to.deep.equal({ cause: 'no such secret', message: 'no secret with name or id "nope": no such secret', response: 404 });
      const ex = await req('GET', '/libpod/secrets/nope/exists');
      expect(ex.status).to.equal(404);
      expect(ex.json().cause).to.equal('no such secret');
    });

    it('answers 409 for a taken name and leaves the secret as it was', async () => {
      const id = (await create('taken', 'first')).json().ID;
      const r = await create('taken', 'second');
      expect(r.status).to.equal(409);
      expect(r.json()).to.include({ cause: 'secret name in use', message: 'taken: secret name in use' });
      expect((await req('GET', '/libpod/secrets/taken/json?showsecret=true')).json()).to.include({ ID: id, SecretData: 'first' });
      expect(dataFiles()).to.deep.equal([id]);
    });

    it('replace gives the name new data and a new ID, keeps CreatedAt and drops the old data', async () => {
      const old = (await req('GET', `/libpod/secrets/${(await create('rotated', 'v1', `&labels=${encodeURIComponent('{"v":"1"}')}`)).json().ID}/json`)).json();
      const r = await create('rotated', 'v2', '&replace=true');
      expect(r.status).to.equal(201);
      const now = (await req('GET', '/libpod/secrets/rotated/json?showsecret=true')).json();
      expect(now.ID).to.equal(r.json().ID).and.not.equal(old.ID);
      expect(now).to.include({ CreatedAt: old.CreatedAt, SecretData: 'v2' });
      expect(Date.parse(now.UpdatedAt)).to.be.at.least(Date.parse(old.UpdatedAt));
      expect(now.UpdatedAt).not.to.equal(old.UpdatedAt);
      expect(now.Spec.Labels).to.deep.equal({});
      expect(await names()).to.deep.equal(['rotated']);
      expect(dataFiles()).to.deep.equal([now.ID]);
      expect((await req('GET', `/libpod/secrets/${old.ID}/exists`)).status).to.equal(404);
    });

    it('ignore answers the existing secret unchanged; ignore with replace is refused', async () => {
      const id = (await create('kept', 'original')).json().ID;
      const r = await create('kept', 'other', '&ignore=true');
      expect(r.status).to.equal(201);
      expect(r.json()).to.deep.equal({ ID: id });
      expect((await req('GET', '/libpod/secrets/kept/json?showsecret=true')).json().SecretData).to.equal('original');
      expect(dataFiles()).to.deep.equal([id]);
      expect((await create('kept', 'other', '&ignore=true&replace=true')).status).to.equal(400);
    });

    it('refuses bad input with 400 and stores nothing', async () => {
      const cases: Array<[string, string, string | Buffer, string?]> = [
        ['empty name', '', 'x'],
        ['name with a slash', 'a/b', 'x'],
        ['name with =', 'a=b', 'x'],
        ['name with a comma', 'a,b', 'x'],
        ['name too long', 'n'.repeat(254), 'x'],
        ['no data', 'empty', ''],
        ['512000 bytes', 'big', Buffer.alloc(512_000, 1)],
        ['2 MB', 'bigger', Buffer.alloc(2_000_000, 1)],
        ['unknown driver', 'drv', 'x', '&driver=pass'],
        ['another data path', 'path', 'x', `&driveropts=${encodeURIComponent('{"path":"/tmp"}')}`],
        ['labels not JSON', 'lbl', 'x', '&labels=nope'],
        ['labels not strings', 'lbl2', 'x', `&labels=${encodeURIComponent('{"a":1}')}`],
      ];
      for (const [what, name, data, query] of cases) {
        const r = await create(name, data, query ?? '');
        expect(r.status, `${what}: ${r.text}`).to.equal(400);
        expect(r.json().response, what).to.equal(400);
      }
      expect(await list()).to.deep.equal([]);
      expect(dataFiles()).to.deep.equal([]);
    });

    it('records driver options as Podman does, the data path always the store\'s', async () => {
      await create('opts', 'x', `&driveropts=${encodeURIComponent('{"foo":"bar"}')}`);
      expect((await req('GET', '/libpod/secrets/opts/json')).json().Spec.Driver).to.deep.equal({ Name: 'file', Options: { foo: 'bar', path: dataDir() } });
      await create('same-path', 'x', `&driveropts=${encodeURIComponent(JSON.stringify({ path: dataDir() }))}`);
      expect((await req('GET', '/libpod/secrets/same-path/json')).json().Spec.Driver.Options).to.deep.equal({ path: dataDir() });
    });

    it('takes 511999 bytes, the largest secret Podman allows, and 253-character names', async () => {
      const big = Buffer.alloc(511_999, 7);
      const id = (await create('n'.repeat(253), big)).json().ID;
      expect(fs.readFileSync(join(dataDir(), id)).equals(big)).to.equal(true);
    });

    it('filters the list by name and id (regular expressions); other keys are refused', async () => {
      const a = (await create('web-tls', 'a')).json().ID as string;
      await create('web-key', 'b');
      await create('db-pass', 'c');
      const f = async (filters: unknown) => {
        const r = await req('GET', `/libpod/secrets/json?filters=${encodeURIComponent(JSON.stringify(filters))}`);
        expect(r.status, r.text).to.equal(200);
        return (r.json() as Array<{ Spec: { Name: string } }>).map((s) => s.Spec.Name).sort();
      };
      expect(await f({ name: ['^web-'] })).to.deep.equal(['web-key', 'web-tls']);
      expect(await f({ name: ['tls$', 'pass'] })).to.deep.equal(['db-pass', 'web-tls']);
      expect(await f({ id: [a.slice(0, 8)] })).to.deep.equal(['web-tls']);
      expect(await f({ name: ['^web-'], id: [a] })).to.deep.equal(['web-tls']);
      expect(await f({ name: ['nothing'] })).to.deep.equal([]);
      const bad = await req('GET', `/libpod/secrets/json?filters=${encodeURIComponent('{"label":["a"]}')}`);
      expect(bad.status).to.equal(400);
      expect(bad.json().message).to.equal('invalid filter "label"');
      expect((await req('GET', '/libpod/secrets/json?filters=garbage')).status).to.equal(400);
    });

    it('removes one secret and its data; a missing one is 404; all removes every secret', async () => {
      const id = (await create('gone', 'x')).json().ID;
      await create('other', 'y');
      const r = await req('DELETE', '/v5.1.0/libpod/secrets/gone');
      expect(r.status).to.equal(204);
      expect(await names()).to.deep.equal(['other']);
      expect(dataFiles()).not.to.include(id);
      const again = await req('DELETE', '/v5.1.0/libpod/secrets/gone');
      expect(again.status).to.equal(404);
      assertMatchesSchema('libpod', 'SecretDeleteLibpod', 404, again.json());
      await create('third', 'z');
      expect((await req('DELETE', '/v5.1.0/libpod/secrets/anything?all=true')).status).to.equal(204);
      expect(await list()).to.deep.equal([]);
      expect(dataFiles()).to.deep.equal([]);
    });

    it('logs create and remove events naming the secret by ID, as Podman', async () => {
      const since = Math.floor(Date.now() / 1000) - 1;
      const id = (await create('ev-secret', 'x')).json().ID;
      await req('DELETE', `/libpod/secrets/${id}`);
      const until = Math.floor(Date.now() / 1000) + 1;
      const r = await req('GET', `/v5.1.0/libpod/events?stream=false&since=${since}&until=${until}&filters=${encodeURIComponent('{"type":["secret"]}')}`);
      expect(r.status).to.equal(200);
      const events = r.text.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.Actor.ID === id);
      expect(events.map((e) => [e.Type, e.Action])).to.deep.equal([['secret', 'create'], ['secret', 'remove']]);
    });
  });

  describe('compat', () => {
    it('creates from a JSON body with base64 data, answers {ID} with 201', async () => {
      const r = await req('POST', '/v1.40/secrets/create', { Name: 'compat-one', Data: Buffer.from('secret value').toString('base64'), Labels: { env: 'prod' } });
      expect(r.status).to.equal(201);
      assertMatchesSchema('docker', 'SecretCreate', 201, r.json());
      const id = r.json().ID as string;
      expect(id).to.match(/^[0-9a-f]{25}$/);
      expect(fs.readFileSync(join(dataDir(), id), 'utf8')).to.equal('secret value');
      const dup = await req('POST', '/v1.40/secrets/create', { Name: 'compat-one', Data: 'eA==' });
      expect(dup.status).to.equal(409);
      expect(dup.json()).to.deep.equal({ message: 'compat-one: secret name in use' });
    });

    it('inspects and lists in Docker\'s shape with Version.Index 1 and no data', async () => {
      const id = (await req('POST', '/secrets/create', { Name: 'compat-two', Data: 'c2VjcmV0', Labels: { foo: 'bar' } })).json().ID;
      const ins = await req('GET', '/v1.40/secrets/compat-two');
      expect(ins.status).to.equal(200);
      assertMatchesSchema('docker', 'SecretInspect', 200, ins.json());
      expect(ins.json()).to.deep.include({ ID: id, Version: { Index: 1 }, Spec: { Name: 'compat-two', Driver: { Name: 'file', Options: { path: dataDir() } }, Labels: { foo: 'bar' } } });
      expect(ins.json()).not.to.have.property('SecretData');
      const l = await req('GET', `/v1.40/secrets?filters=${encodeURIComponent('{"name":{"compat-two":true}}')}`);
      expect(l.status).to.equal(200);
      assertMatchesSchema('docker', 'SecretList', 200, l.json());
      expect(l.json()).to.deep.equal([ins.json()]);
      const missing = await req('GET', '/v1.40/secrets/bogus');
      expect(missing.status).to.equal(404);
      expect(missing.json()).to.deep.equal({ message: 'no secret with name or id "bogus": no such secret' });
    });

    it('refuses an empty name, bad base64, no data and oversized data with 400, storing nothing', async () => {
      const cases: Array<[string, unknown]> = [
        ['empty name', { Name: '', Data: 'eA==' }],
        ['no name', { Data: 'eA==' }],
        ['bad base64', { Name: 'b64', Data: 'not base64!' }],
        ['unpadded base64', { Name: 'b64b', Data: 'eA' }],
        ['no data', { Name: 'nodata' }],
        ['oversized', { Name: 'huge', Data: Buffer.alloc(512_000, 1).toString('base64') }],
        ['unknown driver', { Name: 'drv', Data: 'eA==', Driver: { Name: 'vault' } }],
      ];
      for (const [what, body] of cases) {
        const r = await req('POST', '/v1.40/secrets/create', body);
        expect(r.status, `${what}: ${r.text}`).to.equal(400);
        expect(r.json(), what).to.have.property('message');
      }
      expect(await list()).to.deep.equal([]);
      expect(dataFiles()).to.deep.equal([]);
    });

    it('deletes (204, then 404); update answers 501 as Podman\'s service does', async () => {
      await req('POST', '/v1.40/secrets/create', { Name: 'compat-del', Data: 'eA==' });
      const up = await req('POST', '/v1.40/secrets/compat-del/update?version=1', { Labels: { a: 'b' } });
      expect(up.status).to.equal(501);
      expect(up.json()).to.deep.equal({ message: 'SecretUpdate is not implemented' });
      expect((await req('DELETE', '/v1.40/secrets/compat-del')).status).to.equal(204);
      const again = await req('DELETE', '/v1.40/secrets/compat-del');
      expect(again.status).to.equal(404);
      assertMatchesSchema('docker', 'SecretDelete', 404, again.json());
    });
  });

  it('keeps secrets across a restart of the service', async () => {
    const id = (await create('durable', 'still here')).json().ID;
    await svc.stop();
    await svc.start();
    expect((await req('GET', '/libpod/secrets/durable/json?showsecret=1')).json()).to.include({ ID: id, SecretData: 'still here' });
  });
});
