// `tspod system service [URI]`: each listener form, the default socket paths for root and for
// an unprivileged user, and what happens to the socket file when the service starts and stops.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defaults } from '../../cli/defaults.js';
import { canConnect, request, TestService, waitFor, type ServiceOptions } from '../helpers/service.js';
import { freePort } from '../helpers/net.js';

// The unprivileged user: nobody/nogroup, with its own temp dir (HOME, XDG_RUNTIME_DIR, --root).
const USER_UID = 65534;
const USER_GID = 65534;
const AS_USER = ['setpriv', `--reuid=${USER_UID}`, `--regid=${USER_GID}`, '--clear-groups'];
const UMASK_000 = ['sh', '-c', 'umask 000 && exec "$@"', 'sh'];

const ROOT_DEFAULT_SOCKET = '/run/podman/podman.sock';

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer!: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms))),
  ]);
}

function mode(path: string): number {
  return lstatSync(path).mode & 0o777;
}


async function waitListening(svc: TestService, path: string): Promise<void> {
  await waitFor(async () => {
    if (!svc.running) throw new Error(`tspod exited (${svc.proc.exitCode}) before listening on ${path}: ${svc.stderr}`);
    return canConnect(path);
  }, 15_000, `tspod to listen on ${path}`);
}

/** Runs tspod for a failure case and returns its exit status once it exits by itself. */
async function failingRun(svc: TestService, opts: ServiceOptions): Promise<number | null> {
  await svc.start({ waitReady: false, ...opts });
  return withTimeout(svc.exited, 15_000, 'tspod to exit');
}

/** A unix socket with nothing behind it: a process bound it and was SIGKILLed. */
async function makeStaleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', 'require("node:net").createServer().listen(process.argv[1])', path], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await waitFor(() => existsSync(path), 10_000, `a socket at ${path}`);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

