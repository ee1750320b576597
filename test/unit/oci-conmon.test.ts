// Real containers: runc under conmon, as root, with a busybox rootfs.
import { expect } from 'chai';
import { existsSync, promises as fsp, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EngineError } from '../../engine/errors.js';
import { attachContainer, type AttachFrame } from '../../engine/oci/attach.js';
import { ConmonRuntime, OciRuntimeError } from '../../engine/oci/conmon.js';
import { listHostDevices, loadOciHostFacts } from '../../engine/oci/host.js';
import { readK8sLog, type K8sLogEntry } from '../../engine/oci/k8s-log.js';
import { Runc, findExecutable } from '../../engine/oci/runc.js';
import { buildRuntimeSpec, type OciContainerConfig, type OciHostFacts } from '../../engine/oci/runtime-spec.js';
import { buildBusyboxRootfs } from '../helpers/busybox-rootfs.js';
import { processesWhere } from '../helpers/processes.js';

const canRun =
  process.getuid?.() === 0 && !!findExecutable('runc') && !!findExecutable('conmon') && existsSync('/bin/busybox');

/** conmon processes whose -c argument starts with `prefix`. */
function conmonsFor(prefix: string): { pid: number; id: string }[] {
  return processesWhere((argv) => path.basename(argv[0] ?? '').includes('conmon') && !!argv[argv.indexOf('-c') + 1]?.startsWith(prefix) && argv.includes('-c')).map((p) => ({
    pid: p.pid,
    id: p.argv[p.argv.indexOf('-c') + 1]!,
  }));
}

function procStat(pid: number): { ppid: number; sid: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), sid: Number(fields[3]) };
}

async function collect(it: AsyncIterable<K8sLogEntry>): Promise<{ stream: string; text: string; partial: boolean }[]> {
  const out: { stream: string; text: string; partial: boolean }[] = [];
  for await (const e of it) out.push({ stream: e.stream, text: e.data.toString(), partial: e.partial });
  return out;
}

