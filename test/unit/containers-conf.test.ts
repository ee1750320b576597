import { expect } from 'chai';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  containersConfDefaults,
  loadContainersConf,
  normalizeCapability,
  parseSize,
  type LoadContainersConfOptions,
} from '../../engine/config/containers-conf.js';
import { EngineError } from '../../engine/errors.js';

describe('containers.conf loading', () => {
  let root: string;
  let usr: string;
  let etc: string;
  let home: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'tspod-conf-'));
    usr = join(root, 'usr');
    etc = join(root, 'etc');
    home = join(root, 'home');
    for (const d of [usr, etc, home]) mkdirSync(d, { recursive: true });
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  function put(path: string, text: string): string {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
    return path;
  }

  function load(extra: Partial<LoadContainersConfOptions> & { env?: NodeJS.ProcessEnv } = {}) {
    // Rootless with a UID that has no rootless drop-ins, so the user files count.
    return loadContainersConf({ rootless: true, uid: 4242, usrDir: usr, etcDir: etc, ...extra, env: { HOME: home, ...extra.env } });
  }

  function loadError(extra: Partial<LoadContainersConfOptions> = {}): EngineError {
    try {
      load(extra);
    } catch (err) {
      expect(err).to.be.instanceOf(EngineError);
      return err as EngineError;
    }
    expect.fail('expected loadContainersConf to throw');
  }

  it('returns empty sections when no file exists', () => {
    const conf = load();
    expect(conf.files).to.deep.equal([]);
    expect(conf.engine).to.deep.equal({});
    expect(conf.containers).to.deep.equal({});
    expect(conf.network).to.deep.equal({});
  });

  it('reads the files in order, later keys overriding earlier ones, tables merged per key', () => {
    const a = put(
      join(usr, 'containers.conf'),
      '[engine]\nservice_timeout = 1\nruntime = "crun"\nconmon_path = ["/a/conmon"]\n[containers]\nlog_driver = "journald"\npids_limit = 100\n[network]\nnetwork_backend = "cni"\n',
    );
    const b = put(join(etc, 'containers.conf'), '[engine]\nservice_timeout = 2\n[network]\ndefault_network = "mynet"\n');
    const d2 = put(join(etc, 'containers.conf.d', '20-b.conf'), '[engine]\nservice_timeout = 4\n');
    const d1 = put(join(etc, 'containers.conf.d', '10-a.conf'), '[engine]\nservice_timeout = 3\nevents_logger = "file"\n');
    put(join(etc, 'containers.conf.d', 'ignored.txt'), '[engine]\nservice_timeout = 99\n');
    mkdirSync(join(etc, 'containers.conf.d', 'sub.conf'));
    const u = put(join(home, '.config', 'containers', 'containers.conf'), '[containers]\npids_limit = 7\n');
    const ud = put(join(home, '.config', 'containers', 'containers.conf.d', 'x.conf'), '[network]\ndefault_subnet = "10.99.0.0/16"\n');

    const conf = load();
    expect(conf.files).to.deep.equal([a, b, d1, d2, u, ud]);
    expect(conf.engine.serviceTimeout).to.equal(4);
    expect(conf.engine.runtime).to.equal('crun');
    expect(conf.engine.conmonPath).to.deep.equal(['/a/conmon']);
    expect(conf.engine.eventsLogger).to.equal('file');
    expect(conf.containers.logDriver).to.equal('journald');
    expect(conf.containers.pidsLimit).to.equal(7);
    expect(conf.network).to.deep.equal({ networkBackend: 'cni', defaultNetwork: 'mynet', defaultSubnet: '10.99.0.0/16' });
    expect((conf.raw.engine as Record<string, unknown>).service_timeout).to.equal(4);
  });

  it('reads the most common keys with their types', () => {
    put(
      join(etc, 'containers.conf'),
      [
        '[containers]',
        'default_capabilities = ["chown", "CAP_KILL", "net_raw"]',
        'log_driver = "k8s-file"',
        'pids_limit = -1',
        '[engine]',
        'service_timeout = 0',
        'runtime = "runc"',
        'events_logfile_path = "/tmp/events.log"',
        'events_logfile_max_size = "1m"',
        '[engine.runtimes]',
        'runc = ["/opt/runc"]',
        '[network]',
        'default_subnet_pools = [{base = "10.1.0.0/16", size = 24}]',
      ].join('\n'),
    );
    const conf = load();
    expect(conf.containers.defaultCapabilities).to.deep.equal(['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW']);
    expect(conf.containers.pidsLimit).to.equal(-1);
    expect(conf.engine.serviceTimeout).to.equal(0);
    expect(conf.engine.eventsLogFilePath).to.equal('/tmp/events.log');
    expect(conf.engine.eventsLogFileMaxSize).to.equal(1024 * 1024);
    expect(conf.engine.runtimes).to.deep.equal({ runc: ['/opt/runc'] });
    expect(conf.network.defaultSubnetPools).to.deep.equal([{ base: '10.1.0.0/16', size: 24 }]);
  });

  it('CONTAINERS_CONF names the only file; CONTAINERS_CONF_OVERRIDE is read last', () => {
    put(join(usr, 'containers.conf'), '[engine]\nruntime = "crun"\n');
    put(join(etc, 'containers.conf'), '[engine]\nservice_timeout = 2\n');
    put(join(home, '.config', 'containers', 'containers.conf'), '[containers]\npids_limit = 7\n');
    const only = put(join(root, 'only.conf'), '[engine]\nservice_timeout = 30\n[containers]\nlog_driver = "none"\n');
    const over = put(join(root, 'override.conf'), '[containers]\nlog_driver = "passthrough"\n');

    let conf = load({ env: { CONTAINERS_CONF: only } });
    expect(conf.files).to.deep.equal([only]);
    expect(conf.engine).to.deep.equal({ serviceTimeout: 30 });
    expect(conf.containers).to.deep.equal({ logDriver: 'none' });

    conf = load({ env: { CONTAINERS_CONF: only, CONTAINERS_CONF_OVERRIDE: over } });
    expect(conf.files).to.deep.equal([only, over]);
    expect(conf.containers.logDriver).to.equal('passthrough');

    conf = load({ env: { CONTAINERS_CONF_OVERRIDE: over } });
    expect(conf.files.at(-1)).to.equal(over);
    expect(conf.files).to.have.length(4);
    expect(conf.containers).to.deep.equal({ pidsLimit: 7, logDriver: 'passthrough' });

    // a missing override is skipped, a missing CONTAINERS_CONF is an error
    expect(load({ env: { CONTAINERS_CONF_OVERRIDE: join(root, 'nope.conf') } }).files).to.have.length(3);
    const err = loadError({ env: { CONTAINERS_CONF: join(root, 'nope.conf') } });
    expect(err.kind).to.equal('invalid-argument');
    expect(err.message).to.contain('CONTAINERS_CONF').and.contain('nope.conf');
  });

  it('reads user files from $XDG_CONFIG_HOME, else $HOME/.config', () => {
    const xdg = join(root, 'xdg');
    const viaHome = put(join(home, '.config', 'containers', 'containers.conf'), '[engine]\nservice_timeout = 1\n');
    const viaXdg = put(join(xdg, 'containers', 'containers.conf'), '[engine]\nservice_timeout = 2\n');
    expect(load().files).to.deep.equal([viaHome]);
    const conf = load({ env: { XDG_CONFIG_HOME: xdg } });
    expect(conf.files).to.deep.equal([viaXdg]);
    expect(conf.engine.serviceTimeout).to.equal(2);
  });

  it('reads the rootless system files only when rootless, per UID last', () => {
    const main = put(join(etc, 'containers.conf'), '[engine]\nservice_timeout = 1\n');
    const rl = put(join(etc, 'containers.rootless.conf'), '[engine]\nservice_timeout = 2\n');
    const rld = put(join(etc, 'containers.rootless.conf.d', 'a.conf'), '[engine]\nservice_timeout = 3\n');
    const rlu = put(join(etc, 'containers.rootless.conf.d', '1000', 'a.conf'), '[engine]\nservice_timeout = 4\n');
    put(join(etc, 'containers.rootless.conf.d', '1001', 'a.conf'), '[engine]\nservice_timeout = 5\n');
    const user = put(join(home, '.config', 'containers', 'containers.conf'), '[containers]\npids_limit = 1\n');

    // Root reads neither the rootless files nor the user's own.
    const rootful = load({ rootless: false });
    expect(rootful.files).to.deep.equal([main]);
    expect(rootful.engine.serviceTimeout).to.equal(1);

    const rootless = load({ rootless: true, uid: 1000 });
    expect(rootless.files).to.deep.equal([main, rl, rld, rlu, user]);
    expect(rootless.engine.serviceTimeout).to.equal(4);
  });

  it('{append = true} extends the previous value, or the built-in default', () => {
    put(join(etc, 'containers.conf'), '[containers]\ndefault_capabilities = ["NET_RAW", {append = true}]\n');
    let conf = load();
    expect(conf.containers.defaultCapabilities).to.deep.equal([
      ...containersConfDefaults.containers.defaultCapabilities,
      'CAP_NET_RAW',
    ]);

    put(join(usr, 'containers.conf'), '[containers]\ndefault_capabilities = ["CHOWN"]\ndns_servers = ["1.1.1.1"]\n');
    put(join(etc, 'containers.conf.d', 'a.conf'), '[containers]\ndns_servers = ["8.8.8.8", {append = true}]\n');
    put(join(etc, 'containers.conf.d', 'b.conf'), '[containers]\ndns_servers = ["9.9.9.9", {append = false}]\n');
    conf = load();
    expect(conf.containers.defaultCapabilities).to.deep.equal(['CAP_CHOWN', 'CAP_NET_RAW']);
    expect(conf.containers.dnsServers).to.deep.equal(['9.9.9.9']);
  });

  it('a malformed file is an invalid-argument error naming the file and line', () => {
    const bad = put(join(etc, 'containers.conf.d', '50-bad.conf'), '[engine]\nservice_timeout = 5\nruntime = = "runc"\n');
    const err = loadError();
    expect(err.kind).to.equal('invalid-argument');
    expect(err.message).to.contain(`${bad}:3`);
  });

  it('a value of the wrong type is an invalid-argument error naming file, line and key', () => {
    const bad = put(join(etc, 'containers.conf'), '# comment\n[network]\n\n[engine]\nruntime = "runc"\nservice_timeout = "soon"\n');
    let err = loadError();
    expect(err.kind).to.equal('invalid-argument');
    expect(err.message).to.contain(`${bad}:6`).and.contain('engine.service_timeout');

    put(join(etc, 'containers.conf'), '[containers]\ndefault_capabilities = "CHOWN"\n');
    err = loadError();
    expect(err.message).to.contain(`${bad}:2`).and.contain('containers.default_capabilities');

    put(join(etc, 'containers.conf'), 'engine = 3\n');
    err = loadError();
    expect(err.message).to.contain(`${bad}:1`);
  });

  it('is fast when no file exists', () => {
    const times: number[] = [];
    for (let i = 0; i < 21; i++) {
      const t0 = performance.now();
      load({ rootless: true, uid: 1000 });
      times.push(performance.now() - t0);
    }
    times.sort((x, y) => x - y);
    expect(times[10]).to.be.below(2);
  });

  it('reads the real host files', () => {
    const conf = loadContainersConf({ rootless: false, env: { HOME: home } });
    const expected = ['/usr/share/containers/containers.conf', '/etc/containers/containers.conf'].filter((f) =>
      existsSync(f),
    );
    expect(conf.files.slice(0, expected.length)).to.deep.equal(expected);
  });

  it('normalises capabilities and sizes like Podman', () => {
    expect(normalizeCapability('net_admin')).to.equal('CAP_NET_ADMIN');
    expect(normalizeCapability('CAP_KILL')).to.equal('CAP_KILL');
    expect(parseSize(4096)).to.equal(4096);
    expect(parseSize('10k')).to.equal(10240);
    expect(parseSize('1.5GiB')).to.equal(1.5 * 1024 ** 3);
    expect(parseSize('lots')).to.equal(undefined);
  });
});
