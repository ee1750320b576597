// Black-box tests of the network endpoints (compat and Libpod) against the real service:
// answers checked against the spec schemas, the default network under both names, filters,
// conflicts and bad input refused clearly with nothing left behind, events, the stored Podman
// JSON, and the docker and podman CLIs. Networks without containers: no bridge comes up.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertMatchesSchema } from '../helpers/schema.js';
import { TestService, type Reply } from '../helpers/service.js';

function cli(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('networks API', function () {
  this.timeout(60_000);
  let svc: TestService;
  const req = (method: string, path: string, body?: unknown): Promise<Reply> => svc.request(method, path, { body });
  const q = (filters: Record<string, string[]>) => encodeURIComponent(JSON.stringify(filters));
  const dockerNames = async (filters?: Record<string, string[]>) =>
    ((await req('GET', `/networks${filters ? `?filters=${q(filters)}` : ''}`)).json() as Array<{ Name: string }>).map((n) => n.Name).sort();

  before(async () => {
    svc = await TestService.start();
  });

  after(async () => {
    // Remove what is left so no claim of this root outlives it (claims of a removed root go stale anyway).
    for (const n of (await req('GET', '/libpod/networks/json')).json() as Array<{ name: string }>) if (n.name !== 'podman') await req('DELETE', `/libpod/networks/${n.name}`);
    await svc.cleanup();
  });

  describe('compat', () => {
    it('lists the default network as "bridge" and inspects it by either name', async () => {
      const list = await req('GET', '/v1.40/networks');
      expect(list.status).to.equal(200);
      assertMatchesSchema('docker', 'NetworkList', 200, list.json());
      const bridge = (list.json() as any[]).find((n) => n.Name === 'bridge');
      expect(bridge).to.include({ Driver: 'bridge', Scope: 'local', Internal: false, EnableIPv6: false });
      expect(bridge.IPAM.Config[0].Subnet).to.match(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
      const byBridge = await req('GET', '/networks/bridge');
      assertMatchesSchema('docker', 'NetworkInspect', 200, byBridge.json());
      expect(byBridge.json().Id).to.equal(bridge.Id);
      expect((await req('GET', '/networks/podman')).json().Id).to.equal(bridge.Id);
      expect((await req('GET', `/networks/${bridge.Id.slice(0, 12)}`)).json().Name).to.equal('bridge');
      const removed = await req('DELETE', '/networks/bridge');
      expect(removed.status).to.equal(403);
      expect(removed.json().message).to.contain('cannot be removed');
    });

    it('creates, inspects, filters and removes a network', async () => {
      const body = {
        Name: 'front',
        CheckDuplicate: true,
        Driver: 'bridge',
        Internal: true,
        IPAM: { Driver: 'default', Config: [{ Subnet: '10.231.0.0/16', IPRange: '10.231.5.0/24', Gateway: '10.231.0.254' }] },
        Options: { 'com.docker.network.driver.mtu': '1400' },
        Labels: { tier: 'front', 'com.example.team': 'a' },
      };
      const created = await req('POST', '/v1.40/networks/create', body);
      expect(created.status).to.equal(201);
      assertMatchesSchema('docker', 'NetworkCreate', 201, created.json());
      const id = created.json().Id as string;
      expect(id).to.match(/^[0-9a-f]{64}$/);
      expect(created.json().Warning).to.equal('');

      const dup = await req('POST', '/networks/create', body);
      expect(dup.status).to.equal(409);
      expect(dup.json().message).to.contain('already exists');
      // As Podman: a duplicate is a conflict even without CheckDuplicate (deprecated in API 1.44).
      expect((await req('POST', '/networks/create', { ...body, CheckDuplicate: false })).status).to.equal(409);

      const i = await req('GET', '/networks/front');
      assertMatchesSchema('docker', 'NetworkInspect', 200, i.json());
      expect(i.json()).to.deep.include({
        Name: 'front', Id: id, Driver: 'bridge', Internal: true, Scope: 'local', Attachable: false, Ingress: false, EnableIPv6: false,
        Containers: {}, Options: { mtu: '1400' }, Labels: { tier: 'front', 'com.example.team': 'a' },
      });
      expect(i.json().IPAM).to.deep.equal({ Driver: 'default', Options: {}, Config: [{ Subnet: '10.231.0.0/16', Gateway: '10.231.0.254', IPRange: '10.231.5.0/24' }] });

      // Stored as Podman's network JSON.
      const stored = JSON.parse(readFileSync(join(svc.root, 'networks', 'front.json'), 'utf8'));
      expect(stored).to.deep.include({ name: 'front', id, driver: 'bridge', internal: true, dns_enabled: true, ipv6_enabled: false, ipam_options: { driver: 'host-local' } });
      expect(stored.subnets).to.deep.equal([{ subnet: '10.231.0.0/16', gateway: '10.231.0.254', lease_range: { start_ip: '10.231.5.0', end_ip: '10.231.5.255' } }]);
      expect(stored.network_interface).to.match(/^tspod\d+$/);

      await req('POST', '/networks/create', { Name: 'back', Labels: { tier: 'back' } });
      expect(await dockerNames({ label: ['tier'] })).to.deep.equal(['back', 'front']);
      expect(await dockerNames({ label: ['tier=back'] })).to.deep.equal(['back']);
      expect(await dockerNames({ name: ['fro'] })).to.deep.equal(['front']);
      expect(await dockerNames({ id: [id.slice(0, 10)] })).to.deep.equal(['front']);
      expect(await dockerNames({ driver: ['bridge'], type: ['custom'] })).to.deep.equal(['back', 'front']);
      expect(await dockerNames({ type: ['builtin'] })).to.deep.equal(['bridge']);
      expect(await dockerNames({ dangling: ['true'], label: ['tier'] })).to.deep.equal(['back', 'front']);
      const bad = await req('GET', `/networks?filters=${q({ bogus: ['x'] })}`);
      expect(bad.status).to.equal(400);

      const del = await req('DELETE', '/networks/front');
      expect(del.status).to.equal(204);
      expect((await req('GET', '/networks/front')).status).to.equal(404);
      expect((await req('DELETE', '/networks/front')).status).to.equal(404);
      expect(existsSync(join(svc.root, 'networks', 'front.json'))).to.equal(false);
    });

    it('refuses overlapping subnets, bad subnets, options and names with a clear error, creating nothing', async () => {
      const before = readdirSync(join(svc.root, 'networks')).sort();
      const back = (await req('GET', '/networks/back')).json();
      const overlap = await req('POST', '/networks/create', { Name: 'clash', IPAM: { Config: [{ Subnet: back.IPAM.Config[0].Subnet }] } });
      expect(overlap.status).to.equal(409);
      expect(overlap.json().message).to.contain(`overlaps with network "back"`);
      for (const body of [
        { Name: 'x1', IPAM: { Config: [{ Subnet: '10.0.0.1/8' }] } },
        { Name: 'x2', IPAM: { Config: [{ Subnet: 'banana' }] } },
        { Name: 'x3', Options: { mtu: 'big' } },
        { Name: 'x4', Driver: 'overlay' },
        { Name: 'bad/name' },
        { Name: 'host' },
      ]) {
        const r = await req('POST', '/networks/create', body);
        expect(r.status, JSON.stringify(body)).to.be.oneOf([400, 409]);
        expect(r.json().message).to.be.a('string').and.not.equal('');
      }
      expect(readdirSync(join(svc.root, 'networks')).sort()).to.deep.equal(before);
    });

    it('ignores Docker driver options a bridge has no use for, with a warning (as Podman)', async () => {
      const r = await req('POST', '/networks/create', { Name: 'warned', Options: { 'com.docker.network.bridge.enable_icc': 'true' } });
      expect(r.status).to.equal(201);
      expect(r.json().Warning).to.equal('"com.docker.network.bridge.enable_icc: true" is not a recognized option');
      expect((await req('GET', '/networks/warned')).json().Options).to.deep.equal({});
      expect((await req('DELETE', '/networks/warned')).status).to.equal(204);
    });

    it('connect and disconnect: unknown network or container is 404', async () => {
      const r1 = await req('POST', '/networks/nosuch/connect', { Container: 'x' });
      expect(r1.status).to.equal(404);
      const r2 = await req('POST', '/networks/back/connect', { Container: 'nosuchcontainer' });
      expect(r2.status).to.equal(404);
      const r3 = await req('POST', '/networks/back/disconnect', { Container: 'nosuchcontainer' });
      expect(r3.status).to.equal(404);
    });

    it('prunes unused networks (with filters), never the default one', async () => {
      await req('POST', '/networks/create', { Name: 'p1', Labels: { prune: 'yes' } });
      await req('POST', '/networks/create', { Name: 'p2' });
      const r = await req('POST', `/networks/prune?filters=${q({ label: ['prune=yes'] })}`);
      expect(r.status).to.equal(200);
      assertMatchesSchema('docker', 'NetworkPrune', 200, r.json());
      expect(r.json()).to.deep.equal({ NetworksDeleted: ['p1'] });
      const all = await req('POST', '/networks/prune');
      expect((all.json().NetworksDeleted as string[]).sort()).to.deep.equal(['back', 'p2']);
      expect(await dockerNames()).to.deep.equal(['bridge']);
    });

    it('emits network events', async () => {
      const since = Math.floor(Date.now() / 1000) - 1;
      await req('POST', '/networks/create', { Name: 'evt' });
      await req('DELETE', '/networks/evt');
      const until = Math.floor(Date.now() / 1000) + 1;
      const r = await req('GET', `/events?since=${since}&until=${until}&filters=${q({ type: ['network'] })}`);
      const events = r.text.trim().split('\n').map((l) => JSON.parse(l));
      const evt = events.filter((e) => e.Actor.Attributes.name === 'evt').map((e) => e.Action);
      expect(evt).to.deep.equal(['create', 'remove']);
    });
  });

  describe('libpod', () => {
    it('creates with the Podman network JSON, lists, inspects, checks existence and removes', async () => {
      const created = await req('POST', '/v5.1.0/libpod/networks/create', {
        name: 'lp1',
        driver: 'bridge',
        subnets: [{ subnet: '10.232.1.0/24', gateway: '10.232.1.1', lease_range: { start_ip: '10.232.1.100', end_ip: '10.232.1.200' } }],
        dns_enabled: true,
        labels: { app: 'lp' },
        options: { isolate: 'true' },
      });
      expect(created.status).to.equal(200);
      assertMatchesSchema('libpod', 'NetworkCreateLibpod', 200, created.json());
      expect(created.json()).to.deep.include({ name: 'lp1', driver: 'bridge', dns_enabled: true, internal: false, ipv6_enabled: false, labels: { app: 'lp' }, options: { isolate: 'true' } });
      expect(created.json().created).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      const dup = await req('POST', '/libpod/networks/create', { name: 'lp1' });
      expect(dup.status).to.equal(409);
      expect(dup.json()).to.include({ cause: 'network already exists', response: 409 });
      const ignored = await req('POST', '/libpod/networks/create?ignoreIfExists=true', { name: 'lp1' });
      expect(ignored.status).to.equal(200);
      expect(ignored.json().id).to.equal(created.json().id);

      const list = await req('GET', `/libpod/networks/json?filters=${q({ label: ['app=lp'] })}`);
      assertMatchesSchema('libpod', 'NetworkListLibpod', 200, list.json());
      expect((list.json() as any[]).map((n) => n.name)).to.deep.equal(['lp1']);
      const all = (await req('GET', '/libpod/networks/json')).json() as any[];
      expect(all.map((n) => n.name)).to.include('podman');
      const def = all.find((n) => n.name === 'podman');
      expect(def).to.include({ driver: 'bridge', dns_enabled: false });

      const i = await req('GET', '/libpod/networks/lp1/json');
      assertMatchesSchema('libpod', 'NetworkInspectLibpod', 200, i.json());
      expect(i.json()).to.deep.include({ name: 'lp1', containers: {} });
      expect((await req('GET', '/libpod/networks/lp1/exists')).status).to.equal(204);
      expect((await req('GET', '/libpod/networks/podman/exists')).status).to.equal(204);
      const missing = await req('GET', '/libpod/networks/nosuch/exists');
      expect(missing.status).to.equal(404);
      expect((await req('GET', '/libpod/networks/nosuch/json')).json()).to.include({ response: 404 });

      const rm = await req('DELETE', '/libpod/networks/lp1?force=true');
      expect(rm.status).to.equal(200);
      assertMatchesSchema('libpod', 'NetworkDeleteLibpod', 200, rm.json());
      expect(rm.json()).to.deep.equal([{ Name: 'lp1' }]);
      expect((await req('DELETE', '/libpod/networks/lp1')).status).to.equal(404);
    });

    it('IPv6 and internal networks; prune answers per network', async () => {
      const v6 = await req('POST', '/libpod/networks/create', { name: 'six', ipv6_enabled: true, internal: true });
      expect(v6.status).to.equal(200);
      const subnets = v6.json().subnets as Array<{ subnet: string }>;
      expect(subnets.map((s) => s.subnet.includes(':'))).to.deep.equal([false, true]);
      expect(v6.json()).to.include({ ipv6_enabled: true, internal: true });
      const pr = await req('POST', '/libpod/networks/prune');
      assertMatchesSchema('libpod', 'NetworkPruneLibpod', 200, pr.json());
      expect(pr.json()).to.deep.equal([{ Name: 'six' }]);
      expect((await req('POST', '/libpod/networks/prune', undefined)).json()).to.deep.equal([]);
    });
  });

  describe('clients', () => {
    const docker = (...args: string[]) => cli('/usr/local/bin/docker', args, { DOCKER_HOST: `unix://${svc.socketPath}`, DOCKER_CONFIG: join(svc.dir, 'docker-config') });
    const podman = (...args: string[]) => cli('podman', ['--remote', '--url', `unix://${svc.socketPath}`, ...args]);

    it('docker network create / ls / inspect / rm / prune', function () {
      if (!existsSync('/usr/local/bin/docker')) this.skip();
      const c = docker('network', 'create', '--label', 'cli=docker', '--subnet', '10.233.0.0/24', 'dnet');
      expect(c.status, c.stderr).to.equal(0);
      expect(c.stdout.trim()).to.match(/^[0-9a-f]{64}$/);
      const ls = docker('network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}');
      expect(ls.stdout.trim().split('\n').sort()).to.deep.equal(['bridge bridge local', 'dnet bridge local']);
      const inspect = JSON.parse(docker('network', 'inspect', 'dnet').stdout);
      expect(inspect[0]).to.deep.include({ Name: 'dnet', Labels: { cli: 'docker' } });
      expect(inspect[0].IPAM.Config).to.deep.equal([{ Subnet: '10.233.0.0/24', Gateway: '10.233.0.1' }]);
      expect(docker('network', 'inspect', '--format', '{{.Name}}', 'bridge').stdout.trim()).to.equal('bridge');
      const dup = docker('network', 'create', 'dnet');
      expect(dup.status).to.not.equal(0);
      expect(dup.stderr).to.contain('already');
      expect(docker('network', 'rm', 'dnet').stdout.trim()).to.equal('dnet');
      expect(docker('network', 'rm', 'dnet').status).to.not.equal(0);
      docker('network', 'create', 'dprune');
      const pr = docker('network', 'prune', '-f');
      expect(pr.status, pr.stderr).to.equal(0);
      expect(pr.stdout).to.contain('dprune');
      expect(docker('network', 'ls', '-q').stdout.trim().split('\n')).to.have.length(1);
    });

    it('podman --remote network create / ls / inspect / rm', function () {
      const c = podman('network', 'create', '--subnet', '10.234.0.0/24', '--label', 'cli=podman', 'pnet');
      expect(c.status, c.stderr).to.equal(0);
      expect(c.stdout.trim()).to.equal('pnet');
      const ls = podman('network', 'ls', '--format', '{{.Name}} {{.Driver}}');
      expect(ls.stdout.trim().split('\n').sort()).to.deep.equal(['pnet bridge', 'podman bridge']);
      const inspect = JSON.parse(podman('network', 'inspect', 'pnet').stdout);
      expect(inspect[0]).to.deep.include({ name: 'pnet', dns_enabled: true });
      expect(inspect[0].subnets[0]).to.deep.include({ subnet: '10.234.0.0/24', gateway: '10.234.0.1' });
      expect(podman('network', 'exists', 'pnet').status).to.equal(0);
      expect(podman('network', 'rm', 'pnet').stdout.trim()).to.equal('pnet');
      expect(podman('network', 'exists', 'pnet').status).to.equal(1);
    });
  });
});

describe('networks API: two services with different roots', function () {
  this.timeout(60_000);
  let a: TestService;
  let b: TestService;

  before(async () => {
    [a, b] = await Promise.all([TestService.start(), TestService.start()]);
  });

  after(async () => {
    for (const s of [a, b]) {
      await s.request('DELETE', '/libpod/networks/shared').catch(() => {});
      await s.cleanup();
    }
  });

  it('keep their default and same-named networks apart (subnets, bridges, IDs) and refuse each other\'s subnets', async () => {
    const def = async (s: TestService) => (await s.request('GET', '/libpod/networks/podman/json')).json();
    const [da, db] = await Promise.all([def(a), def(b)]);
    expect(da.id).to.not.equal(db.id);
    expect(da.subnets[0].subnet).to.not.equal(db.subnets[0].subnet);
    expect(da.network_interface).to.not.equal(db.network_interface);
    const [sa, sb] = await Promise.all([a, b].map((s) => s.request('POST', '/libpod/networks/create', { body: { name: 'shared', dns_enabled: true } })));
    expect(sa!.status).to.equal(200);
    expect(sb!.status).to.equal(200);
    expect(sa!.json().subnets[0].subnet).to.not.equal(sb!.json().subnets[0].subnet);
    expect(sa!.json().network_interface).to.not.equal(sb!.json().network_interface);
    const clash = await b.request('POST', '/networks/create', { body: { Name: 'mine', IPAM: { Config: [{ Subnet: sa!.json().subnets[0].subnet }] } } });
    expect(clash.status).to.equal(409);
    expect(clash.json().message).to.contain('another tspod\'s network "shared"');
  });
});