(canRun ? describe : describe.skip)('oci conmon + runc (real containers)', function () {
  this.timeout(10_000);
  const prefix = `tspodt${process.pid}x`;
  let n = 0;
  let base: string;
  let rootfs: string;
  let facts: OciHostFacts;
  let runc: Runc;
  let rt: ConmonRuntime;
  const created: { id: string; bundle: string }[] = [];

  before(async function () {
    this.timeout(30_000);
    base = await fsp.mkdtemp(path.join(os.tmpdir(), 'tspod-oci-'));
    rootfs = await buildBusyboxRootfs(path.join(base, 'rootfs'));
    facts = await loadOciHostFacts();
    runc = new Runc({ root: path.join(base, 'runc') });
    rt = new ConmonRuntime({ runc, exitDir: path.join(base, 'exits'), socketDir: path.join(base, 'socket') });
    await rt.init();
  });

  after(async function () {
    this.timeout(30_000);
    for (const c of created) await rt.cleanup(c.id, { bundle: c.bundle }).catch(() => {});
    // Nothing left behind: no conmon, no runc state, no cgroups, no mounts.
    const deadline = Date.now() + 3000;
    while (conmonsFor(prefix).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const leftovers = conmonsFor(prefix);
    for (const c of leftovers) process.kill(c.pid, 'SIGKILL');
    const states = await runc.list().catch(() => []);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(base));
    const cgroups = existsSync('/sys/fs/cgroup/freezer/libpod_parent')
      ? readdirSync('/sys/fs/cgroup/freezer/libpod_parent').filter((d) => d.includes(prefix))
      : [];
    await fsp.rm(base, { recursive: true, force: true });
    expect(leftovers, 'conmon processes left').to.deep.equal([]);
    expect(states, 'runc containers left').to.deep.equal([]);
    expect(mounts, 'mounts left').to.deep.equal([]);
    expect(cgroups, 'cgroups left').to.deep.equal([]);
  });

  /** Writes a bundle for a new container and returns its id, bundle and log path. */
  async function prepare(cfg: Partial<OciContainerConfig> & { args: string[] }) {
    const id = `${prefix}${n++}`;
    const bundle = path.join(base, 'containers', id);
    created.push({ id, bundle });
    await rt.writeBundle(bundle, buildRuntimeSpec({ id, rootfs, ...cfg }, facts));
    return { id, bundle, logPath: path.join(bundle, 'ctr.log') };
  }

  it('runs a container: exit code, k8s-file log on the right streams, exit command, persist dir', async () => {
    const c = await prepare({ args: ['sh', '-c', 'echo out; echo err >&2; exit 3'] });
    const marker = path.join(base, `exit-command-${c.id}`);
    const t0 = performance.now();
    const { pid, conmonPid } = await rt.create({
      ...c,
      persistDir: c.bundle,
      exitCommand: ['/bin/sh', '-c', 'echo "$0 $1" > "$2"', 'cleanup', c.id, marker],
    });
    expect(pid).to.be.greaterThan(0);
    expect(conmonPid).to.be.greaterThan(0);
    expect((await runc.state(c.id)).status).to.equal('created');
    await rt.start(c.id);
    const code = await rt.waitExit(c.id, { timeoutMs: 5000 });
    const elapsed = performance.now() - t0;
    expect(code).to.equal(3);
    expect(await rt.readExitCode(c.id)).to.equal(3);
    expect((await fsp.readFile(path.join(c.bundle, 'exit'), 'utf8')).trim()).to.equal('3');
    expect(await collect(readK8sLog(c.logPath))).to.deep.equal([
      { stream: 'stdout', text: 'out', partial: false },
      { stream: 'stderr', text: 'err', partial: false },
    ]);
    // conmon runs the exit command after writing the exit file
    const deadline = Date.now() + 3000;
    while (!existsSync(marker) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect((await fsp.readFile(marker, 'utf8')).trim()).to.equal(`cleanup ${c.id}`);
    expect(elapsed).to.be.lessThan(2000);
    await rt.cleanup(c.id, { bundle: c.bundle });
    expect(existsSync(c.bundle)).to.equal(false);
    expect(existsSync(rt.exitFilePath(c.id))).to.equal(false);
    expect(await runc.stateOrUndefined(c.id)).to.equal(undefined);
  });

  it('keeps a container running after its conmon detached from us; SIGTERM gives 143', async () => {
    const c = await prepare({
      args: ['/run/podman-init', '--', 'sleep', '300'],
      mounts: [{ type: 'bind', source: findExecutable('catatonit')!, destination: '/run/podman-init', readonly: true }],
    });
    const { pid, conmonPid } = await rt.create(c);
    await rt.start(c.id);
    const st = procStat(conmonPid);
    expect(st.ppid).not.to.equal(process.pid); // the first conmon process exited: reparented
    expect(st.sid).to.equal(conmonPid); // its own session
    expect(st.sid).not.to.equal(procStat(process.pid).sid);
    for (const fd of [0, 1, 2]) expect(await fsp.readlink(`/proc/${conmonPid}/fd/${fd}`)).to.equal('/dev/null');
    const state = await runc.state(c.id);
    expect(state.status).to.equal('running');
    expect(state.pid).to.equal(pid);
    expect(await runc.ps(c.id)).to.include(pid);
    expect(await rt.readExitCode(c.id)).to.equal(undefined);
    const ex = await runc.execCapture(c.id, ['sh', '-c', 'echo $(( 6 * 7 ))']);
    expect(ex.code).to.equal(0);
    expect(ex.stdout.trim()).to.equal('42');
    await runc.kill(c.id, 'TERM');
    expect(await rt.waitExit(c.id, { timeoutMs: 5000 })).to.equal(143);
    expect((await runc.state(c.id)).status).to.equal('stopped');
  });

  it('keeps a container running after the process that created it has exited', async () => {
    const c = await prepare({ args: ['sleep', '300'] });
    const engineDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../engine/oci');
    const script = `
      const { Runc } = await import(${JSON.stringify(path.join(engineDir, 'runc.js'))});
      const { ConmonRuntime } = await import(${JSON.stringify(path.join(engineDir, 'conmon.js'))});
      const rt = new ConmonRuntime({ runc: new Runc({ root: ${JSON.stringify(runc.root)} }), exitDir: ${JSON.stringify(rt.exitDir)}, socketDir: ${JSON.stringify(rt.socketDir)} });
      const r = await rt.create({ id: ${JSON.stringify(c.id)}, bundle: ${JSON.stringify(c.bundle)}, logPath: ${JSON.stringify(c.logPath)} });
      await rt.start(${JSON.stringify(c.id)});
      console.log(JSON.stringify(r));
    `;
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 8000 });
    const { pid, conmonPid } = JSON.parse(out) as { pid: number; conmonPid: number };
    const st = await runc.state(c.id);
    expect(st.status).to.equal('running');
    expect(st.pid).to.equal(pid);
    expect(procStat(conmonPid).ppid).not.to.equal(process.pid);
    await runc.kill(c.id, 'KILL');
    expect(await rt.waitExit(c.id, { timeoutMs: 5000 })).to.equal(137);
  });

  it('pauses and resumes through runc (freezer)', async () => {
    const c = await prepare({ args: ['sleep', '300'] });
    await rt.create(c);
    await rt.start(c.id);
    await runc.pause(c.id);
    expect((await runc.state(c.id)).status).to.equal('paused');
    const freezer = facts.cgroupV2
      ? path.join('/sys/fs/cgroup/libpod_parent', `libpod-${c.id}`, 'cgroup.freeze')
      : path.join('/sys/fs/cgroup/freezer/libpod_parent', `libpod-${c.id}`, 'freezer.state');
    expect((await fsp.readFile(freezer, 'utf8')).trim()).to.be.oneOf(['FROZEN', '1']);
    await runc.resume(c.id);
    expect((await runc.state(c.id)).status).to.equal('running');
    try {
      await runc.resume(c.id);
      expect.fail('resume of a running container should fail');
    } catch (err) {
      expect(err).to.be.instanceOf(EngineError);
      expect((err as Error).message).to.match(/not paused/);
    }
    await runc.kill(c.id, 9);
    expect(await rt.waitExit(c.id, { timeoutMs: 5000 })).to.equal(137);
  });

  it("fails create with runc's own message and leaves nothing behind", async () => {
    const c = await prepare({ args: ['/nonexistent/binary'] });
    const marker = path.join(base, `exit-command-${c.id}`);
    let err: unknown;
    try {
      await rt.create({ ...c, exitCommand: ['/bin/sh', '-c', 'touch "$0"', marker] });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(OciRuntimeError);
    const e = err as OciRuntimeError;
    expect(e.kind).to.equal('internal');
    expect(e.message).to.match(/runc create failed: .*\/nonexistent\/binary.*no such file or directory/);
    expect(e.failure).to.equal('command-not-found');
    expect(e.podmanMessage()).to.match(/^runc: runc create failed: .*OCI runtime attempted to invoke a command that was not found$/);
    expect(existsSync(path.join(runc.root, c.id))).to.equal(false);
    await rt.cleanup(c.id, { bundle: c.bundle });
    expect(existsSync(c.bundle)).to.equal(false);
    expect(conmonsFor(c.id)).to.deep.equal([]);
    expect(await runc.stateOrUndefined(c.id)).to.equal(undefined);
  });

  it('calls beforeStart with the blocked conmon; a failure there creates nothing', async () => {
    const c = await prepare({ args: ['true'] });
    let seen = 0;
    try {
      await rt.create({
        ...c,
        beforeStart: async (pid) => {
          seen = pid;
          expect((await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')).to.include(c.id);
          throw new Error('no cgroup for you');
        },
      });
      expect.fail('should fail');
    } catch (err) {
      expect((err as Error).message).to.equal('no cgroup for you');
    }
    expect(seen).to.be.greaterThan(0);
    expect(conmonsFor(c.id)).to.deep.equal([]);
    expect(await runc.stateOrUndefined(c.id)).to.equal(undefined);
    // and the same bundle works afterwards
    let called = false;
    await rt.create({ ...c, beforeStart: async () => void (called = true) });
    expect(called).to.equal(true);
    await rt.start(c.id);
    expect(await rt.waitExit(c.id, { timeoutMs: 5000 })).to.equal(0);
  });

  it('restarts a container in the same bundle after cleanup', async () => {
    const c = await prepare({ args: ['sh', '-c', 'echo run'] });
    for (let i = 0; i < 2; i++) {
      await rt.create(c);
      await rt.start(c.id);
      expect(await rt.waitExit(c.id, { timeoutMs: 5000 })).to.equal(0);
      await rt.cleanup(c.id, { bundle: c.bundle, removeBundle: false });
      expect(existsSync(path.join(c.bundle, 'config.json'))).to.equal(true);
    }
    expect((await collect(readK8sLog(c.logPath))).map((l) => l.text)).to.deep.equal(['run', 'run']);
  });

  it('applies the default confinement: seccomp, capabilities, masked and read-only paths', async () => {
    const c = await prepare({
      args: ['sh', '-c', 'grep Seccomp: /proc/self/status; grep CapEff /proc/self/status; wc -c < /proc/interrupts; echo 1 > /proc/sys/kernel/domainname || echo ro'],
      hostname: 'box',
    });
    await rt.create(c);
    await rt.start(c.id);
    expect(await rt.waitExit(c.id, { timeoutMs: 5000 })).to.equal(0);
    const lines = (await collect(readK8sLog(c.logPath))).filter((l) => l.stream === 'stdout').map((l) => l.text.replace(/\s+/g, ' ').trim());
    expect(lines).to.deep.equal(['Seccomp: 2', 'CapEff: 00000000800405fb', '0', 'ro']);
  });

  it('runs privileged with resources, seccomp off and host devices', async () => {
    const c = await prepare({
      args: ['sh', '-c', 'grep CapEff /proc/self/status; grep Seccomp: /proc/self/status; ls /dev/null /dev/zero >/dev/null && echo devs'],
      privileged: true,
      devices: await listHostDevices(),
      resources: { memory: 64 << 20, pidsLimit: 50, cpuShares: 512 },
    });
    await rt.create(c);
    const stats = await runc.stats(c.id);
    expect((stats.pids as { limit: number }).limit).to.equal(50);
    expect((stats.memory as { usage: { limit: number } }).usage.limit).to.equal(64 << 20);
    await rt.start(c.id);
    expect(await rt.waitExit(c.id, { timeoutMs: 5000 })).to.equal(0);
    const lines = (await collect(readK8sLog(c.logPath))).map((l) => l.text.replace(/\s+/g, ' '));
    const host = /CapBnd:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1];
    expect(lines).to.deep.equal([`CapEff: ${host}`, 'Seccomp: 0', 'devs']);
  });

  it('reports conmon failing before it forks, promptly', async () => {
    const c = await prepare({ args: ['true'] });
    const fake = path.join(base, 'fake-conmon');
    await fsp.writeFile(fake, '#!/bin/sh\necho "[conmon:e]: boom" >&2\nexit 1\n', { mode: 0o755 });
    const broken = new ConmonRuntime({ runc, conmonPath: fake, exitDir: rt.exitDir, socketDir: rt.socketDir });
    const t0 = Date.now();
    try {
      await broken.create(c);
      expect.fail('should fail');
    } catch (err) {
      expect(err).to.be.instanceOf(EngineError);
      expect((err as Error).message).to.match(/conmon failed \(1\): \[conmon:e\]: boom/);
    }
    expect(Date.now() - t0).to.be.lessThan(2000);
  });

  it('reports runc errors with their kind', async () => {
    for (const call of [() => runc.state('nope-' + prefix), () => runc.kill('nope-' + prefix, 'KILL'), () => runc.pause('nope-' + prefix)]) {
      try {
        await call();
        expect.fail('should fail');
      } catch (err) {
        expect(err).to.be.instanceOf(EngineError);
        expect((err as EngineError).kind).to.equal('not-found');
        expect((err as Error).message).to.equal('container does not exist');
      }
    }
    try {
      await runc.kill('x', 'SIGNOPE');
      expect.fail('should fail');
    } catch (err) {
      expect((err as EngineError).kind).to.equal('invalid-argument');
    }
  });

  it('clamps rlimits to the host hard limits', async () => {
    const hostNofile = facts.hardLimits.RLIMIT_NOFILE;
    const c = await prepare({
      args: ['sh', '-c', 'echo "$(ulimit -Sn) $(ulimit -Hn)"; echo "$(ulimit -Sc) $(ulimit -Hc)"'],
      rlimits: [
        { type: 'nofile', soft: 4_000_000, hard: 4_000_000 },
        { type: 'core', soft: 1024, hard: 4096 },
      ],
    });
    await rt.create(c);
    await rt.start(c.id);
    expect(await rt.waitExit(c.id, { timeoutMs: 5000 })).to.equal(0);
    const lines = (await collect(readK8sLog(c.logPath))).map((l) => l.text);
    const expected = hostNofile === undefined || hostNofile === 'unlimited' ? '4000000 4000000' : `${hostNofile} ${hostNofile}`;
    expect(lines).to.deep.equal([expected, '2 8']); // busybox ulimit -c reports 1024-byte blocks
  });

  it('runs with a terminal (conmon -t)', async () => {
    const c = await prepare({ args: ['sh', '-c', 'tty; echo done'], terminal: true, env: ['TERM=xterm'] });
    await rt.create({ ...c, terminal: true });
    await rt.start(c.id);
    expect(await rt.waitExit(c.id, { timeoutMs: 5000 })).to.equal(0);
    const lines = (await collect(readK8sLog(c.logPath))).map((l) => l.text.replace(/\r$/, ''));
    expect(lines).to.deep.equal(['/dev/pts/0', 'done']);
  });

  it('attaches through the SEQPACKET socket: stdin in, stdout and stderr out', async () => {
    const c = await prepare({ args: ['sh', '-c', 'while read x; do echo "out:$x"; echo "err:$x" >&2; done; echo bye'] });
    await rt.create({ ...c, stdin: true });
    const session = await attachContainer(c.bundle);
    const frames: AttachFrame[] = [];
    session.output.on('data', (f: AttachFrame) => frames.push(f));
    const ended = new Promise((r) => session.output.once('end', r));
    await rt.start(c.id);
    session.stdin.write('one\n');
    session.stdin.end('two\n');
    expect(await rt.waitExit(c.id, { timeoutMs: 5000 })).to.equal(0);
    await ended;
    await session.closed;
    const text = (stream: string) =>
      Buffer.concat(frames.filter((f) => f.stream === stream).map((f) => f.data)).toString();
    expect(text('stdout')).to.equal('out:one\nout:two\nbye\n');
    expect(text('stderr')).to.equal('err:one\nerr:two\n');
    // the log has it too
    const lines = (await collect(readK8sLog(c.logPath))).map((l) => `${l.stream}:${l.text}`);
    expect(lines).to.include.members(['stdout:out:one', 'stderr:err:two', 'stdout:bye']);
  });

  it('resizes the terminal through the ctl fifo', async () => {
    const c = await prepare({ args: ['sh', '-c', 'sleep 0.4; stty size'], terminal: true });
    await rt.create({ ...c, terminal: true });
    const session = await attachContainer(c.bundle);
    const frames: AttachFrame[] = [];
    session.output.on('data', (f: AttachFrame) => frames.push(f));
    await rt.start(c.id);
    await rt.resize(c.bundle, { height: 30, width: 100 });
    expect(await rt.waitExit(c.id, { timeoutMs: 5000 })).to.equal(0);
    await session.closed;
    expect(Buffer.concat(frames.map((f) => f.data)).toString()).to.contain('30 100');
    session.close();
  });

  it('refuses to attach to a container without conmon', async () => {
    try {
      await attachContainer(path.join(base, 'no-such-bundle'));
      expect.fail('should fail');
    } catch (err) {
      expect(err).to.be.instanceOf(EngineError);
      expect((err as Error).message).to.match(/cannot attach/);
    }
  });

  it('creates, starts and waits for `true` quickly', async () => {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const c = await prepare({ args: ['true'] });
      const t0 = performance.now();
      await rt.create(c);
      await rt.start(c.id);
      expect(await rt.waitExit(c.id, { timeoutMs: 5000 })).to.equal(0);
      times.push(performance.now() - t0);
      await rt.cleanup(c.id, { bundle: c.bundle });
    }
    times.sort((a, b) => a - b);
    const median = times[2]!;
    console.log(`      create+start+wait(true): median ${median.toFixed(1)} ms, min ${times[0]!.toFixed(1)} ms, max ${times[4]!.toFixed(1)} ms`);
    expect(median).to.be.lessThan(400);
  });
});
