// Real clients against the service with real containers: the docker CLI and podman --remote.
import { expect } from 'chai';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestService } from '../helpers/service.js';
import { canRunContainers, IMAGE, shutdown, startWithImage } from '../helpers/containers.js';

const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv, input?: string, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(bin, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 << 20, encoding: 'buffer' }, (err, stdout, stderr) => {
      const code = err ? (err as unknown as { code?: unknown }).code ?? 1 : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout: stdout.toString(), stderr: stderr.toString() });
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

(canRunContainers() && has('docker') ? describe : describe.skip)('containers: docker CLI (real containers)', function () {
  this.timeout(90_000);
  let svc: TestService;
  let env: NodeJS.ProcessEnv;
  let work: string;
  const docker = (args: string[], input?: string) => run('docker', args, env, input);

  before(async function () {
    svc = await startWithImage();
    env = { DOCKER_HOST: `unix://${svc.socketPath}`, DOCKER_CONFIG: mkdtempSync(join(tmpdir(), 'tspod-dockercfg-')) };
    work = mkdtempSync(join(tmpdir(), 'tspod-cli-'));
  });
  after(async function () {
    rmSync(work, { recursive: true, force: true });
    rmSync(env.DOCKER_CONFIG!, { recursive: true, force: true });
    await shutdown(svc);
  });

  it('run --rm: output, exit code, container gone; stdin with -i', async () => {
    const r = await docker(['run', '--rm', IMAGE, 'sh', '-c', 'echo to-out; echo to-err >&2; exit 3']);
    expect(r.code).to.equal(3);
    expect(r.stdout).to.equal('to-out\n');
    expect(r.stderr).to.equal('to-err\n');
    const i = await docker(['run', '--rm', '-i', IMAGE, 'cat'], 'piped through\n');
    expect(i.code).to.equal(0);
    expect(i.stdout).to.equal('piped through\n');
    expect((await docker(['ps', '-aq'])).stdout).to.equal('');
  });

  it('run -d, logs -f, exec, top, stats, inspect, stop, wait, rm', async () => {
    const d = await docker(['run', '-d', '--name', 'cli1', IMAGE, 'sh', '-c', 'trap "exit 0" TERM; i=0; while [ $i -lt 4 ]; do echo tick $i; i=$((i+1)); sleep 0.3; done; while true; do sleep 0.1; done']);
    expect(d.code, d.stderr).to.equal(0);
    const id = d.stdout.trim();
    expect(id).to.match(/^[0-9a-f]{64}$/);
    const ps = await docker(['ps', '--format', '{{.Names}} {{.Status}}']);
    expect(ps.stdout).to.match(/^cli1 Up/m);
    const exec = await docker(['exec', 'cli1', 'sh', '-c', 'echo in-exec; exit 5']);
    expect(exec.code).to.equal(5);
    expect(exec.stdout).to.equal('in-exec\n');
    const execIn = await docker(['exec', '-i', 'cli1', 'cat'], 'exec stdin\n');
    expect(execIn.stdout).to.equal('exec stdin\n');
    const top = await docker(['top', 'cli1']);
    expect(top.stdout).to.match(/PID/);
    const stats = await docker(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'cli1']);
    expect(stats.stdout.trim()).to.match(/^cli1 \d+$/);
    const ins = await docker(['inspect', '--format', '{{.State.Status}} {{.Name}} {{.Config.Image}}', 'cli1']);
    expect(ins.stdout.trim()).to.equal(`running /cli1 ${IMAGE}`);
    await new Promise((r) => setTimeout(r, 1500));
    const logs = await docker(['logs', 'cli1']);
    expect(logs.stdout).to.equal('tick 0\ntick 1\ntick 2\ntick 3\n');
    const stop = await docker(['stop', 'cli1']);
    expect(stop.code).to.equal(0);
    const wait = await docker(['wait', 'cli1']);
    expect(wait.stdout.trim()).to.equal('0');
    expect((await docker(['rm', 'cli1'])).code).to.equal(0);
  });

  it('logs -f follows until the container exits', async () => {
    const d = await docker(['run', '-d', IMAGE, 'sh', '-c', 'for i in 1 2 3; do echo f$i; sleep 0.3; done; exit 2']);
    const id = d.stdout.trim();
    const f = await docker(['logs', '-f', id]);
    expect(f.stdout).to.equal('f1\nf2\nf3\n');
    expect((await docker(['wait', id])).stdout.trim()).to.equal('2');
    await docker(['rm', id]);
  });

  it('exec -it and run -it through a terminal (script)', async function () {
    if (!has('script')) this.skip();
    await docker(['run', '-d', '--name', 'tty1', IMAGE, 'sleep', '300']);
    const r = await run('script', ['-qec', `docker exec -it tty1 sh -c 'tty; exit 6'`, '/dev/null'], env);
    expect(r.code).to.equal(6);
    expect(r.stdout).to.match(/\/dev\/pts\/\d+\r\n/);
    const r2 = await run('script', ['-qec', `docker run --rm -it ${IMAGE} sh -c 'tty; echo x'`, '/dev/null'], env);
    expect(r2.code).to.equal(0);
    expect(r2.stdout).to.match(/\/dev\/pts\/\d+\r\nx\r\n/);
    await docker(['rm', '-f', 'tty1']);
  });

  it('attach, kill, restart, pause, unpause, rename, diff, cp, export, rm -f', async () => {
    await docker(['run', '-d', '--name', 'cli2', IMAGE, 'sh', '-c', 'for i in 1 2 3 4 5; do echo a$i; sleep 0.4; done']);
    const att = await docker(['attach', 'cli2']);
    expect(att.code).to.equal(0);
    expect(att.stdout).to.match(/a5\n$/);
    await docker(['start', 'cli2']);
    expect((await docker(['kill', '--signal', 'KILL', 'cli2'])).code).to.equal(0);
    expect((await docker(['wait', 'cli2'])).stdout.trim()).to.equal('137');
    await docker(['run', '-d', '--name', 'cli3', IMAGE, 'sleep', '300']);
    expect((await docker(['restart', '-t', '0', 'cli3'])).code).to.equal(0);
    expect((await docker(['pause', 'cli3'])).code).to.equal(0);
    expect((await docker(['inspect', '--format', '{{.State.Status}}', 'cli3'])).stdout.trim()).to.equal('paused');
    expect((await docker(['unpause', 'cli3'])).code).to.equal(0);
    expect((await docker(['rename', 'cli3', 'cli4'])).code).to.equal(0);
    writeFileSync(join(work, 'in.txt'), 'copied in\n');
    expect((await docker(['cp', join(work, 'in.txt'), 'cli4:/tmp/'])).code).to.equal(0);
    expect((await docker(['exec', 'cli4', 'cat', '/tmp/in.txt'])).stdout).to.equal('copied in\n');
    const out = await docker(['cp', 'cli4:/etc/passwd', join(work, 'passwd')]);
    expect(out.code, out.stderr).to.equal(0);
    expect(readFileSync(join(work, 'passwd'), 'utf8')).to.match(/^root:x:0:0/);
    const diff = await docker(['diff', 'cli4']);
    expect(diff.stdout).to.contain('A /tmp/in.txt');
    const exp = await run('sh', ['-c', `docker export cli4 | tar t | grep -c busybox`], env);
    expect(exp.stdout.trim()).to.equal('1');
    expect((await docker(['rm', '-f', 'cli2', 'cli4'])).code).to.equal(0);
    expect((await docker(['ps', '-aq'])).stdout).to.equal('');
  });

  it('reports errors the way the docker CLI expects them', async () => {
    const r = await docker(['container', 'inspect', 'no-such-container']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/no such (container|object)/i);
    const s = await docker(['start', 'no-such-container']);
    expect(s.stderr).to.match(/no container with name or ID "no-such-container" found/);
  });
});

