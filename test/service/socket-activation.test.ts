// systemd socket activation, through systemd-socket-activate, rootful and as an unprivileged
// user: tspod serves the inherited socket (fd 3), ignores its URI argument, exits after --time
// leaving the socket to the activator, and is started again by the next connection. Also: the
// shipped unit files verify and their command line starts tspod under activation.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { canConnect, projectRoot, request, TestService, tspodBin, waitFor, type ServiceOptions } from '../helpers/service.js';

const run = promisify(execFile);
const ACTIVATE = '/usr/bin/systemd-socket-activate';
const USER_UID = 65534;
const USER_GID = 65534;
const AS_USER = ['setpriv', `--reuid=${USER_UID}`, `--regid=${USER_GID}`, '--clear-groups'];

// What a systemd .socket unit does and systemd-socket-activate alone does not: keep the
// listening socket after the service exits and start the service again on the next
// connection. The outer systemd-socket-activate binds the socket and, on the first
// connection, execs this loop with the socket as fd 3 (held by the loop from then on); each
// round, an inner systemd-socket-activate takes fd 3 over (LISTEN_FDS=1 with its own pid),
// waits for a connection, and execs tspod. The loop reports each exit status on stderr.
const RESTART_LOOP = [
  'sh', '-c',
  'while :; do sh -c \'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" "$@"\' ' + ACTIVATE + ' "$@"; echo "activated tspod exited with status $?" >&2; done',
  'sh',
];

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer!: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms))),
  ]);
}

function count(text: string, re: RegExp): number {
  return text.match(new RegExp(re.source, 'g'))?.length ?? 0;
}

interface Mode {
  name: string;
  uid: number;
  wrapper: string[];
  /** Prepares the service's temp dir and returns the environment for the activator. */
  prepare(svc: TestService): NodeJS.ProcessEnv;
}

const modes: Mode[] = [
  { name: 'rootful', uid: 0, wrapper: [], prepare: () => ({}) },
  {
    name: 'as an unprivileged user',
    uid: USER_UID,
    wrapper: AS_USER,
    prepare(svc) {
      chownSync(svc.dir, USER_UID, USER_GID);
      return { HOME: svc.dir, XDG_RUNTIME_DIR: svc.dir, XDG_CONFIG_HOME: undefined, XDG_DATA_HOME: undefined, CONTAINERS_CONF: undefined };
    },
  },
];

