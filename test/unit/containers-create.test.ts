// Pure parts of the containers domain: create-body normalisation (Docker and Libpod), image
// defaults, option parsers, scoped path resolution, detach keys, changes and list filters.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fromDockerCreate } from '../../engine/containers/create-docker.js';
import { fromSpecGenerator } from '../../engine/containers/create-libpod.js';
import { parseBind, parseBytes, parseRestartPolicy, parseTmpfs, signalName } from '../../engine/containers/parse.js';
import { compileListFilters, selectContainers } from '../../engine/containers/report.js';
import { resolveInRoot } from '../../engine/containers/scoped-path.js';
import { buildContainerSpec, mergeEnv } from '../../engine/containers/spec.js';
import { detachFilter, parseDetachKeys } from '../../engine/containers/stdio.js';
import { initialState, type ContainerRecord } from '../../engine/containers/types.js';
import { EngineError } from '../../engine/errors.js';
import type { ResolvedImage } from '../../engine/images/types.js';

const fixture = JSON.parse(readFileSync(new URL('../../../../shared/notes/fixtures/docker28-containers-create.json', import.meta.url), 'utf8'));

function fails(fn: () => unknown, re: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(EngineError);
    expect((err as EngineError).kind).to.equal('invalid-argument');
    expect((err as Error).message).to.match(re);
    return;
  }
  throw new Error('expected invalid-argument');
}

const image: ResolvedImage = {
  id: 'a'.repeat(64),
  names: ['localhost/busybox:latest'],
  digests: [],
  requestedName: 'localhost/busybox:latest',
  config: { Env: ['PATH=/bin', 'FROM_IMAGE=1'], Cmd: ['sh'], WorkingDir: '/srv', Labels: { a: 'image' }, ExposedPorts: { '80/tcp': {} }, StopSignal: 'SIGQUIT' },
  layerChain: [],
  architecture: 'amd64',
  os: 'linux',
  created: '2024-01-01T00:00:00Z',
};

