// Pure parts of the networks domain: address math, port bindings, filters, and network
// definitions built from create options against what is taken.
import { expect } from 'chai';
import { buildNetwork, type BuildContext } from '../../engine/networks/create.js';
import { compileNetworkFilters } from '../../engine/networks/filters.js';
import { enclosingCidr, formatAddr, formatCidr, hostRange, normalizeAddr, normalizeMac, nthSubnet, overlaps, parseAddr, parseCidr } from '../../engine/networks/ip.js';
import { parsePortKey, portRequestsFromDocker, toDockerPorts } from '../../engine/networks/ports.js';
import { networksFromDocker, networksFromLibpod } from '../../engine/networks/requests.js';
import { toDockerEndpoint } from '../../handlers/convert/networks.js';
import type { NetworkConfig } from '../../engine/networks/types.js';
import { EngineError } from '../../engine/errors.js';

describe('networks: addresses', () => {
  it('parses and formats IPv4 and IPv6 (RFC 5952)', () => {
    expect(normalizeAddr('10.88.0.1')).to.equal('10.88.0.1');
    expect(normalizeAddr('fd00:0:0:0:0:0:0:1')).to.equal('fd00::1');
    expect(normalizeAddr('2001:db8:0:0:1:0:0:1')).to.equal('2001:db8::1:0:0:1');
    expect(normalizeAddr('::')).to.equal('::');
    expect(normalizeAddr('1::')).to.equal('1::');
    expect(normalizeAddr('10.88.0.256')).to.equal(undefined);
    expect(normalizeAddr('::ffff:1.2.3.4')).to.equal(undefined);
  });

  it('does subnet math', () => {
    const c = parseCidr('10.89.3.0/24', true)!;
    expect(formatCidr(c)).to.equal('10.89.3.0/24');
    expect(parseCidr('10.89.3.7/24', true)).to.equal(undefined);
    expect(formatCidr(parseCidr('10.89.3.7/24')!)).to.equal('10.89.3.0/24');
    const r = hostRange(c);
    expect(formatAddr({ family: 4, value: r.first })).to.equal('10.89.3.1');
    expect(formatAddr({ family: 4, value: r.last })).to.equal('10.89.3.254');
    expect(overlaps(c, parseCidr('10.89.0.0/16')!)).to.equal(true);
    expect(overlaps(c, parseCidr('10.89.4.0/24')!)).to.equal(false);
    expect(overlaps(c, parseCidr('fd00::/8')!)).to.equal(false);
    expect(formatCidr(nthSubnet(parseCidr('10.128.0.0/9')!, 24, 32767n)!)).to.equal('10.255.255.0/24');
    expect(formatCidr(enclosingCidr(parseAddr('10.1.5.1')!, parseAddr('10.1.5.254')!)!)).to.equal('10.1.5.0/24');
    expect(normalizeMac('02-42-AC-11-00-02')).to.equal('02:42:ac:11:00:02');
    expect(normalizeMac('02:42:ac:11:00')).to.equal(undefined);
  });
});