describe('service listeners', function () {
  this.timeout(30_000);
  const services: TestService[] = [];
  const track = (svc: TestService) => (services.push(svc), svc);
  const newService = () => track(new TestService());
  /** A service whose temp dir belongs to the unprivileged user. */
  const newUserService = () => {
    const svc = newService();
    chownSync(svc.dir, USER_UID, USER_GID);
    return svc;
  };
  const userEnv = (svc: TestService, xdg: string | undefined): NodeJS.ProcessEnv => ({
    HOME: svc.dir,
    XDG_RUNTIME_DIR: xdg,
    XDG_CONFIG_HOME: undefined,
    XDG_DATA_HOME: undefined,
    CONTAINERS_CONF: undefined,
  });

  afterEach(async () => {
    for (const svc of services.splice(0)) await svc.cleanup();
  });

  describe('explicit URIs', () => {
    it('unix:///path: listens there, 0600, with no TCP warning', async () => {
      const svc = track(await TestService.start());
      const ping = await svc.request('GET', '/_ping');
      expect(ping.status).to.equal(200);
      expect(ping.text).to.equal('OK');
      expect(lstatSync(svc.socketPath).isSocket()).to.equal(true);
      expect(mode(svc.socketPath)).to.equal(0o600);
      expect(svc.stderr).not.to.match(/full control/i);
    });

    it('tcp://127.0.0.1:PORT: serves over TCP and warns that the API grants full control, pointing at SSH', async () => {
      const port = await freePort();
      const svc = newService();
      await svc.start({ uri: `tcp://127.0.0.1:${port}`, waitReady: false });
      const target = { host: '127.0.0.1', port };
      await waitFor(async () => {
        if (!svc.running) throw new Error(`tspod exited: ${svc.stderr}`);
        return request(target, 'GET', '/_ping').then(() => true, () => false);
      }, 15_000, `tspod to listen on 127.0.0.1:${port}`);
      const ping = await request(target, 'GET', '/_ping');
      expect(ping.status).to.equal(200);
      expect(ping.text).to.equal('OK');
      const version = await request(target, 'GET', '/v1.40/version');
      expect(version.status).to.equal(200);
      expect(svc.stderr).to.match(/full control/i);
      expect(svc.stderr).to.match(/anyone who can connect/i);
      expect(svc.stderr).to.match(/SSH/);
      expect(svc.stderr).to.include(`127.0.0.1:${port}`);
      expect(await svc.stop()).to.equal(0);
    });

    it('refuses invalid URIs with exit 125 and a message naming the URI', async () => {
      const bad = [
        'http://127.0.0.1:8080',
        'unix://relative/api.sock',
        'unix://',
        'tcp://127.0.0.1',
        'tcp://127.0.0.1:0',
        'tcp://127.0.0.1:99999',
        'tcp://[::1',
        '/tmp/api.sock',
      ];
      const failures: string[] = [];
      for (const uri of bad) {
        const svc = newService();
        const code = await failingRun(svc, { uri });
        const ok = code === 125 && svc.stderr.includes(uri) && /invalid URI/i.test(svc.stderr);
        if (!ok) failures.push(`${uri}: exit ${code}, stderr ${JSON.stringify(svc.stderr.trim())}`);
      }
      expect(failures, failures.join('\n')).to.deep.equal([]);
    });

    it('takes exactly one URI', async () => {
      const svc = newService();
      const code = await failingRun(svc, { uri: `unix://${join(svc.dir, 'a.sock')}`, args: [`unix://${join(svc.dir, 'b.sock')}`] });
      expect(code).to.equal(125);
      expect(svc.stderr).to.match(/at most one URI/);
      expect(existsSync(join(svc.dir, 'a.sock'))).to.equal(false);
      expect(existsSync(join(svc.dir, 'b.sock'))).to.equal(false);
    });
  });

  describe('unix socket file', () => {
    it('replaces a stale socket file (nothing listening behind it)', async () => {
      const svc = newService();
      await makeStaleSocket(svc.socketPath);
      expect(lstatSync(svc.socketPath).isSocket()).to.equal(true);
      expect(await canConnect(svc.socketPath)).to.equal(false);
      await svc.start();
      expect((await svc.request('GET', '/_ping')).status).to.equal(200);
      expect(mode(svc.socketPath)).to.equal(0o600);
    });

    it('refuses a socket another live service answers on: exits non-zero, the first keeps serving', async () => {
      const first = track(await TestService.start());
      const ino = lstatSync(first.socketPath).ino;
      const second = newService();
      const code = await failingRun(second, { uri: `unix://${first.socketPath}` });
      expect(code).to.be.a('number').and.not.equal(0);
      expect(second.stderr).to.include(first.socketPath);
      expect(second.stderr).to.match(/already listening|in use/i);
      expect(lstatSync(first.socketPath).ino, 'the socket file was not replaced').to.equal(ino);
      expect((await first.request('GET', '/_ping')).status).to.equal(200);
      expect(first.running).to.equal(true);
    });

    it('a missing parent directory of an explicit path is an error (exit 125), not created', async () => {
      const svc = newService();
      const parent = join(svc.dir, 'missing');
      const code = await failingRun(svc, { uri: `unix://${parent}/api.sock` });
      expect(code).to.equal(125);
      expect(svc.stderr).to.include(parent);
      expect(svc.stderr).to.match(/does not exist/);
      expect(existsSync(parent)).to.equal(false);
    });

    it('a path that is a directory is an error (exit 125), left alone', async () => {
      const svc = newService();
      const dir = join(svc.dir, 'adir');
      mkdirSync(dir);
      writeFileSync(join(dir, 'keep'), 'x');
      const code = await failingRun(svc, { uri: `unix://${dir}` });
      expect(code).to.equal(125);
      expect(svc.stderr).to.include(dir);
      expect(svc.stderr).to.match(/is a directory/);
      expect(existsSync(join(dir, 'keep'))).to.equal(true);
    });

    it('a path too long for a unix socket (sun_path: 107 bytes) is an error (exit 125), nothing bound', async () => {
      const svc = newService();
      const long = join(svc.dir, `${'x'.repeat(120)}.sock`);
      const code = await failingRun(svc, { uri: `unix://${long}` });
      expect(code, svc.stderr).to.equal(125);
      expect(svc.stderr).to.match(/too long/i);
      expect(svc.stderr).not.to.match(/\n\s+at /, 'no stack trace');
      const left = readdirSync(svc.dir).filter((name) => name.startsWith('x'));
      expect(left, 'no socket at a truncated path').to.deep.equal([]);
    });

    it('a regular file in the way is an error (exit 125), left alone', async () => {
      const svc = newService();
      writeFileSync(svc.socketPath, 'not a socket');
      const code = await failingRun(svc, { uri: `unix://${svc.socketPath}` });
      expect(code).to.equal(125);
      expect(svc.stderr).to.include(svc.socketPath);
      expect(svc.stderr).to.match(/not a socket/);
      expect(lstatSync(svc.socketPath).isFile()).to.equal(true);
    });

    it('SIGTERM: exits 0 and removes the socket file', async () => {
      const svc = track(await TestService.start());
      expect((await svc.request('GET', '/_ping')).status).to.equal(200);
      expect(await withTimeout(svc.stop(), 15_000, 'tspod to stop')).to.equal(0);
      expect(svc.exitSignal).to.equal(null);
      expect(existsSync(svc.socketPath)).to.equal(false);
    });

    it('--time: exits 0 after the idle time and removes the socket file', async () => {
      const svc = track(await TestService.start({ time: 1 }));
      expect((await svc.request('GET', '/_ping')).status).to.equal(200);
      const answered = Date.now();
      expect(await withTimeout(svc.exited, 10_000, 'idle exit')).to.equal(0);
      expect(Date.now() - answered).to.be.at.least(900);
      expect(existsSync(svc.socketPath)).to.equal(false);
    });
  });

  describe('default socket path', () => {
    it('is /run/podman/podman.sock for root and $XDG_RUNTIME_DIR/podman/podman.sock (/run/user/UID) for others', () => {
      expect(defaults({}, 0).socketPath).to.equal(ROOT_DEFAULT_SOCKET);
      expect(defaults({ XDG_RUNTIME_DIR: '/tmp/xdg' }, 0).socketPath).to.equal(ROOT_DEFAULT_SOCKET);
      expect(defaults({ XDG_RUNTIME_DIR: '/tmp/xdg' }, 1000).socketPath).to.equal('/tmp/xdg/podman/podman.sock');
      expect(defaults({}, 1000).socketPath).to.equal('/run/user/1000/podman/podman.sock');
      expect(defaults({ XDG_RUNTIME_DIR: '' }, 1000).socketPath).to.equal('/run/user/1000/podman/podman.sock');
    });

    describe('as root', () => {
      let createdParent = false;

      after(() => {
        // Only what this test created: a real /run/podman stays as it was.
        if (createdParent) rmSync(dirname(ROOT_DEFAULT_SOCKET), { recursive: true, force: true });
      });

      it('no URI: /run/podman/podman.sock, 0600 even with umask 000, parent created 0700; removed on exit', async function () {
        if (process.getuid?.() !== 0) return this.skip();
        const parent = dirname(ROOT_DEFAULT_SOCKET);
        if (existsSync(ROOT_DEFAULT_SOCKET) && (await canConnect(ROOT_DEFAULT_SOCKET))) {
          console.log(`      (skipped: a live service already answers on ${ROOT_DEFAULT_SOCKET})`);
          return this.skip();
        }
        const parentExisted = existsSync(parent);
        createdParent = !parentExisted;
        const svc = newService();
        await svc.start({ uri: null, wrapper: UMASK_000, waitReady: false });
        await waitListening(svc, ROOT_DEFAULT_SOCKET);
        expect((await request(ROOT_DEFAULT_SOCKET, 'GET', '/_ping')).status).to.equal(200);
        const sock = lstatSync(ROOT_DEFAULT_SOCKET);
        expect(sock.isSocket()).to.equal(true);
        expect(sock.mode & 0o777).to.equal(0o600);
        expect(sock.uid).to.equal(0);
        if (!parentExisted) {
          expect(statSync(parent).mode & 0o777, `${parent} mode`).to.equal(0o700);
          expect(statSync(parent).uid).to.equal(0);
        }
        expect(await withTimeout(svc.stop(), 15_000, 'tspod to stop')).to.equal(0);
        expect(existsSync(ROOT_DEFAULT_SOCKET)).to.equal(false);
      });
    });

    describe('as an unprivileged user', () => {
      it('no URI: $XDG_RUNTIME_DIR/podman/podman.sock, owned by the user, 0600 with umask 000, parent created 0700', async () => {
        const svc = newUserService();
        const xdg = join(svc.dir, 'xdg');
        mkdirSync(xdg, { mode: 0o700 });
        chownSync(xdg, USER_UID, USER_GID);
        const sockPath = join(xdg, 'podman', 'podman.sock');
        await svc.start({ uri: null, wrapper: [...AS_USER, ...UMASK_000], env: userEnv(svc, xdg), waitReady: false });
        await waitListening(svc, sockPath);
        const info = await request(sockPath, 'GET', '/v5.1.0/libpod/info');
        expect(info.status).to.equal(200);
        expect(info.json().host.security.rootless, 'the service runs rootless').to.equal(true);
        const sock = lstatSync(sockPath);
        expect(sock.isSocket()).to.equal(true);
        expect(sock.mode & 0o777).to.equal(0o600);
        expect(sock.uid).to.equal(USER_UID);
        const parent = statSync(dirname(sockPath));
        expect(parent.mode & 0o777).to.equal(0o700);
        expect(parent.uid).to.equal(USER_UID);
        expect(await withTimeout(svc.stop(), 15_000, 'tspod to stop')).to.equal(0);
        expect(existsSync(sockPath)).to.equal(false);
      });

      describe('with XDG_RUNTIME_DIR unset', () => {
        const created: string[] = [];
        const runtimeDir = `/run/user/${USER_UID}`;

        after(() => {
          for (const dir of created.reverse()) rmSync(dir, { recursive: true, force: true });
        });

        it('no URI: /run/user/UID/podman/podman.sock', async function () {
          if (process.getuid?.() !== 0) return this.skip();
          const sockPath = join(runtimeDir, 'podman', 'podman.sock');
          if (existsSync(sockPath) && (await canConnect(sockPath))) {
            console.log(`      (skipped: a live service already answers on ${sockPath})`);
            return this.skip();
          }
          // What logind would have made: /run/user/UID, 0700, owned by the user.
          for (const dir of ['/run/user', runtimeDir]) {
            if (existsSync(dir)) continue;
            mkdirSync(dir, { mode: dir === runtimeDir ? 0o700 : 0o755 });
            if (dir === runtimeDir) chownSync(dir, USER_UID, USER_GID);
            created.push(dir);
          }
          if (!created.includes(runtimeDir) && !existsSync(join(runtimeDir, 'podman'))) created.push(join(runtimeDir, 'podman'));
          const svc = newUserService();
          await svc.start({ uri: null, wrapper: AS_USER, env: userEnv(svc, undefined), waitReady: false });
          await waitListening(svc, sockPath);
          expect((await request(sockPath, 'GET', '/_ping')).status).to.equal(200);
          expect(lstatSync(sockPath).uid).to.equal(USER_UID);
          expect(mode(sockPath)).to.equal(0o600);
          expect(await withTimeout(svc.stop(), 15_000, 'tspod to stop')).to.equal(0);
          expect(existsSync(sockPath)).to.equal(false);
        });
      });

      it('idle exit (--time) removes the user socket too (exit 0)', async () => {
        const svc = newUserService();
        const xdg = join(svc.dir, 'xdg');
        mkdirSync(xdg, { mode: 0o700 });
        chownSync(xdg, USER_UID, USER_GID);
        const sockPath = join(xdg, 'podman', 'podman.sock');
        await svc.start({ uri: null, time: 1, wrapper: AS_USER, env: userEnv(svc, xdg), waitReady: false });
        await waitListening(svc, sockPath);
        expect(await withTimeout(svc.exited, 10_000, 'idle exit')).to.equal(0);
        expect(existsSync(sockPath)).to.equal(false);
      });
    });
  });
});