describe('containers: create bodies', () => {
  it('normalises the docker CLI 28 create body (nulls, MemorySwappiness -1, LogConfig.Type "")', () => {
    const o = fromDockerCreate(fixture, 'web');
    expect(o.name).to.equal('web');
    expect(o.image).to.equal('busybox');
    expect(o.env).to.deep.equal(['A=B']);
    expect(o.cmd).to.deep.equal(['sh', '-c', 'echo hi']);
    expect(o.entrypoint).to.equal(undefined);
    expect(o.mounts).to.deep.include({ type: 'bind', source: '/tmp', destination: '/tmp', readonly: false, options: [], origin: 'binds' });
    expect(o.logDriver).to.equal('k8s-file');
    expect(o.resources).to.deep.equal({});
    expect(o.restartPolicy).to.deep.equal({ name: 'no', maxRetries: 0 });
    expect(o.networkMode).to.equal('bridge');
    expect(o.portBindings['80/tcp']).to.deep.equal([{ HostIp: '', HostPort: '8080' }]);
  });

  it('refuses bad values naming the field', () => {
    fails(() => fromDockerCreate({ Image: 'x', HostConfig: { Memory: '1zb' } }), /HostConfig\.Memory/);
    fails(() => fromDockerCreate({ Image: 'x', HostConfig: { RestartPolicy: { Name: 'on-failure:x' } } }), /HostConfig\.RestartPolicy/);
    fails(() => fromDockerCreate({ Image: 'x', HostConfig: { Binds: ['a/b:/c'] } }), /Binds\[0\].*absolute/);
    fails(() => fromDockerCreate({ Image: 'x', HostConfig: { Mounts: [{ Type: 'bind', Source: 'rel', Target: '/x' }] } }), /Mounts\[0\]\.Source/);
    fails(() => fromDockerCreate({ Image: 'x', HostConfig: { Mounts: [{ Type: 'tmpfs', Target: 'rel' }] } }), /Mounts\[0\]\.Target/);
    fails(() => fromDockerCreate({ Image: 'x', StopSignal: 'SIGFOO' }), /StopSignal/);
    fails(() => fromDockerCreate({ Image: 'x', HostConfig: { OomScoreAdj: 5000 } }), /OomScoreAdj/);
    fails(() => fromDockerCreate({ Image: 'x', HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } }), /AutoRemove/);
    fails(() => fromDockerCreate({ Image: 'x', HostConfig: { LogConfig: { Type: 'syslog' } } }), /LogConfig\.Type/);
    fails(() => fromDockerCreate({ Image: 'x', HostConfig: { Binds: ['/a:/b', '/c:/b'] } }), /duplicate/);
    fails(() => fromDockerCreate({}), /Image/);
  });

  it('reads security options, resources, tmpfs, namespaces', () => {
    const o = fromDockerCreate({
      Image: 'x',
      HostConfig: {
        SecurityOpt: ['seccomp=unconfined', 'no-new-privileges'],
        Memory: 64 << 20,
        MemorySwap: -1,
        NanoCpus: 1.5e9,
        PidsLimit: 100,
        Tmpfs: { '/run': 'size=64m,mode=1777,noexec' },
        PidMode: 'host',
        NetworkMode: 'none',
        Init: true,
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m' } },
      },
    });
    expect(o.seccomp).to.equal('unconfined');
    expect(o.noNewPrivileges).to.equal(true);
    expect(o.resources).to.deep.equal({ memory: 64 << 20, memorySwap: -1, nanoCpus: 1.5e9, pidsLimit: 100 });
    expect(o.mounts[0]).to.deep.include({ type: 'tmpfs', destination: '/run', tmpfsSize: 64 << 20, tmpfsMode: 0o1777, options: ['noexec'] });
    expect(o.pidns).to.deep.equal({ mode: 'host' });
    expect(o.netns).to.deep.equal({ mode: 'none' });
    expect(o.init).to.equal(true);
    expect(o.logDriver).to.equal('k8s-file');
    expect(o.logSizeMax).to.equal(10 << 20);
  });

  it('normalises a Libpod SpecGenerator', () => {
    const o = fromSpecGenerator({
      image: 'busybox',
      name: 'lp',
      command: ['top'],
      env: { A: '1' },
      terminal: true,
      stdin: true,
      remove: true,
      netns: { nsmode: 'host' },
      pidns: { nsmode: 'container', value: 'other' },
      mounts: [{ destination: '/data', type: 'bind', source: '/srv', options: ['ro', 'Z'] }],
      resource_limits: { memory: { limit: 128 << 20 }, cpu: { shares: 512 }, pids: { limit: 10 } },
      r_limits: [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }],
      stop_signal: 2,
      restart_policy: '',
      healthconfig: { Test: ['CMD-SHELL', 'true'], Interval: 1e9, Retries: 1 },
      portmappings: [{ container_port: 80, host_port: 8080, protocol: 'tcp' }],
    });
    expect(o).to.deep.include({ name: 'lp', cmd: ['top'], tty: true, openStdin: true, autoRemove: true, networkMode: 'host', stopSignal: 2 });
    expect(o.env).to.deep.equal(['A=1']);
    expect(o.pidns).to.deep.equal({ mode: 'container', id: 'other' });
    expect(o.mounts[0]).to.deep.include({ source: '/srv', destination: '/data', readonly: true, relabel: 'Z' });
    expect(o.resources).to.deep.equal({ memory: 128 << 20, cpuShares: 512, pidsLimit: 10 });
    expect(o.ulimits).to.deep.equal([{ name: 'nofile', soft: 100, hard: 200 }]);
    expect(o.healthcheck).to.deep.equal({ test: ['CMD-SHELL', 'true'], interval: 1e9, timeout: 0, startPeriod: 0, retries: 1 });
    expect(o.portBindings['80/tcp']).to.deep.equal([{ HostIp: '', HostPort: '8080' }]);
    fails(() => fromSpecGenerator({ image: 'x', netns: { nsmode: 'weird' } }), /netns\.nsmode/);
    fails(() => fromSpecGenerator({ image: 'x', mounts: [{ destination: '/x', type: 'bind', source: 'rel' }] }), /mounts\[0\]\.source/);
  });

  it('merges the image: entrypoint/cmd rules, env by key, workdir, labels, stop signal', () => {
    const base = fromDockerCreate({ Image: 'x', Env: ['A=B', 'FROM_IMAGE=2'], Labels: { b: 'mine' } });
    const s = buildContainerSpec(base, image, ['/l1']);
    expect(s.cmd).to.deep.equal(['sh']);
    expect(s.entrypoint).to.deep.equal([]);
    expect(s.env).to.deep.equal(['PATH=/bin', 'FROM_IMAGE=2', 'A=B']);
    expect(s.workingDir).to.equal('/srv');
    expect(s.labels).to.deep.equal({ a: 'image', b: 'mine' });
    expect(s.stopSignal).to.equal(3);
    expect(s.stopSignalName).to.equal('SIGQUIT');
    expect(s.stopTimeout).to.equal(10);
    expect(s.exposedPorts).to.have.key('80/tcp');
    expect(s.imageName).to.equal('localhost/busybox:latest');
    // An entrypoint of the client's own drops the image's Cmd.
    const ep = buildContainerSpec(fromDockerCreate({ Image: 'x', Entrypoint: ['/bin/echo'] }), image, []);
    expect(ep.entrypoint).to.deep.equal(['/bin/echo']);
    expect(ep.cmd).to.deep.equal([]);
    expect(mergeEnv(['A=1', 'B=2'], ['A=3'])).to.deep.equal(['A=3', 'B=2']);
  });
});