describe('networks: ports', () => {
  it('parses port keys and Docker bindings', () => {
    expect(parsePortKey('80')).to.deep.equal({ port: 80, end: 80, protocol: 'tcp' });
    expect(parsePortKey('53/udp')).to.deep.equal({ port: 53, end: 53, protocol: 'udp' });
    expect(() => parsePortKey('70000/tcp')).to.throw(EngineError);
    const reqs = portRequestsFromDocker(
      { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '53/udp': [{ HostPort: '' }], '7000-7001/tcp': [{ HostPort: '9000-9001' }] },
      ['80/tcp', '443/tcp', '53/udp'],
      true,
    );
    expect(reqs).to.deep.equal([
      { containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1', hostPort: 8080, range: 1 },
      { containerPort: 53, protocol: 'udp', hostIP: '', hostPort: 0, range: 1 },
      { containerPort: 7000, protocol: 'tcp', hostIP: '', hostPort: 9000, range: 2 },
      { containerPort: 443, protocol: 'tcp', hostIP: '', hostPort: 0, range: 1 },
    ]);
    expect(() => portRequestsFromDocker({ '80/tcp': [{ HostPort: 'x' }] })).to.throw(EngineError);
  });

  it('shows published ports as NetworkSettings.Ports', () => {
    expect(toDockerPorts([{ containerPort: 7000, protocol: 'tcp', hostIP: '', hostPort: 9000, range: 2 }], ['80/tcp'])).to.deep.equal({
      '80/tcp': null,
      '7000/tcp': [{ HostIp: '0.0.0.0', HostPort: '9000' }],
      '7001/tcp': [{ HostIp: '0.0.0.0', HostPort: '9001' }],
    });
  });
});

describe('networks: filters', () => {
  const n = (name: string, labels?: Record<string, string>): NetworkConfig => ({
    name, id: 'ab'.repeat(32), driver: 'bridge', network_interface: 'tspod1', created: '2024-01-02T03:04:05.123456789Z', subnets: [], ipv6_enabled: false, internal: false, dns_enabled: true, ipam_options: {}, labels,
  });
  const subject = (name: string, labels?: Record<string, string>, inUse = false) => ({ network: n(name, labels), isDefault: name === 'podman', inUse, shownName: name });

  it('matches name, id, label, label!, dangling, type and until', () => {
    expect(compileNetworkFilters({ name: ['^app'] }, 'list')(subject('app_default'))).to.equal(true);
    expect(compileNetworkFilters({ name: ['^app'] }, 'list')(subject('web'))).to.equal(false);
    expect(compileNetworkFilters({ id: ['abab'] }, 'list')(subject('x'))).to.equal(true);
    expect(compileNetworkFilters({ label: ['a=b', 'c'] }, 'list')(subject('x', { a: 'b', c: '' }))).to.equal(true);
    expect(compileNetworkFilters({ label: ['a=c'] }, 'list')(subject('x', { a: 'b' }))).to.equal(false);
    expect(compileNetworkFilters({ 'label!': ['a'] }, 'list')(subject('x', { a: 'b' }))).to.equal(false);
    expect(compileNetworkFilters({ dangling: ['true'] }, 'list')(subject('x', {}, true))).to.equal(false);
    expect(compileNetworkFilters({ type: ['builtin'] }, 'list')(subject('podman'))).to.equal(true);
    expect(compileNetworkFilters({ type: ['custom'] }, 'list')(subject('podman'))).to.equal(false);
    expect(compileNetworkFilters({ until: ['2024-01-02T03:04:06Z'] }, 'prune')(subject('x'))).to.equal(true);
    expect(compileNetworkFilters({ until: ['2024-01-02T03:04:05Z'] }, 'prune')(subject('x'))).to.equal(false);
    expect(() => compileNetworkFilters({ bogus: ['1'] }, 'list')).to.throw(EngineError, 'invalid filter');
    expect(() => compileNetworkFilters({ name: ['x'] }, 'prune')).to.throw(EngineError);
  });
});

describe('networks: definitions from create options', () => {
  const ctx = (over: Partial<BuildContext> = {}): BuildContext => ({
    occupancy: {
      holders: [{ what: 'network "taken"', subnets: [parseCidr('10.255.255.0/24')!], bridge: 'tspod0' }],
      host: { links: new Set(['lo', 'eth0', 'tspod1']), used: [{ cidr: parseCidr('192.0.2.0/24')!, dev: 'eth0' }, { cidr: parseCidr('10.255.254.0/24')!, dev: 'br9' }] },
    },
    pools: [{ base: '10.89.0.0/16', size: 24 }, { base: '10.128.0.0/9', size: 24 }],
    takenNames: new Set(['taken']),
    ...over,
  });

  it('picks the highest free pool subnet and the first free bridge name', () => {
    const n = buildNetwork({ name: 'a' }, ctx());
    expect(n.subnets).to.deep.equal([{ subnet: '10.255.253.0/24', gateway: '10.255.253.1' }]);
    expect(n.network_interface).to.equal('tspod2');
    expect(n.id).to.match(/^[0-9a-f]{64}$/);
    expect(n).to.include({ driver: 'bridge', ipv6_enabled: false, internal: false, dns_enabled: false });
    expect(n.ipam_options).to.deep.equal({ driver: 'host-local' });
  });

  it('tries the preferred subnet first (the default network)', () => {
    expect(buildNetwork({ name: 'podman' }, ctx({ preferredSubnet: '10.88.0.0/16', isDefault: true })).subnets[0]!.subnet).to.equal('10.88.0.0/16');
  });

  it('refuses overlapping subnets naming what holds them', () => {
    expect(() => buildNetwork({ name: 'a', subnets: [{ subnet: '10.255.0.0/16' }] }, ctx())).to.throw(EngineError, 'overlaps with network "taken" (10.255.255.0/24)');
    expect(() => buildNetwork({ name: 'a', subnets: [{ subnet: '192.0.2.128/25' }] }, ctx())).to.throw(EngineError, 'the host (192.0.2.0/24 on eth0)');
    expect(() => buildNetwork({ name: 'a', subnets: [{ subnet: '10.1.0.0/16' }, { subnet: '10.1.2.0/24' }] }, ctx())).to.throw(EngineError, 'another subnet of the same network');
  });

  it('validates subnets, gateways, ranges, options, names and drivers', () => {
    const n = buildNetwork(
      { name: 'a', subnets: [{ subnet: '10.7.0.0/16', gateway: '10.7.0.254', ipRange: '10.7.5.0/24' }], options: { 'com.docker.network.driver.mtu': '1400', 'com.docker.network.bridge.name': 'mybr0', 'com.docker.network.bridge.enable_icc': 'true' }, ipv6: true },
      ctx(),
    );
    expect(n.subnets[0]).to.deep.equal({ subnet: '10.7.0.0/16', gateway: '10.7.0.254', lease_range: { start_ip: '10.7.5.0', end_ip: '10.7.5.255' } });
    expect(n.subnets[1]!.subnet).to.match(/^fd[0-9a-f]{2}:[0-9a-f:]+::\/64$/);
    expect(n.ipv6_enabled).to.equal(true);
    expect(n.options).to.deep.equal({ mtu: '1400' });
    expect(n.network_interface).to.equal('mybr0');
    const bad = (o: Parameters<typeof buildNetwork>[0]) => expect(() => buildNetwork(o, ctx())).to.throw(EngineError);
    bad({ name: 'a', subnets: [{ subnet: '10.7.0.1/16' }] });
    bad({ name: 'a', subnets: [{ subnet: '10.7.0.0/16', gateway: '10.8.0.1' }] });
    bad({ name: 'a', subnets: [{ subnet: 'nonsense' }] });
    bad({ name: 'a', options: { bogus: '1' } });
    bad({ name: 'a', options: { mtu: 'x' } });
    bad({ name: 'a', driver: 'macvlan' });
    bad({ name: 'bad name' });
    bad({ name: 'host' });
    bad({ name: 'a', networkInterface: 'tspod1' });
    bad({ name: 'a', networkInterface: 'tspod0' });
    bad({ name: 'a', networkInterface: 'a-very-long-bridge-name' });
  });
});

describe('networks: container create bodies', () => {
  it('Docker NetworkMode and EndpointsConfig', () => {
    expect(networksFromDocker('default', {})).to.deep.equal({ mode: 'bridge', networks: { bridge: {} } });
    expect(networksFromDocker('', undefined)).to.deep.equal({ mode: 'bridge', networks: { bridge: {} } });
    expect(networksFromDocker('host', {})).to.deep.equal({ mode: 'host', networks: {} });
    expect(networksFromDocker('none', null)).to.deep.equal({ mode: 'none', networks: {} });
    expect(networksFromDocker('container:abc', {})).to.deep.equal({ mode: { container: 'abc' }, networks: {} });
    expect(networksFromDocker('ns:/run/netns/x', {})).to.deep.equal({ mode: { ns: '/run/netns/x' }, networks: {} });
    // docker-compose: the project network is both the mode and an endpoint with aliases.
    expect(networksFromDocker('app_default', { app_default: { Aliases: ['web', 'abc123'], IPAMConfig: { IPv4Address: '10.1.0.5' }, MacAddress: '02:00:00:00:00:01' } })).to.deep.equal({
      mode: 'bridge',
      networks: { app_default: { aliases: ['web', 'abc123'], staticIPs: ['10.1.0.5'], staticMac: '02:00:00:00:00:01' } },
    });
    expect(networksFromDocker('front', { back: {} })).to.deep.equal({ mode: 'bridge', networks: { front: {}, back: {} } });
  });

  it('Libpod netns and Networks', () => {
    expect(networksFromLibpod({ nsmode: 'bridge' }, { mynet: { aliases: ['a'], static_ips: ['10.2.0.9'], interface_name: 'eth5' } })).to.deep.equal({
      mode: 'bridge',
      networks: { mynet: { aliases: ['a'], staticIPs: ['10.2.0.9'], interfaceName: 'eth5' } },
    });
    expect(networksFromLibpod(undefined, undefined)).to.deep.equal({ mode: 'bridge', networks: {} });
    expect(networksFromLibpod({ nsmode: 'path', value: '/x' }, {})).to.deep.equal({ mode: { ns: '/x' }, networks: {} });
    expect(() => networksFromLibpod({ nsmode: 'slirp4netns' }, {})).to.throw(EngineError);
  });

  it('an attachment as Docker EndpointSettings', () => {
    const e = toDockerEndpoint(
      {
        networkId: 'n'.repeat(64), networkName: 'apps', interfaceName: 'eth0', macAddress: '02:00:00:00:00:01', aliases: ['web'], staticIPs: ['10.1.0.5'], staticMac: '',
        addresses: [{ address: '10.1.0.5', prefixLength: 24, gateway: '10.1.0.1', family: 4 }, { address: 'fd00::5', prefixLength: 64, gateway: 'fd00::1', family: 6 }],
      },
      'c'.repeat(64),
    );
    expect(e).to.deep.include({ IPAddress: '10.1.0.5', IPPrefixLen: 24, Gateway: '10.1.0.1', GlobalIPv6Address: 'fd00::5', GlobalIPv6PrefixLen: 64, IPv6Gateway: 'fd00::1', MacAddress: '02:00:00:00:00:01', IPAMConfig: { IPv4Address: '10.1.0.5' }, Aliases: ['web'] });
    expect(e.EndpointID).to.match(/^[0-9a-f]{64}$/);
  });
});
