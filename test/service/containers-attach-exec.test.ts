// Black-box: attach and exec over hijacked connections, as the docker CLI and podman-remote
// drive them (101 UPGRADED with Upgrade:, 200 OK without), with real containers.
import { expect } from 'chai';
import { assertMatchesSchema } from '../helpers/schema.js';
import { TestService, waitFor } from '../helpers/service.js';
import { loadBusyboxImage } from '../helpers/test-image.js';
import {
  canRunContainers,
  createContainer,
  demux,
  hijackRequest,
  inspect,
  runContainer,
  shutdown,
  startWithImage,
  textOf,
  waitExit,
} from '../helpers/containers.js';

(canRunContainers() ? describe : describe.skip)('containers: attach and exec (real containers)', function () {
  this.timeout(60_000);
  let svc: TestService;

  before(async function () {
    svc = await startWithImage();
  });
  after(async function () {
    await shutdown(svc);
  });

  it('attaches before start (docker run): all output, stdout and stderr in their own frames', async () => {
    const id = await createContainer(svc, { AttachStdout: true, AttachStderr: true, Cmd: ['sh', '-c', 'echo one; echo two >&2; echo three'] });
    const h = await hijackRequest(svc.socketPath, 'POST', `/v1.40/containers/${id}/attach?stream=1&stdout=1&stderr=1`);
    expect(h.status).to.equal('HTTP/1.1 101 UPGRADED');
    expect(h.headers['content-type']).to.equal('application/vnd.docker.raw-stream');
    expect(h.headers['upgrade']).to.equal('tcp');
    const wait = waitExit(svc, id, 'next-exit');
    expect((await svc.request('POST', `/v1.40/containers/${id}/start`)).status).to.equal(204);
    const frames = demux(await h.body);
    expect(textOf(frames, 1)).to.equal('one\nthree\n');
    expect(textOf(frames, 2)).to.equal('two\n');
    expect(await wait).to.equal(0);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('passes stdin to the container (cat echoes it) and closes it on half-close', async () => {
    const id = await createContainer(svc, { AttachStdin: true, OpenStdin: true, StdinOnce: true, Cmd: ['sh', '-c', 'cat; echo done >&2'] });
    const h = await hijackRequest(svc.socketPath, 'POST', `/v1.40/containers/${id}/attach?stream=1&stdin=1&stdout=1&stderr=1`);
    await svc.request('POST', `/v1.40/containers/${id}/start`);
    h.socket.write('hello\nworld\n');
    h.socket.end();
    const frames = demux(await h.body);
    expect(textOf(frames, 1)).to.equal('hello\nworld\n');
    expect(textOf(frames, 2)).to.equal('done\n');
    expect(await waitExit(svc, id)).to.equal(0);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('attaches to a TTY container: raw output, input through the terminal', async () => {
    const id = await createContainer(svc, { Tty: true, AttachStdin: true, OpenStdin: true, StdinOnce: true, Cmd: ['sh', '-c', 'read x; echo "got $x"'] });
    const h = await hijackRequest(svc.socketPath, 'POST', `/v1.40/containers/${id}/attach?stream=1&stdin=1&stdout=1&stderr=1`);
    await svc.request('POST', `/v1.40/containers/${id}/start`);
    h.socket.write('abc\r');
    const body = (await h.body).toString();
    expect(body).to.contain('got abc\r\n');
    expect(await waitExit(svc, id)).to.equal(0);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('attaches to a running container without Upgrade (200 OK), and replays logs with logs=1', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'echo early; sleep 0.8; echo late'] });
    await new Promise((r) => setTimeout(r, 300));
    const h = await hijackRequest(svc.socketPath, 'POST', `/v5.1.0/libpod/containers/${id}/attach?stream=true&logs=true&stdout=true&stderr=true`, undefined, { upgrade: false });
    expect(h.status).to.equal('HTTP/1.1 200 OK');
    expect(textOf(demux(await h.body), 1)).to.equal('early\nlate\n');
    await waitExit(svc, id);
    const logsOnly = await hijackRequest(svc.socketPath, 'POST', `/v1.40/containers/${id}/attach?stream=0&logs=1&stdout=1`);
    expect(textOf(demux(await logsOnly.body), 1)).to.equal('early\nlate\n');
    const missing = await svc.request('POST', '/v1.40/containers/nope/attach?stream=1&stdout=1');
    expect(missing.status).to.equal(404);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('detaches with the detach keys, leaving the container running', async () => {
    const id = await runContainer(svc, { Tty: true, OpenStdin: true, Cmd: ['sh'] });
    const h = await hijackRequest(svc.socketPath, 'POST', `/v1.40/containers/${id}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x,x`);
    h.socket.write('echo hi\r');
    await new Promise((r) => setTimeout(r, 300));
    h.socket.write(Buffer.from([24, 0x78]));
    await h.body;
    expect((await inspect(svc, id)).State.Status).to.equal('running');
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('execs: frames, exit code in inspect once the stream ends, schema-valid answers', async () => {
    const id = await runContainer(svc, { Cmd: ['sleep', '300'] });
    const c = await svc.request('POST', `/v1.40/containers/${id}/exec`, { body: { AttachStdout: true, AttachStderr: true, Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 7'], Env: null } });
    expect(c.status, c.text).to.equal(201);
    assertMatchesSchema('docker', 'ContainerExec', 201, c.json());
    const eid = c.json().Id as string;
    const pre = await svc.request('GET', `/v1.40/exec/${eid}/json`);
    expect(pre.json()).to.include({ Running: false, ContainerID: id });
    const h = await hijackRequest(svc.socketPath, 'POST', `/v1.40/exec/${eid}/start`, { Detach: false, Tty: false });
    expect(h.status).to.equal('HTTP/1.1 101 UPGRADED');
    const frames = demux(await h.body);
    expect(textOf(frames, 1)).to.equal('out\n');
    expect(textOf(frames, 2)).to.equal('err\n');
    const ins = await svc.request('GET', `/v1.40/exec/${eid}/json`);
    assertMatchesSchema('docker', 'ExecInspect', 200, ins.json());
    expect(ins.json()).to.include({ Running: false, ExitCode: 7, ID: eid });
    expect(ins.json().ProcessConfig).to.include({ entrypoint: 'sh' });
    const lp = await svc.request('GET', `/v5.1.0/libpod/exec/${eid}/json`);
    expect(lp.json()).to.include({ ExitCode: 7, Running: false });
    expect((await inspect(svc, id)).ExecIDs).to.include(eid);
    const again = await svc.request('POST', `/v1.40/exec/${eid}/start`, { body: { Detach: true } });
    expect(again.status).to.equal(409);
    expect((await svc.request('GET', '/v1.40/exec/nope/json')).status).to.equal(404);
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('exec: stdin, TTY with resize, user and workdir, detached, errors', async () => {
    const id = await runContainer(svc, { Cmd: ['sleep', '300'] });
    const mk = async (body: object) => (await svc.request('POST', `/v1.40/containers/${id}/exec`, { body })).json().Id as string;
    // stdin
    const e1 = await mk({ AttachStdin: true, AttachStdout: true, Cmd: ['cat'] });
    const h1 = await hijackRequest(svc.socketPath, 'POST', `/v1.40/exec/${e1}/start`, { Detach: false });
    h1.socket.end('piped input\n');
    expect(textOf(demux(await h1.body), 1)).to.equal('piped input\n');
    // TTY with an initial size, through podman-remote's path (no Upgrade header)
    const e2 = await mk({ Tty: true, AttachStdout: true, Cmd: ['sh', '-c', 'stty size; tty'] });
    const h2 = await hijackRequest(svc.socketPath, 'POST', `/v5.1.0/libpod/exec/${e2}/start`, { Detach: false, Tty: true, h: 33, w: 111 }, { upgrade: false });
    expect(h2.status).to.equal('HTTP/1.1 200 OK');
    const out2 = (await h2.body).toString();
    expect(out2).to.match(/^33 111\r\n\/dev\/pts\/\d+\r\n$/);
    // user and working directory
    const e3 = await mk({ AttachStdout: true, User: 'nobody', WorkingDir: '/tmp', Cmd: ['sh', '-c', 'id -u; pwd'] });
    const h3 = await hijackRequest(svc.socketPath, 'POST', `/v1.40/exec/${e3}/start`, {});
    expect(textOf(demux(await h3.body), 1)).to.equal('65534\n/tmp\n');
    // detached
    const e4 = await mk({ Cmd: ['sh', '-c', 'sleep 0.3; exit 4'] });
    const d = await svc.request('POST', `/v1.40/exec/${e4}/start`, { body: { Detach: true } });
    expect(d.status).to.equal(200);
    await waitFor(async () => (await svc.request('GET', `/v1.40/exec/${e4}/json`)).json().Running === false, 5000, 'detached exec to end');
    expect((await svc.request('GET', `/v1.40/exec/${e4}/json`)).json().ExitCode).to.equal(4);
    // a command that does not exist: the error in the stream, 127 in inspect
    const e5 = await mk({ AttachStdout: true, AttachStderr: true, Cmd: ['no-such-command'] });
    const h5 = await hijackRequest(svc.socketPath, 'POST', `/v1.40/exec/${e5}/start`, {});
    expect(textOf(demux(await h5.body), 2)).to.match(/executable file not found/);
    expect((await svc.request('GET', `/v1.40/exec/${e5}/json`)).json().ExitCode).to.equal(127);
    // empty command, stopped container
    expect((await svc.request('POST', `/v1.40/containers/${id}/exec`, { body: { Cmd: [] } })).status).to.equal(400);
    await svc.request('POST', `/v1.40/containers/${id}/kill`);
    await waitExit(svc, id);
    expect((await svc.request('POST', `/v1.40/containers/${id}/exec`, { body: { Cmd: ['true'] } })).status).to.equal(409);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('resizes a TTY container and an exec session', async () => {
    const id = await runContainer(svc, { Tty: true, OpenStdin: true, Cmd: ['sh'] });
    expect((await svc.request('POST', `/v1.40/containers/${id}/resize?h=20&w=70`)).status).to.equal(200);
    const eid = (await svc.request('POST', `/v1.40/containers/${id}/exec`, { body: { Tty: true, AttachStdin: true, AttachStdout: true, Cmd: ['sh'] } })).json().Id as string;
    const h = await hijackRequest(svc.socketPath, 'POST', `/v1.40/exec/${eid}/start`, { Tty: true });
    expect((await svc.request('POST', `/v1.40/exec/${eid}/resize?h=44&w=99`)).status).to.equal(200);
    await new Promise((r) => setTimeout(r, 100));
    h.socket.write('stty size; exit\r');
    expect((await h.body).toString()).to.contain('44 99');
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('keeps an idle-timed service up while a hijacked session lasts', async function () {
    const idle = await TestService.start({ time: 1 });
    try {
      await loadBusyboxImage(idle);
      const id = await runContainer(idle, { Cmd: ['sh', '-c', 'sleep 3; echo bye'] });
      const h = await hijackRequest(idle.socketPath, 'POST', `/v1.40/containers/${id}/attach?stream=1&stdout=1`);
      expect(textOf(demux(await h.body), 1)).to.equal('bye\n');
      expect(idle.running).to.equal(true);
      await idle.request('DELETE', `/v1.40/containers/${id}?force=1`);
      await waitFor(() => !idle.running, 8000, 'the idle service to exit');
    } finally {
      await shutdown(idle).catch(() => {});
    }
  });

  it('cuts a hijacked session at once on SIGTERM, leaving the container running', async function () {
    const svc2 = await TestService.start({ time: 0 });
    try {
      await loadBusyboxImage(svc2);
      const id = await runContainer(svc2, { Cmd: ['sleep', '300'] });
      const h = await hijackRequest(svc2.socketPath, 'POST', `/v1.40/containers/${id}/attach?stream=1&stdout=1`);
      expect(h.status).to.equal('HTTP/1.1 101 UPGRADED');
      const t0 = Date.now();
      svc2.proc.kill('SIGTERM');
      await h.body;
      expect(await svc2.exited).to.equal(0);
      // At once, not after the 10-second grace for requests in flight.
      expect(Date.now() - t0).to.be.below(5000);
      await svc2.start({ time: 0 });
      expect((await inspect(svc2, id)).State.Running).to.equal(true);
      await svc2.request('DELETE', `/v1.40/containers/${id}?force=1`);
    } finally {
      await shutdown(svc2).catch(() => {});
    }
  });
});