describe('containers: option parsers', () => {
  it('parses sizes, restart policies, binds, tmpfs, signal names', () => {
    expect(parseBytes('f', '512m')).to.equal(512 << 20);
    expect(parseBytes('f', '1.5g')).to.equal(1.5 * 1024 ** 3);
    expect(parseBytes('f', 1024)).to.equal(1024);
    fails(() => parseBytes('f', '12qq'), /invalid f/);
    expect(parseRestartPolicy('p', 'on-failure:3')).to.deep.equal({ name: 'on-failure', maxRetries: 3 });
    expect(parseRestartPolicy('p', '')).to.deep.equal({ name: 'no', maxRetries: 0 });
    fails(() => parseRestartPolicy('p', 'always', 2), /on-failure/);
    expect(parseBind('b', '/h:/c:ro,z,rshared')).to.deep.include({ type: 'bind', source: '/h', destination: '/c', readonly: true, relabel: 'z', propagation: 'rshared' });
    expect(parseBind('b', 'vol:/data')).to.deep.include({ type: 'volume', source: 'vol', destination: '/data' });
    expect(parseBind('b', '/anon')).to.deep.include({ type: 'volume', source: '', destination: '/anon' });
    fails(() => parseBind('b', '/h:/c:bogus'), /mount option/);
    expect(parseTmpfs('t', '/x', 'ro,size=1k')).to.deep.include({ readonly: true, tmpfsSize: 1024 });
    expect(signalName(15)).to.equal('SIGTERM');
    expect(signalName(36)).to.equal('SIGRTMIN+2');
  });

  it('parses detach keys and detaches on them, passing other input through', () => {
    expect(parseDetachKeys('ctrl-p,ctrl-q')).to.deep.equal([16, 17]);
    expect(parseDetachKeys('a,ctrl-@,ctrl-[')).to.deep.equal([97, 0, 27]);
    expect(parseDetachKeys('')).to.deep.equal([]);
    fails(() => parseDetachKeys('ctrl-'), /detach keys/);
    let detached = false;
    const f = detachFilter([16, 17], () => (detached = true));
    const out: Buffer[] = [];
    f.on('data', (b: Buffer) => out.push(b));
    f.write(Buffer.from([65, 16, 66, 16]));
    f.write(Buffer.from([17, 67]));
    expect(Buffer.concat(out)).to.deep.equal(Buffer.from([65, 16, 66]));
    expect(detached).to.equal(true);
  });
});