describe('systemd socket activation', function () {
  this.timeout(30_000);
  const services: TestService[] = [];

  before(function () {
    if (!existsSync(ACTIVATE)) {
      console.log(`      (skipped: ${ACTIVATE} is missing; install the Debian package systemd)`);
      this.skip();
    }
  });

  afterEach(async () => {
    for (const svc of services.splice(0)) {
      // Activators run in their own process group (detached): end the whole group, which
      // holds the restart loop and whatever tspod it started.
      if (svc.proc?.pid && svc.running) {
        try {
          process.kill(-svc.proc.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        await svc.exited;
      }
      await svc.cleanup();
    }
  });

  /** Starts `[wrapper] systemd-socket-activate -l SOCK... [loop] node tspod ... system service --time N URI`. */
  async function activate(mode: Mode, opts: { listen?: string[]; loop?: boolean; time?: number; extra?: ServiceOptions } = {}) {
    const svc = new TestService();
    services.push(svc);
    const env = mode.prepare(svc);
    const listen = (opts.listen ?? ['activated.sock']).map((name) => join(svc.dir, name));
    const ignored = join(svc.dir, 'ignored.sock');
    await svc.start({
      wrapper: [...mode.wrapper, ACTIVATE, ...listen.flatMap((p) => ['-l', p]), ...(opts.loop ? RESTART_LOOP : [])],
      globalArgs: ['--log-level', 'info'],
      time: opts.time ?? 1,
      uri: `unix://${ignored}`,
      env,
      waitReady: false,
      spawn: { detached: true },
      ...opts.extra,
    });
    await waitFor(() => {
      if (!svc.running) throw new Error(`the activator exited (${svc.proc.exitCode}): ${svc.stderr}`);
      return listen.every((p) => existsSync(p));
    }, 10_000, 'systemd-socket-activate to listen');
    return { svc, sock: listen[0], listen, ignored };
  }

  for (const mode of modes) {
    describe(mode.name, () => {
      before(function () {
        if (mode.uid !== 0 && process.getuid?.() !== 0) this.skip(); // setpriv needs root
      });

      it('serves the inherited socket, ignores the URI, exits 0 after --time leaving the socket in place', async () => {
        const { svc, sock, ignored } = await activate(mode);
        expect(lstatSync(sock).uid, 'the activator runs as the user').to.equal(mode.uid);
        const info = await request(sock, 'GET', '/v5.1.0/libpod/info');
        expect(info.status).to.equal(200);
        expect(info.json().host.security.rootless).to.equal(mode.uid !== 0);
        expect((await request(sock, 'GET', '/_ping')).text).to.equal('OK');
        const answered = Date.now();
        expect(existsSync(ignored), 'the URI argument is ignored').to.equal(false);
        expect(svc.stderr).to.match(/ignoring unix:\/\/\S*ignored\.sock/);
        expect(svc.stderr).to.match(/fd 3/);
        // systemd-socket-activate execs tspod: the process started is tspod.
        expect(await withTimeout(svc.exited, 10_000, 'idle exit')).to.equal(0);
        expect(Date.now() - answered).to.be.at.least(900);
        expect(svc.stderr).to.match(/stopping \(idle\)/);
        expect(lstatSync(sock).isSocket(), 'the activator\'s socket file is not removed').to.equal(true);
        expect(existsSync(ignored)).to.equal(false);
      });

      it('after the idle exit the activator keeps the socket and a new connection starts tspod again', async () => {
        const { svc, sock } = await activate(mode, { loop: true });
        const first = await request(sock, 'GET', '/_ping');
        expect(first.status).to.equal(200);
        await waitFor(() => /activated tspod exited with status \d/.test(svc.stderr), 10_000, 'the first tspod to exit after --time');
        expect(svc.stderr, svc.stderr).to.match(/activated tspod exited with status 0\b/);
        expect(svc.running, 'the activator is still there').to.equal(true);
        expect(lstatSync(sock).isSocket()).to.equal(true);
        expect(count(svc.stderr, /API service listening on/)).to.equal(1);

        const second = await request(sock, 'GET', '/v1.40/version');
        expect(second.status).to.equal(200);
        expect(second.json().ApiVersion).to.be.a('string');
        expect(count(svc.stderr, /API service listening on/), 'a second tspod served it').to.equal(2);
        await waitFor(() => count(svc.stderr, /activated tspod exited with status \d/) === 2, 10_000, 'the second tspod to exit');
        expect(count(svc.stderr, /activated tspod exited with status 0\b/)).to.equal(2);
        expect(svc.running).to.equal(true);
        expect(lstatSync(sock).isSocket()).to.equal(true);
      });

      it('two inherited sockets (LISTEN_FDS=2) are a clear error', async () => {
        const { svc, listen } = await activate(mode, { listen: ['a.sock', 'b.sock'] });
        await canConnect(listen[0]); // the activator starts tspod on the first connection
        const code = await withTimeout(svc.exited, 10_000, 'tspod to exit');
        expect(code).to.equal(125);
        expect(svc.stderr).to.match(/LISTEN_FDS/);
        expect(svc.stderr).to.match(/2 sockets/);
        expect(svc.stderr).to.match(/exactly one/);
        expect(existsSync(join(svc.dir, 'ignored.sock'))).to.equal(false);
      });
    });
  }

  it('LISTEN_FDS=0 for this process is a clear error', async () => {
    const svc = new TestService();
    services.push(svc);
    await svc.start({
      wrapper: ['sh', '-c', 'export LISTEN_PID=$$ LISTEN_FDS=0; exec "$@"', 'sh'],
      waitReady: false,
    });
    expect(await withTimeout(svc.exited, 10_000, 'tspod to exit')).to.equal(125);
    expect(svc.stderr).to.match(/LISTEN_FDS/);
    expect(existsSync(svc.socketPath)).to.equal(false);
  });

  it('LISTEN_FDS meant for another process is ignored: the URI is served', async () => {
    const svc = new TestService();
    services.push(svc);
    await svc.start({ env: { LISTEN_PID: '1', LISTEN_FDS: '1' } });
    expect((await svc.request('GET', '/_ping')).status).to.equal(200);
    expect(await svc.stop()).to.equal(0);
  });

  describe('shipped unit files (systemd/)', () => {
    const unitDir = join(projectRoot, 'systemd');
    let tmp: string;

    before(() => {
      tmp = mkdtempSync(join(tmpdir(), 'tspod-units-'));
    });
    after(() => rmSync(tmp, { recursive: true, force: true }));

    const unit = (name: string) => readFileSync(join(unitDir, name), 'utf8');
    const settings = (text: string) => text.split('\n').filter((l) => /^\w+=/.test(l));

    it('carry the socket path, mode and service settings of Podman\'s units', () => {
      const socket = settings(unit('tspod.socket'));
      expect(socket).to.include('ListenStream=%t/podman/podman.sock');
      expect(socket).to.include('SocketMode=0660');
      const service = settings(unit('tspod.service'));
      for (const s of ['Delegate=true', 'Type=exec', 'KillMode=process', 'Requires=tspod.socket', 'After=tspod.socket']) expect(service).to.include(s);
      const execStart = service.find((l) => l.startsWith('ExecStart='));
      expect(execStart).to.match(/^ExecStart=\/usr\/local\/bin\/tspod \$LOGGING system service$/);
      expect(service).to.include('Environment=LOGGING="--log-level=info"');
      expect(service.join('\n')).not.to.match(/--time|-t\b/);
    });

    it('verify cleanly with systemd-analyze, as system and as user units', async function () {
      if (!existsSync('/usr/bin/systemd-analyze')) return this.skip();
      // The installed path does not exist here: point ExecStart at this checkout.
      copyFileSync(join(unitDir, 'tspod.socket'), join(tmp, 'tspod.socket'));
      writeFileSync(join(tmp, 'tspod.service'), unit('tspod.service').replace(/^ExecStart=\/usr\/local\/bin\/tspod /m, `ExecStart=${process.execPath} ${tspodBin} `));
      const files = [join(tmp, 'tspod.socket'), join(tmp, 'tspod.service')];
      for (const scope of [[], ['--user']]) {
        const { stdout, stderr } = await run('systemd-analyze', [...scope, 'verify', ...files], { env: { ...process.env, XDG_RUNTIME_DIR: tmp } });
        expect(stdout + stderr, `systemd-analyze ${scope.join(' ')} verify`).to.equal('');
      }
    });

    it('their command line starts tspod under activation', async () => {
      const service = unit('tspod.service');
      const logging = /^Environment=LOGGING="([^"]*)"$/m.exec(service)![1];
      const words = /^ExecStart=\/usr\/local\/bin\/tspod (.*)$/m.exec(service)![1].replace('$LOGGING', logging).split(/\s+/);
      // words: global flags, then `system service` with its flags; keep storage in the temp dir.
      const at = words.indexOf('system');
      const svc = new TestService();
      services.push(svc);
      const sock = join(svc.dir, 'podman.sock');
      await svc.start({
        wrapper: [ACTIVATE, '-l', sock],
        globalArgs: words.slice(0, at),
        args: words.slice(at + 2),
        time: 1,
        uri: null,
        waitReady: false,
        spawn: { detached: true },
      });
      await waitFor(() => existsSync(sock), 10_000, 'systemd-socket-activate to listen');
      expect((await request(sock, 'GET', '/_ping')).status).to.equal(200);
      expect(svc.stderr).to.match(/level=info/);
      expect(await withTimeout(svc.exited, 10_000, 'idle exit')).to.equal(0);
    });
  });
});
