// Black-box tests of the API surface of the service foundation: headers, version prefixes,
// validation, error bodies, CORS, ping/version/info/events, access log.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { assertMatchesSchema } from '../helpers/schema.js';
import { TestService, projectRoot, waitFor } from '../helpers/service.js';

const run = promisify(execFile);

describe('API service: protocol', function () {
  let svc: TestService;
  before(async () => (svc = await TestService.start({ globalArgs: ['--log-level', 'info'] })));
  after(async () => svc?.cleanup());

  for (const path of ['/_ping', '/v1.40/_ping', '/v1.24/_ping', '/v9.99/_ping', '/libpod/_ping', '/v4.3.1/libpod/_ping', '/v5.1.0/libpod/_ping']) {
    it(`answers GET ${path} with OK and Podman's ping headers`, async () => {
      const r = await svc.request('GET', path);
      expect(r.status).to.equal(200);
      expect(r.text).to.equal('OK');
      expect(r.headers['api-version']).to.equal('1.40');
      expect(r.headers['libpod-api-version']).to.equal('5.1.0');
      expect(r.headers['server']).to.match(/^Libpod\/5\.1\.0 \(linux\)$/);
      expect(r.headers['cache-control']).to.equal('no-cache');
      expect(r.headers['pragma']).to.equal('no-cache');
      expect(r.headers['docker-experimental']).to.equal('true');
      expect(r.headers).to.have.property('builder-version');
      expect(r.headers).to.have.property('buildkit-version');
      expect(r.headers).to.have.property('libpod-buildah-version');
    });
  }

  it('answers HEAD /_ping and HEAD /libpod/_ping with headers and no body', async () => {
    for (const path of ['/_ping', '/libpod/_ping', '/v1.40/_ping']) {
      const r = await svc.request('HEAD', path);
      expect(r.status, path).to.equal(200);
      expect(r.body.length).to.equal(0);
      expect(r.headers['api-version']).to.equal('1.40');
    }
  });

  it('reaches the same handler through every version prefix and none', async () => {
    for (const path of ['/version', '/v1.40/version', '/v1.24/version', '/v9.99/version', '/libpod/version', '/v4.3.1/libpod/version', '/v5.1.0/libpod/version']) {
      const r = await svc.request('GET', path);
      expect(r.status, path).to.equal(200);
      expect(r.json().ApiVersion, path).to.equal('1.40');
    }
  });

  it('answers /version with real facts in the documented shape', async () => {
    const r = await svc.request('GET', '/v1.40/version');
    expect(r.headers['content-type']).to.equal('application/json');
    const v = r.json();
    assertMatchesSchema('docker', 'SystemVersion', 200, v);
    const { stdout: kernel } = await run('uname', ['-r']);
    expect(v.KernelVersion).to.equal(kernel.trim());
    expect(v.Os).to.equal('linux');
    expect(v.MinAPIVersion).to.equal('1.24');
    const names = v.Components.map((c: { Name: string }) => c.Name);
    expect(names).to.include('Podman Engine');
    if (existsSync('/usr/sbin/runc') || existsSync('/usr/bin/runc')) {
      const { stdout } = await run('runc', ['--version']);
      const runc = v.Components.find((c: { Name: string }) => c.Name.includes('runc'));
      expect(stdout).to.contain(runc.Version.replace(/^runc version /, ''));
    }
  });

  it('answers /info with real host facts in the Docker shape', async () => {
    const r = await svc.request('GET', '/v1.40/info');
    expect(r.status).to.equal(200);
    const info = r.json();
    assertMatchesSchema('docker', 'SystemInfo', 200, info);
    const { stdout: nproc } = await run('nproc', ['--all']);
    expect(info.NCPU).to.equal(Number(nproc.trim()));
    expect(info.DockerRootDir).to.equal(svc.root);
    expect(info.Driver).to.equal('overlay');
    expect(info.OSType).to.equal('linux');
    expect(['1', '2']).to.include(info.CgroupVersion);
    expect(info.MemTotal).to.be.greaterThan(0);
  });

  it('answers /libpod/info in the Libpod shape', async () => {
    const r = await svc.request('GET', '/v5.1.0/libpod/info');
    expect(r.status).to.equal(200);
    const info = r.json();
    assertMatchesSchema('libpod', 'SystemInfoLibpod', 200, info);
    expect(info.host.ociRuntime.name).to.equal('runc');
    expect(info.store.graphRoot).to.equal(svc.root);
    expect(info.store.runRoot).to.equal(svc.runroot);
    expect(info.host.networkBackend).to.equal('netavark');
  });

  it('answers unimplemented operations 501 naming the operation, in each API error format', async () => {
    // Plugins and Kubernetes YAML generation are not implemented (npm run coverage -- --list).
    const compat = await svc.request('GET', '/v1.40/plugins');
    expect(compat.status).to.equal(501);
    expect(compat.headers['content-type']).to.equal('application/json');
    expect(compat.json()).to.deep.equal({ message: 'PluginList is not implemented' });
    const libpod = await svc.request('GET', '/v5.1.0/libpod/generate/kube?names=abc');
    expect(libpod.status).to.equal(501);
    expect(libpod.json()).to.deep.equal({ cause: 'not implemented', message: 'GenerateKubeLibpod is not implemented', response: 501 });
  });

  it('answers unknown paths 404 with a JSON body and the common headers', async () => {
    for (const [path, shape] of [['/v1.40/nothing/here', ['message']], ['/libpod/nothing', ['cause', 'message', 'response']], ['/v1.40/containers/my/ctr/json', ['message']]] as const) {
      const r = await svc.request('GET', path);
      expect(r.status, path).to.equal(404);
      expect(r.headers['content-type']).to.equal('application/json');
      expect(Object.keys(r.json()).sort()).to.deep.equal([...shape].sort());
      expect(r.headers['api-version']).to.equal('1.40');
      expect(r.headers['libpod-api-version']).to.equal('5.1.0');
    }
  });

  it('routes image names with raw slashes and %2F alike', async () => {
    // Each reaches the image operation (which knows no such image), not the router's 404.
    for (const path of ['/v1.40/images/localhost/busybox:latest/json', '/v1.40/images/quay.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/json', '/v4.3.1/libpod/images/localhost%2Fbusybox:latest/json']) {
      const r = await svc.request('GET', path);
      expect(r.status, path).to.equal(404);
      expect(r.json().message, path).not.to.match(/no such endpoint/);
      expect(r.json().message, path).to.match(/image/i);
    }
    const del = await svc.request('DELETE', '/v1.40/images/localhost/busybox:latest');
    expect(del.status).to.equal(404);
    expect(del.json().message).not.to.match(/no such endpoint/);
  });

  it('rejects invalid query parameters with 400 before the handler runs', async () => {
    const bad = await svc.request('GET', '/libpod/events?stream=maybe');
    expect(bad.status).to.equal(400);
    expect(bad.json().message).to.match(/stream/);
    expect(bad.json().response).to.equal(400);
    const badFilters = await svc.request('GET', '/v1.40/events?filters=not-json');
    expect(badFilters.status).to.equal(400);
    expect(badFilters.json().message).to.match(/filters/);
    const badFilterKey = await svc.request('GET', `/v1.40/events?filters=${encodeURIComponent('{"colour":["red"]}')}`);
    expect(badFilterKey.status).to.equal(400);
    const badTime = await svc.request('GET', '/v1.40/events?since=yesterday');
    expect(badTime.status).to.equal(400);
  });

  it('accepts Go-style booleans and ignores unknown query parameters', async () => {
    for (const value of ['0', 'false', 'False', 'f']) {
      const r = await svc.request('GET', `/libpod/events?stream=${value}&since=0&nonsense=1`);
      expect(r.status, value).to.equal(200);
    }
  });

  it('writes an access line per request at --log-level info ("@" for unix clients)', async () => {
    await svc.request('GET', '/v1.40/_ping', { headers: { 'User-Agent': 'tspod-test/1' } });
    // The line is written when the answer is complete, which can be just after the client has it.
    await waitFor(() => svc.stderr.includes('tspod-test/1'), 2000, 'the access line');
    expect(svc.stderr).to.match(/^@ - - \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET \/v1\.40\/_ping HTTP\/1\.1" 200 2 "" "tspod-test\/1"$/m);
  });
});

describe('API service: CORS', function () {
  let svc: TestService;
  after(async () => svc?.cleanup());

  it('adds Podman\'s CORS headers to every answer and answers a preflight 204', async () => {
    svc = await TestService.start({ args: ['--cors', 'https://example.test'] });
    for (const path of ['/_ping', '/v1.40/version', '/nothing']) {
      const r = await svc.request('GET', path);
      expect(r.headers['access-control-allow-origin'], path).to.equal('https://example.test');
      expect(r.headers['access-control-allow-methods']).to.contain('POST');
      expect(r.headers['access-control-allow-headers']).to.contain('X-Registry-Auth');
    }
    const pre = await svc.request('OPTIONS', '/v1.40/containers/json', { headers: { Origin: 'https://example.test', 'Access-Control-Request-Method': 'GET' } });
    expect(pre.status).to.equal(204);
    expect(pre.headers['access-control-allow-origin']).to.equal('https://example.test');
  });

  it('sends no CORS headers without --cors', async () => {
    const plain = await TestService.start();
    try {
      const r = await plain.request('GET', '/_ping');
      expect(r.headers).not.to.have.property('access-control-allow-origin');
    } finally {
      await plain.cleanup();
    }
  });
});

describe('API service: events', function () {
  let svc: TestService;
  before(async () => (svc = await TestService.start()));
  after(async () => svc?.cleanup());

  async function appendEvents(...events: object[]) {
    // Another process appends, as conmon's cleanup processes will.
    const script = `import { EventLog } from ${JSON.stringify(join(projectRoot, 'dist/engine/events/event-log.js'))};
      const log = new EventLog(${JSON.stringify(join(svc.runroot, 'events', 'events.log'))});
      for (const e of ${JSON.stringify(events)}) await log.append(e);`;
    await run(process.execPath, ['--input-type=module', '-e', script]);
  }

  it('streams history between since and until as Docker event messages, then ends', async () => {
    const before = Math.floor(Date.now() / 1000) - 1;
    await appendEvents(
      { type: 'container', action: 'create', id: 'a'.repeat(64), name: 'web', image: 'docker.io/library/busybox:latest', attributes: { app: 'x' } },
      { type: 'volume', action: 'create', id: 'vol1' },
    );
    const until = Math.floor(Date.now() / 1000) + 1;
    const r = await svc.request('GET', `/v1.40/events?since=${before}&until=${until}`);
    expect(r.status).to.equal(200);
    expect(r.headers['content-type']).to.equal('application/json');
    const lines = r.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).to.have.length(2);
    for (const m of lines) assertMatchesSchema('docker', 'SystemEvents', 200, m);
    expect(lines[0]).to.include({ Type: 'container', Action: 'create', status: 'create', id: 'a'.repeat(64), from: 'docker.io/library/busybox:latest', scope: 'local' });
    expect(lines[0].Actor.Attributes).to.include({ name: 'web', app: 'x' });
    // timeNano is an exact 64-bit integer on the wire.
    expect(r.text).to.match(/"timeNano":\d{19}[,}]/);
    const filtered = await svc.request('GET', `/v1.40/events?since=${before}&until=${until}&filters=${encodeURIComponent('{"type":{"volume":true}}')}`);
    expect(filtered.text.trim().split('\n').map((l) => JSON.parse(l).Actor.ID)).to.deep.equal(['vol1']);
    const libpod = await svc.request('GET', `/libpod/events?since=${before}&stream=false&filters=${encodeURIComponent('{"label":["app=x"]}')}`);
    expect(libpod.text.trim().split('\n').map((l) => JSON.parse(l).Actor.ID)).to.deep.equal(['a'.repeat(64)]);
  });

  it('follows new events live until the client goes away', async () => {
    const { request: httpRequest } = await import('node:http');
    const got: string[] = [];
    const req = httpRequest({ socketPath: svc.socketPath, path: '/v1.40/events' });
    const firstLine = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        expect(res.statusCode).to.equal(200);
        res.on('data', (c: Buffer) => {
          got.push(c.toString());
          if (got.join('').includes('\n')) resolve();
        });
      });
      req.on('error', reject);
    });
    req.end();
    await new Promise((r) => setTimeout(r, 200));
    await appendEvents({ type: 'container', action: 'start', id: 'b'.repeat(64) });
    await firstLine;
    expect(JSON.parse(got.join('').split('\n')[0]).Action).to.equal('start');
    req.destroy();
  });
});