describe('containers: paths inside a rootfs', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'tspod-scoped-'));
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc', 'passwd'), 'inside');
    symlinkSync('/../../../etc', join(root, 'abs-up'));
    symlinkSync('../../../../etc/passwd', join(root, 'rel-up'));
    symlinkSync('loop2', join(root, 'loop1'));
    symlinkSync('loop1', join(root, 'loop2'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('never leaves the root through .., absolute or relative links', async () => {
    expect(await resolveInRoot(root, '/../../etc/passwd')).to.equal(join(root, 'etc/passwd'));
    expect(await resolveInRoot(root, '/abs-up/passwd')).to.equal(join(root, 'etc/passwd'));
    expect(await resolveInRoot(root, '/rel-up')).to.equal(join(root, 'etc/passwd'));
    expect(await resolveInRoot(root, '/rel-up', { followLast: false })).to.equal(join(root, 'rel-up'));
    expect(await resolveInRoot(root, 'missing/dir/file')).to.equal(join(root, 'missing/dir/file'));
    try {
      await resolveInRoot(root, '/loop1/x');
      throw new Error('expected a loop error');
    } catch (err) {
      expect((err as Error).message).to.match(/too many levels/);
    }
  });
});

describe('containers: list filters', () => {
  const rec = (name: string, status: ContainerRecord['state']['status'], labels: Record<string, string>, created: string, exitCode = 0): ContainerRecord => ({
    id: `${name.padEnd(64, '0')}`.replace(/[^0-9a-f]/g, 'a'),
    name,
    created,
    spec: { labels, image: 'busybox', imageName: 'localhost/busybox:latest', imageId: 'b'.repeat(64), mounts: [], networkMode: 'bridge', networks: [], portBindings: {}, exposedPorts: { '80/tcp': {} }, restartPolicy: { name: 'no', maxRetries: 0 } } as never,
    state: { ...initialState(), status, exitCode },
  });
  const all = [rec('one', 'running', { a: '1' }, '2024-01-01T00:00:01.000000000Z'), rec('two', 'exited', { a: '2' }, '2024-01-01T00:00:02.000000000Z', 3), rec('three', 'created', {}, '2024-01-01T00:00:03.000000000Z')];
  const resolve = (ref: string) => all.find((r) => r.name === ref)!;
  const names = (filters: Record<string, string[]>, o: { all?: boolean; limit?: number } = { all: true }) => selectContainers(all, { ...o, filters }, compileListFilters(filters, { resolve })).map((r) => r.name);

  it('applies Docker filter semantics, newest first', () => {
    expect(names({})).to.deep.equal(['three', 'two', 'one']);
    expect(names({}, {})).to.deep.equal(['one']);
    expect(names({ status: ['exited'] }, {})).to.deep.equal(['two']);
    expect(names({ label: ['a'] })).to.deep.equal(['two', 'one']);
    expect(names({ label: ['a=1'] })).to.deep.equal(['one']);
    expect(names({ exited: ['3'] })).to.deep.equal(['two']);
    expect(names({ name: ['^t'] })).to.deep.equal(['three', 'two']);
    expect(names({ since: ['one'] })).to.deep.equal(['three', 'two']);
    expect(names({ before: ['three'] })).to.deep.equal(['two', 'one']);
    expect(names({ expose: ['80'] })).to.deep.equal(['three', 'two', 'one']);
    expect(names({ ancestor: ['localhost/busybox:latest'] })).to.have.length(3);
    expect(names({}, { limit: 2 })).to.deep.equal(['three', 'two']);
    fails(() => names({ status: ['sleeping'] }), /status/);
    fails(() => names({ nope: ['x'] }), /unknown filter/);
  });
});
