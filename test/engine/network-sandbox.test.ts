// The networks domain against the real host: namespaces made by tspod for two "containers"
// (no runc: processes run in the namespaces with nsenter), netavark setup on a DNS-enabled user
// network, traffic between them by address, names and aliases answered by aardvark-dns, a
// published TCP port reached from the host on 127.0.0.1, connect/disconnect of a running
// container, teardown from another process's view (a fresh domain on the same directories),
// two instances with different roots side by side, and after each: no namespace, veth, bridge,
// firewall rule or aardvark-dns entry left. Traffic stays on loopback and inside the namespaces.
import { expect } from 'chai';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { EngineError } from '../../engine/errors.js';
import { createNetworksDomain, type NetworksDomain } from '../../engine/networks/index.js';
import { toDockerNetwork, toLibpodNetworkInspect } from '../../handlers/convert/networks.js';
import { assertMatchesSchema } from '../helpers/schema.js';
import { BUSYBOX, chainHash, inNetns, leftovers, newId, spawnInNetns, testContext, vethsOnBridge } from '../helpers/network-host.js';

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = get({ host: '127.0.0.1', port, path: '/index.html', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
  });
}

async function retry<T>(fn: () => Promise<T>, tries = 20): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= tries) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('networks engine: container namespaces with netavark', function () {
  this.timeout(60_000);
  const ctx = testContext();
  let net: NetworksDomain;
  const alpha = { id: newId(), name: 'alpha' };
  const beta = { id: newId(), name: 'beta' };
  const needles: string[] = [];

  before(async () => {
    net = createNetworksDomain(ctx);
  });

  after(async () => {
    await net.teardownContainerNetwork(alpha.id).catch(() => {});
    await net.teardownContainerNetwork(beta.id).catch(() => {});
    for (const n of await net.store.list()) await net.registry.remove(n);
    rmSync(ctx.dir, { recursive: true, force: true });
  });

  it('sets up two containers on a DNS network: address, names, aliases, a published port, inspect', async () => {
    const { network } = await net.networkCreate({ name: 'apps', dnsEnabled: true, labels: { t: 'sandbox' } });
    needles.push(network.subnets[0]!.subnet, network.network_interface, chainHash(network.id), alpha.id, beta.id);
    const a = await net.setupContainerNetwork({
      containerId: alpha.id,
      name: alpha.name,
      mode: 'bridge',
      networks: { apps: { aliases: ['web'] } },
      portMappings: [{ containerPort: 8080, protocol: 'tcp', hostIP: '', hostPort: 0 }],
    });
    const b = await net.setupContainerNetwork({ containerId: beta.id, name: beta.name, mode: 'bridge', networks: { apps: { aliases: ['bee'], staticMac: '02:42:ac:11:00:42' } } });
    expect(a.netnsPath).to.equal(join(ctx.runroot, 'netns', alpha.id));
    const aAddr = a.status.apps!.addresses[0]!;
    const bAddr = b.status.apps!.addresses[0]!;
    needles.push(aAddr.address, bAddr.address);
    expect(aAddr.gateway).to.equal(network.subnets[0]!.gateway);
    expect(aAddr.address).to.not.equal(bAddr.address);
    expect(b.status.apps!.macAddress).to.equal('02:42:ac:11:00:42');
    expect(a.status.apps!.interfaceName).to.equal('eth0');
    expect(a.resolvConf).to.deep.equal({ nameservers: [aAddr.gateway], search: ['dns.podman'], useHost: false });
    expect(a.hostsEntries).to.deep.include({ ip: aAddr.address, names: ['alpha'] });
    expect(a.ports).to.have.length(1);
    const hostPort = a.ports[0]!.hostPort;
    expect(hostPort).to.be.within(1024, 65535);

    // Inside the namespaces: loopback up, eth0 with the address.
    expect(await inNetns(a.netnsPath, ['ip', '-br', 'addr'])).to.match(new RegExp(`eth0.*${aAddr.address.replace(/\./g, '\\.')}/`)).and.match(/^lo\s+UNKNOWN/m);

    // beta reaches alpha by address; aardvark-dns answers names and aliases.
    await inNetns(b.netnsPath, [BUSYBOX, 'ping', '-c', '1', '-W', '3', aAddr.address]);
    const lookup = async (ns: string, name: string) => inNetns(ns, [BUSYBOX, 'nslookup', name, aAddr.gateway]);
    expect(await retry(() => lookup(b.netnsPath, 'alpha'))).to.contain(aAddr.address);
    expect(await lookup(b.netnsPath, 'web')).to.contain(aAddr.address);
    expect(await lookup(a.netnsPath, 'bee.dns.podman')).to.contain(bAddr.address);
    const aardvark = join(ctx.runroot, 'networks', 'aardvark-dns', network.id);
    expect(existsSync(aardvark)).to.equal(true);

    // A server in alpha's namespace, reached from the host through the published port.
    const www = join(ctx.dir, 'www');
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, 'index.html'), 'hello from alpha\n');
    const httpd = spawnInNetns(a.netnsPath, [BUSYBOX, 'httpd', '-f', '-p', '8080', '-h', www]);
    try {
      expect(await retry(() => httpGet(hostPort))).to.equal('hello from alpha\n');
    } finally {
      httpd.kill('SIGKILL');
    }

    // Inspect shows both containers, in both API shapes.
    const report = await net.networkInspect('apps');
    expect(report.containers.map((c) => c.name).sort()).to.deep.equal(['alpha', 'beta']);
    const docker = toDockerNetwork(report);
    assertMatchesSchema('docker', 'NetworkInspect', 200, docker);
    expect(docker.Containers[alpha.id]).to.include({ Name: 'alpha', IPv4Address: `${aAddr.address}/${aAddr.prefixLength}` });
    const libpod = toLibpodNetworkInspect(report);
    expect(libpod.containers[beta.id]!.interfaces.eth0!.mac_address).to.equal('02:42:ac:11:00:42');
  });

  it('refuses a static IP that is taken or outside the network, and a host port in use, leaving nothing', async () => {
    const taken = (await net.containerNetworkStatus(alpha.id))!.status.apps!.addresses[0]!.address;
    const id = newId();
    const e1 = await net.setupContainerNetwork({ containerId: id, name: 'gamma', mode: 'bridge', networks: { apps: { staticIPs: [taken] } } }).catch((e: EngineError) => e);
    expect(e1).to.be.instanceOf(EngineError).and.have.property('message').that.contains(`${taken} is already allocated`);
    const e2 = await net.setupContainerNetwork({ containerId: id, name: 'gamma', mode: 'bridge', networks: { apps: { staticIPs: ['192.0.2.77'] } } }).catch((e: EngineError) => e);
    expect((e2 as EngineError).kind).to.equal('invalid-argument');
    const used = (await net.containerNetworkStatus(alpha.id))!.ports[0]!.hostPort;
    const e3 = await net.setupContainerNetwork({ containerId: id, name: 'gamma', mode: 'bridge', portMappings: [{ containerPort: 80, protocol: 'tcp', hostIP: '', hostPort: used }] }).catch((e: EngineError) => e);
    expect((e3 as EngineError).message).to.contain(`host port ${used}/tcp`);
    const e4 = await net.setupContainerNetwork({ containerId: id, name: 'gamma', mode: 'bridge', networks: { nosuch: {} } }).catch((e: EngineError) => e);
    expect((e4 as EngineError).kind).to.equal('not-found');
    expect(existsSync(join(ctx.runroot, 'netns', id))).to.equal(false);
    expect(await net.containerNetworkStatus(id)).to.equal(undefined);
  });

  it('connects and disconnects a running container, with a static IP and an alias', async () => {
    const { network } = await net.networkCreate({ name: 'backend', dnsEnabled: true, subnets: [{ subnet: '10.254.77.0/24' }] });
    needles.push('10.254.77.0/24', network.network_interface, chainHash(network.id));
    await net.networkConnect('backend', { container: 'beta', staticIPs: ['10.254.77.9'], aliases: ['db'] });
    const st = (await net.containerNetworkStatus(beta.id))!;
    expect(st.status.backend!.addresses[0]!.address).to.equal('10.254.77.9');
    expect(st.status.backend!.interfaceName).to.equal('eth1');
    expect(await inNetns(st.netnsPath, ['ip', '-br', 'addr'])).to.match(/eth1.*10\.254\.77\.9\/24/);
    expect(await retry(() => inNetns(st.netnsPath, [BUSYBOX, 'nslookup', 'db', '10.254.77.1']))).to.contain('10.254.77.9');
    const inUse = await net.networkRemove('backend').catch((e: EngineError) => e);
    expect((inUse as EngineError).kind).to.equal('conflict');
    await net.networkDisconnect('backend', { container: beta.id });
    expect((await net.containerNetworkStatus(beta.id))!.status.backend).to.equal(undefined);
    expect(await inNetns(st.netnsPath, ['ip', '-br', 'addr'])).to.not.contain('eth1');
    expect(await vethsOnBridge(network.network_interface)).to.deep.equal([]);
    await net.networkRemove('backend');
  });

  it('tears down from a fresh domain on the same directories (a cleanup process), idempotently, leaving nothing', async () => {
    const other = createNetworksDomain(ctx);
    await other.teardownContainerNetwork(alpha.id);
    await other.teardownContainerNetwork(beta.id);
    await other.teardownContainerNetwork(beta.id);
    await other.teardownContainerNetwork(newId());
    expect(readdirSync(join(ctx.runroot, 'netns'))).to.deep.equal([]);
    expect(await leftovers(needles, [ctx.runroot])).to.deep.equal([]);
    const apps = await net.store.get('apps');
    expect(existsSync(join(ctx.runroot, 'networks', 'aardvark-dns', apps.id))).to.equal(false);
  });

  it('publishes UDP ports and -P ports (free host ports for the exposed ones)', async () => {
    const id = newId();
    const r = await net.setupContainerNetwork({
      containerId: id,
      name: 'udp',
      mode: 'bridge',
      portMappings: [{ containerPort: 5353, protocol: 'udp', hostIP: '127.0.0.1', hostPort: 0 }],
      publishAll: true,
      exposedPorts: ['80/tcp', '5353/udp'],
    });
    try {
      expect(r.ports.map((p) => `${p.containerPort}/${p.protocol}`)).to.deep.equal(['5353/udp', '80/tcp']);
      const udp = r.ports[0]!;
      expect(udp.hostIP).to.equal('127.0.0.1');
      const got = join(ctx.dir, 'udp.out');
      // Debian's busybox nc has no -u: a small Node UDP server in the namespace instead.
      const script = `require('dgram').createSocket('udp4').on('message', (m) => require('fs').appendFileSync(${JSON.stringify(got)}, m)).bind(5353)`;
      writeFileSync(got, '');
      const server = spawnInNetns(r.netnsPath, [process.execPath, '-e', script]);
      try {
        const sock = createSocket('udp4');
        await retry(async () => {
          await new Promise<void>((res, rej) => sock.send('ping-udp\n', udp.hostPort, '127.0.0.1', (e) => (e ? rej(e) : res())));
          await new Promise((res) => setTimeout(res, 50));
          if (!readFileSync(got, 'utf8').includes('ping-udp')) throw new Error('not received yet');
        });
        sock.close();
      } finally {
        server.kill('SIGKILL');
      }
    } finally {
      await net.teardownContainerNetwork(id);
    }
    expect(await leftovers([r.status.podman!.addresses[0]!.address, id])).to.deep.equal([]);
  });

  it('a netavark failure halfway through setup leaves nothing, and a retry works', async () => {
    // A netavark that does the setup, then fails: as if it died after creating the interfaces.
    const bin = join(ctx.dir, 'failing-bin');
    mkdirSync(bin, { recursive: true });
    const marker = join(bin, 'fail-once');
    writeFileSync(marker, '');
    writeFileSync(
      join(bin, 'netavark'),
      `#!/bin/sh\nout=$(/usr/lib/podman/netavark "$@") || { echo "$out"; exit 1; }\nif [ -e ${marker} ]; then rm ${marker}; echo '{"error":"injected failure"}'; exit 1; fi\necho "$out"\n`,
      { mode: 0o755 },
    );
    const failing = createNetworksDomain({ ...ctx, conf: { ...ctx.conf, engine: { helperBinariesDir: [bin, '/usr/lib/podman'] } } });
    const id = newId();
    const opts = { containerId: id, name: 'flaky', mode: 'bridge' as const, networks: { apps: { aliases: ['flaky-alias'] } }, portMappings: [{ containerPort: 80, protocol: 'tcp' as const, hostIP: '', hostPort: 0 }] };
    const err = await failing.setupContainerNetwork(opts).catch((e: EngineError) => e);
    expect(err).to.be.instanceOf(EngineError).with.property('message').that.contains('injected failure');
    expect(existsSync(join(ctx.runroot, 'netns', id))).to.equal(false);
    expect(await leftovers([id], [join(ctx.runroot, 'netns')])).to.deep.equal([]);
    const apps = await net.store.get('apps');
    expect(await vethsOnBridge(apps.network_interface)).to.deep.equal([]);
    const ok = await failing.setupContainerNetwork(opts);
    expect(ok.status.apps!.addresses).to.have.length(1);
    await failing.teardownContainerNetwork(id);
    expect(await leftovers([id, ok.status.apps!.addresses[0]!.address, apps.network_interface], [join(ctx.runroot, 'netns')])).to.deep.equal([]);
  });

  it('dual-stack networks: an IPv4 and an IPv6 address each, static IPv6, names answered for both', async () => {
    const { network } = await net.networkCreate({ name: 'dual', ipv6: true, dnsEnabled: true });
    const v6net = network.subnets.find((s) => s.subnet.includes(':'))!;
    const ids = [newId(), newId()];
    const wanted = v6net.subnet.replace('::/64', '::99');
    try {
      const a = await net.setupContainerNetwork({ containerId: ids[0]!, name: 'six-a', mode: 'bridge', networks: { dual: {} } });
      const b = await net.setupContainerNetwork({ containerId: ids[1]!, name: 'six-b', mode: 'bridge', networks: { dual: { staticIPs: [wanted] } } });
      expect(a.status.dual!.addresses.map((x) => x.family)).to.deep.equal([4, 6]);
      expect(b.status.dual!.addresses[1]!.address).to.equal(wanted);
      const a6 = a.status.dual!.addresses[1]!.address;
      await retry(() => inNetns(b.netnsPath, [BUSYBOX, 'ping', '-6', '-c', '1', '-W', '2', a6]), 30);
      expect(await retry(() => inNetns(b.netnsPath, [BUSYBOX, 'nslookup', 'six-a', network.subnets[0]!.gateway!]))).to.contain(a6);
    } finally {
      for (const id of ids) await net.teardownContainerNetwork(id);
    }
    expect(await leftovers([...ids, chainHash(network.id), network.network_interface, v6net.subnet.replace('::/64', '::')])).to.deep.equal([]);
    await net.networkRemove('dual');
  });

  it('hands out the namespace before netavark is done (namespaceReady), then completes the setup in it', async () => {
    const id = newId();
    const record = join(ctx.runroot, 'networks', 'sandboxes', `${id}.json`);
    let atReady: { path: string; mounted: boolean; ready: boolean } | undefined;
    const r = await net.setupContainerNetwork(
      { containerId: id, name: 'staged', mode: 'bridge' },
      {
        namespaceReady: (path) => {
          const mounted = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === path);
          atReady = { path, mounted, ready: (JSON.parse(readFileSync(record, 'utf8')) as { ready: boolean }).ready };
        },
      },
    );
    try {
      // The namespace existed (a mount) and nothing was attached yet; the recorded setup came first.
      expect(atReady).to.deep.equal({ path: r.netnsPath, mounted: true, ready: false });
      expect(await inNetns(r.netnsPath, ['ip', '-br', 'link'])).to.contain('eth0');
    } finally {
      await net.teardownContainerNetwork(id);
    }
    expect(await leftovers([id, r.status.podman!.addresses[0]!.address], [join(ctx.runroot, 'netns')])).to.deep.equal([]);
  });

  it('lets a network nobody can see linger after the exit (the bridge stays up for the next container), and tears it down on demand', async () => {
    const [a, b, p] = [newId(), newId(), newId()];
    const ra = await net.setupContainerNetwork({ containerId: a, name: 'linger-a', mode: 'bridge' });
    const bridge = (await net.resolveNetwork('bridge')).network_interface;
    const lingering = net.teardownContainerNetwork(a, { lingerMs: 600_000 });
    // Gone for whoever asks at once, still on the bridge.
    await retry(async () => {
      if (await net.containerNetworkStatus(a)) throw new Error('still ready');
    });
    expect((await net.networkInspect('podman')).containers.map((c) => c.id)).to.not.include(a);
    expect(await net.containersWithNetwork()).to.include(a);
    expect(await vethsOnBridge(bridge)).to.have.length(1);
    // The next container joins the bridge that is still up.
    const rb = await net.setupContainerNetwork({ containerId: b, name: 'linger-b', mode: 'bridge' });
    expect(await vethsOnBridge(bridge)).to.have.length(2);
    // Published ports (like DNS names and static addresses) never linger: torn down before the promise resolves.
    const rp = await net.setupContainerNetwork({ containerId: p, name: 'linger-p', mode: 'bridge', portMappings: [{ containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1', hostPort: 0 }] });
    await net.teardownContainerNetwork(p, { lingerMs: 600_000 });
    expect(existsSync(rp.netnsPath)).to.equal(false);
    // settleTeardowns starts the lingering one now.
    await net.settleTeardowns();
    await lingering;
    expect(existsSync(ra.netnsPath)).to.equal(false);
    expect(await net.containersWithNetwork()).to.not.include(a);
    await net.teardownContainerNetwork(b);
    expect(await leftovers([a, b, p, ra.status.podman!.addresses[0]!.address, rb.status.podman!.addresses[0]!.address, bridge], [join(ctx.runroot, 'netns')])).to.deep.equal([]);
  });

  it('none, host, container and ns modes', async () => {
    const n = await net.setupContainerNetwork({ containerId: alpha.id, name: 'alpha', mode: 'none' });
    expect(await inNetns(n.netnsPath, ['ip', '-br', 'link'])).to.match(/^lo\s+UNKNOWN/).and.not.contain('eth0');
    expect(n.resolvConf.useHost).to.equal(true);
    const joined = await net.setupContainerNetwork({ containerId: beta.id, name: 'beta', mode: { container: alpha.id } });
    expect(joined.netnsPath).to.equal(n.netnsPath);
    const hostId = newId();
    const h = await net.setupContainerNetwork({ containerId: hostId, name: 'h', mode: 'host' });
    expect(h.netnsPath).to.equal('');
    expect(h.resolvConf.useHost).to.equal(true);
    expect((await net.setupContainerNetwork({ containerId: newId(), name: 'h2', mode: { container: hostId } })).netnsPath).to.equal('');
    const noCtr = await net.setupContainerNetwork({ containerId: newId(), name: 'x', mode: { container: newId() } }).catch((e: EngineError) => e);
    expect((noCtr as EngineError).kind).to.equal('invalid-argument');
    const noNs = await net.setupContainerNetwork({ containerId: newId(), name: 'x', mode: { ns: '/nonexistent/ns' } }).catch((e: EngineError) => e);
    expect((noNs as EngineError).kind).to.equal('invalid-argument');
    const p = await net.setupContainerNetwork({ containerId: newId(), name: 'p', mode: { ns: n.netnsPath } });
    expect(p.netnsPath).to.equal(n.netnsPath);
    await net.teardownContainerNetwork(beta.id);
    expect(existsSync(n.netnsPath)).to.equal(true); // not beta's to remove
    await net.teardownContainerNetwork(alpha.id);
    expect(existsSync(n.netnsPath)).to.equal(false);
  });
});

describe('networks engine: two instances on one host', function () {
  this.timeout(60_000);
  const c1 = testContext();
  const c2 = testContext();
  const ids = [newId(), newId()];
  let n1: NetworksDomain;
  let n2: NetworksDomain;

  before(() => {
    n1 = createNetworksDomain(c1);
    n2 = createNetworksDomain(c2);
  });

  after(async () => {
    await n1.teardownContainerNetwork(ids[0]!).catch(() => {});
    await n2.teardownContainerNetwork(ids[1]!).catch(() => {});
    for (const [d, c] of [[n1, c1], [n2, c2]] as const) {
      for (const n of await d.store.list()) await d.registry.remove(n);
      rmSync(c.dir, { recursive: true, force: true });
    }
  });

  it('pick different subnets and bridges, refuse each other\'s subnets, and run side by side', async () => {
    const d1 = await n1.resolveNetwork('bridge');
    const d2 = await n2.resolveNetwork('bridge');
    expect(d1.name).to.equal('podman');
    expect(d2.name).to.equal('podman');
    expect(d1.subnets[0]!.subnet).to.not.equal(d2.subnets[0]!.subnet);
    expect(d1.network_interface).to.not.equal(d2.network_interface);
    const clash = await n2.networkCreate({ name: 'mine', subnets: [{ subnet: d1.subnets[0]!.subnet }] }).catch((e: EngineError) => e);
    expect(clash).to.be.instanceOf(EngineError).with.property('kind', 'conflict');
    expect((clash as EngineError).message).to.contain('another tspod');

    const s1 = await n1.setupContainerNetwork({ containerId: ids[0]!, name: 'same', mode: 'bridge', portMappings: [{ containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1', hostPort: 0 }] });
    const s2 = await n2.setupContainerNetwork({ containerId: ids[1]!, name: 'same', mode: 'bridge' });
    const gw1 = s1.status.podman!.addresses[0]!.gateway;
    await inNetns(s1.netnsPath, [BUSYBOX, 'ping', '-c', '1', '-W', '3', gw1]);
    // Tearing down instance 2 leaves instance 1's network working (its chains are its own).
    await n2.teardownContainerNetwork(ids[1]!);
    expect(await leftovers([s2.status.podman!.addresses[0]!.address, d2.network_interface, chainHash(d2.id)], [c2.runroot])).to.deep.equal([]);
    await inNetns(s1.netnsPath, [BUSYBOX, 'ping', '-c', '1', '-W', '3', gw1]);
    expect((await leftovers([chainHash(d1.id)])).length).to.be.greaterThan(0);
    await n1.teardownContainerNetwork(ids[0]!);
    expect(await leftovers([s1.status.podman!.addresses[0]!.address, d1.network_interface, chainHash(d1.id)], [c1.runroot])).to.deep.equal([]);
  });
});