(canRunContainers() && has('podman') ? describe : describe.skip)('containers: podman --remote (real containers)', function () {
  this.timeout(90_000);
  let svc: TestService;
  const podman = (args: string[], input?: string) => run('podman', ['--remote', '--url', `unix://${svc.socketPath}`, ...args], {}, input);

  before(async function () {
    svc = await startWithImage();
  });
  after(async function () {
    await shutdown(svc);
  });

  it('run, ps -a, logs, exec, stop, rm', async () => {
    const r = await podman(['run', '--name', 'pr1', IMAGE, 'sh', '-c', 'echo from-podman; echo err >&2; exit 2']);
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stdout).to.equal('from-podman\n');
    expect(r.stderr).to.contain('err\n');
    const ps = await podman(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
    expect(ps.stdout).to.match(/^pr1 Exited \(2\)/m);
    const logs = await podman(['logs', 'pr1']);
    expect(logs.stdout).to.equal('from-podman\n');
    const d = await podman(['run', '-d', '--name', 'pr2', IMAGE, 'sleep', '300']);
    expect(d.code, d.stderr).to.equal(0);
    const ex = await podman(['exec', 'pr2', 'sh', '-c', 'echo in-exec; exit 4']);
    expect(ex.code).to.equal(4);
    expect(ex.stdout).to.equal('in-exec\n');
    const exi = await podman(['exec', '-i', 'pr2', 'cat'], 'podman stdin\n');
    expect(exi.stdout).to.equal('podman stdin\n');
    expect((await podman(['stop', '-t', '1', 'pr2'])).code).to.equal(0);
    expect((await podman(['ps', '-a', '--format', '{{.Names}} {{.State}}'])).stdout).to.match(/^pr2 (exited|Exited \(137\))/m);
    expect((await podman(['rm', 'pr1', 'pr2'])).code).to.equal(0);
    expect((await podman(['ps', '-aq'])).stdout).to.equal('');
  });
});