describe('API service: idle exit and signals', function () {
  this.timeout(30_000);

  it('exits 0 after --time idle seconds and removes its socket', async () => {
    const svc = await TestService.start({ time: 1 });
    try {
      const started = Date.now();
      await svc.request('GET', '/_ping');
      expect(await svc.exited).to.equal(0);
      expect(Date.now() - started).to.be.within(900, 5000);
      expect(existsSync(svc.socketPath)).to.equal(false);
    } finally {
      await svc.cleanup();
    }
  });

  it('stays up while an events stream is open, then exits after it closes', async () => {
    const svc = await TestService.start({ time: 1 });
    try {
      const { request: httpRequest } = await import('node:http');
      const req = httpRequest({ socketPath: svc.socketPath, path: '/v1.40/events' });
      await new Promise<void>((resolve) => {
        req.on('response', () => resolve());
        req.end();
      });
      await new Promise((r) => setTimeout(r, 2500));
      expect(svc.running, 'service still running with an open stream').to.equal(true);
      req.destroy();
      const closed = Date.now();
      expect(await svc.exited).to.equal(0);
      expect(Date.now() - closed).to.be.within(500, 5000);
    } finally {
      await svc.cleanup();
    }
  });

  it('does not wait for idle keep-alive connections or connections that send nothing', async () => {
    const svc = await TestService.start({ time: 1 });
    try {
      const { connect } = await import('node:net');
      const silent = connect(svc.socketPath);
      const keepAlive = connect(svc.socketPath);
      keepAlive.write('GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n');
      const started = Date.now();
      expect(await svc.exited).to.equal(0);
      expect(Date.now() - started).to.be.below(5000);
      silent.destroy();
      keepAlive.destroy();
    } finally {
      await svc.cleanup();
    }
  });

  it('on SIGTERM, cuts open event streams and exits 0 at once', async () => {
    const svc = await TestService.start();
    try {
      const { request: httpRequest } = await import('node:http');
      const req = httpRequest({ socketPath: svc.socketPath, path: '/v1.40/events' });
      const ended = new Promise<void>((resolve) => {
        req.on('response', (res) => {
          res.on('end', resolve).on('error', resolve).on('close', resolve);
          res.resume();
        });
        req.on('error', () => resolve());
      });
      req.end();
      await new Promise((r) => setTimeout(r, 300));
      const signalled = Date.now();
      svc.proc.kill('SIGTERM');
      expect(await svc.exited).to.equal(0);
      await ended;
      expect(Date.now() - signalled).to.be.below(3000);
    } finally {
      await svc.cleanup();
    }
  });

  it('exits 0 on SIGTERM and SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const svc = await TestService.start();
      try {
        svc.proc.kill(signal);
        expect(await svc.exited, signal).to.equal(0);
        expect(existsSync(svc.socketPath)).to.equal(false);
      } finally {
        await svc.cleanup();
      }
    }
  });
});

describe('docker CLI against the service', function () {
  const docker = '/usr/local/bin/docker';
  let svc: TestService;
  before(async function () {
    if (!existsSync(docker)) this.skip(); // the docker CLI is optional on a developer machine
    svc = await TestService.start();
  });
  after(async () => svc?.cleanup());

  it('docker version negotiates API 1.40 and shows the server', async () => {
    const { stdout } = await run(docker, ['version', '--format', '{{.Server.APIVersion}} {{.Server.Os}} {{.Client.APIVersion}}'], { env: { ...process.env, DOCKER_HOST: `unix://${svc.socketPath}` } });
    expect(stdout.trim()).to.equal('1.40 linux 1.40');
  });

  it('docker info shows this host', async () => {
    const { stdout } = await run(docker, ['info', '--format', '{{.NCPU}} {{.Driver}} {{.OSType}} {{.DockerRootDir}}'], { env: { ...process.env, DOCKER_HOST: `unix://${svc.socketPath}` } });
    const { stdout: nproc } = await run('nproc', ['--all']);
    expect(stdout.trim()).to.equal(`${nproc.trim()} overlay linux ${svc.root}`);
  });
});
