// Black-box: the container lifecycle through the API, with real containers (runc under conmon)
// from the busybox test image.
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertMatchesSchema } from '../helpers/schema.js';
import { waitFor, type TestService } from '../helpers/service.js';
import {
  IMAGE,
  canRunContainers,
  conmonsMentioning,
  mountsUnder,
  runcStates,
  createContainer,
  demux,
  inspect,
  runContainer,
  shutdown,
  startWithImage,
  textOf,
  waitExit,
} from '../helpers/containers.js';

const fixture = JSON.parse(readFileSync(new URL('../../../../shared/notes/fixtures/docker28-containers-create.json', import.meta.url), 'utf8')) as Record<string, any>;

(canRunContainers() ? describe : describe.skip)('containers: lifecycle (real containers)', function () {
  this.timeout(60_000);
  let svc: TestService;

  before(async function () {
    svc = await startWithImage();
  });
  after(async function () {
    await shutdown(svc);
  });

  it('creates from the docker CLI body, answers schema-valid inspect and list, and removes', async () => {
    const body = { ...fixture, Image: IMAGE, Cmd: ['sh', '-c', 'echo hi'], HostConfig: { ...fixture.HostConfig, Binds: ['/tmp:/hosttmp'] } };
    const r = await svc.request('POST', '/v1.40/containers/create?name=fixture1', { body });
    expect(r.status, r.text).to.equal(201);
    assertMatchesSchema('docker', 'ContainerCreate', 201, r.json());
    const id = r.json().Id as string;
    expect(id).to.match(/^[0-9a-f]{64}$/);
    const ins = await svc.request('GET', '/v1.40/containers/fixture1/json');
    expect(ins.status).to.equal(200);
    assertMatchesSchema('docker', 'ContainerInspect', 200, ins.json());
    const j = ins.json();
    expect(j.Name).to.equal('/fixture1');
    expect(j.State.Status).to.equal('created');
    expect(j.Config.Env).to.include('A=B');
    expect(j.Config.Env.some((e: string) => e.startsWith('PATH='))).to.equal(true);
    expect(j.Config.Cmd).to.deep.equal(['sh', '-c', 'echo hi']);
    expect(j.HostConfig.Binds).to.deep.equal(['/tmp:/hosttmp']);
    expect(j.Mounts[0]).to.include({ Type: 'bind', Source: '/tmp', Destination: '/hosttmp', RW: true });
    expect(j.Image).to.match(/^sha256:[0-9a-f]{64}$/);
    const lp = await svc.request('GET', `/v5.1.0/libpod/containers/${id}/json?size=true`);
    expect(lp.status).to.equal(200);
    assertMatchesSchema('libpod', 'ContainerInspectLibpod', 200, lp.json());
    expect(lp.json().SizeRw).to.be.a('number');
    const list = await svc.request('GET', '/v1.40/containers/json?all=1');
    assertMatchesSchema('docker', 'ContainerList', 200, list.json());
    expect(list.json().map((c: any) => c.Id)).to.include(id);
    const notAll = await svc.request('GET', '/v1.40/containers/json');
    expect(notAll.json().map((c: any) => c.Id)).not.to.include(id);
    const lpl = await svc.request('GET', '/v5.1.0/libpod/containers/json?all=true');
    assertMatchesSchema('libpod', 'ContainerListLibpod', 200, lpl.json());
    expect(lpl.json().find((c: any) => c.Id === id).State).to.equal('created');
    const del = await svc.request('DELETE', `/v1.40/containers/${id}`);
    expect(del.status).to.equal(204);
    expect((await svc.request('GET', `/v1.40/containers/${id}/json`)).status).to.equal(404);
    expect(existsSync(join(svc.root, 'containers', id))).to.equal(false);
  });

  it('generates adjective_surname names and refuses a taken name with 409', async () => {
    const id = await createContainer(svc, { Cmd: ['true'] });
    const j = await inspect(svc, id);
    expect(j.Name).to.match(/^\/[a-z]+_[a-z]+\d*$/);
    const dup = await svc.request('POST', `/v1.40/containers/create?name=${j.Name.slice(1)}`, { body: { Image: IMAGE } });
    expect(dup.status).to.equal(409);
    expect(dup.headers['content-type']).to.equal('application/json');
    expect(dup.json().message).to.match(/already in use/);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('refuses bad input with 400 naming the field, and creates nothing', async () => {
    const before = (await svc.request('GET', '/v1.40/containers/json?all=1')).json().length;
    const dirs = readdirSync(join(svc.root, 'containers')).length;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ HostConfig: { RestartPolicy: { Name: 'sometimes' } } }, /RestartPolicy/],
      [{ HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 3 } } }, /RestartPolicy.*on-failure/],
      [{ HostConfig: { Memory: '12qq' } }, /HostConfig\.Memory/],
      [{ HostConfig: { Binds: ['relative/path:/x'] } }, /Binds\[0\].*absolute/],
      [{ HostConfig: { Binds: ['/no/such/dir/anywhere:/x'] } }, /no\/such\/dir/],
      [{ StopSignal: 'SIGNOPE' }, /StopSignal.*invalid signal/],
      [{ HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': 'lots' } } } }, /max-size/],
      [{ HostConfig: { Sysctls: { 'kernel.panic': '1' } } }, /sysctl/],
      [{ HostConfig: { CapAdd: ['CAP_NOPE'] } }, /capability/],
      [{ WorkingDir: 'relative' }, /WorkingDir/],
    ];
    for (const [body, re] of cases) {
      const r = await svc.request('POST', '/v1.40/containers/create', { body: { Image: IMAGE, Cmd: ['true'], ...body } });
      expect(r.status, `${JSON.stringify(body)}: ${r.text}`).to.equal(400);
      expect(r.json().message, JSON.stringify(body)).to.match(re);
    }
    const lp = await svc.request('POST', '/v5.1.0/libpod/containers/create', { body: { image: IMAGE, restart_policy: 'whenever' } });
    expect(lp.status).to.equal(400);
    expect(lp.json()).to.include({ response: 400 });
    expect(lp.json().message).to.match(/restart_policy/);
    const noImage = await svc.request('POST', '/v1.40/containers/create', { body: { Image: 'localhost/nope:latest' } });
    expect(noImage.status).to.equal(404);
    expect(noImage.json().message).to.match(/No such image|no such image/i);
    expect((await svc.request('GET', '/v1.40/containers/json?all=1')).json().length).to.equal(before);
    expect(readdirSync(join(svc.root, 'containers')).length).to.equal(dirs);
  });

  it('answers a runc failure at start with 500 carrying runc\'s error, leaving nothing behind', async () => {
    const id = await createContainer(svc, { Cmd: ['/no/such/binary'] });
    const r = await svc.request('POST', `/v1.40/containers/${id}/start`);
    expect(r.status).to.equal(500);
    expect(r.json().message).to.match(/\/no\/such\/binary.*no such file or directory/);
    const j = await inspect(svc, id);
    expect(j.State.Status).to.equal('created');
    expect(j.State.Error).to.match(/no such file or directory/);
    expect(j.State.ExitCode).to.equal(127);
    expect(mountsUnder(join(svc.root, 'containers', id))).to.deep.equal([]);
    expect(existsSync(join(svc.runroot, 'containers', id))).to.equal(false);
    expect(runcStates(svc)).to.deep.equal([]);
    expect(conmonsMentioning(id)).to.deep.equal([]);
    // A user that does not exist fails the same way, before runc.
    const u = await createContainer(svc, { User: 'nosuchuser', Cmd: ['true'] });
    const ru = await svc.request('POST', `/v1.40/containers/${u}/start`);
    expect(ru.status).to.equal(500);
    expect(ru.json().message).to.match(/unable to find user nosuchuser/);
    expect(mountsUnder(join(svc.root, 'containers', u))).to.deep.equal([]);
    for (const c of [id, u]) expect((await svc.request('DELETE', `/v1.40/containers/${c}`)).status).to.equal(204);
  });

  it('runs a container to its exit code; start answers 304 when running, stop 304 when stopped', async () => {
    const id = await createContainer(svc, { Cmd: ['sh', '-c', 'sleep 0.5; exit 3'] });
    const wait = waitExit(svc, id, 'next-exit');
    expect((await svc.request('POST', `/v1.40/containers/${id}/start`)).status).to.equal(204);
    expect((await svc.request('POST', `/v1.40/containers/${id}/start`)).status).to.equal(304);
    expect(await wait).to.equal(3);
    const j = await inspect(svc, id);
    expect(j.State).to.include({ Status: 'exited', Running: false, ExitCode: 3, Pid: 0 });
    expect(Date.parse(j.State.FinishedAt)).to.be.greaterThan(Date.parse(j.State.StartedAt));
    expect((await svc.request('POST', `/v1.40/containers/${id}/stop`)).status).to.equal(304);
    const lw = await svc.request('POST', `/v5.1.0/libpod/containers/${id}/wait`);
    expect(lw.status).to.equal(200);
    expect(lw.json()).to.equal(3);
    // A second run starts from the stopped state.
    expect((await svc.request('POST', `/v1.40/containers/${id}/start`)).status).to.equal(204);
    expect(await waitExit(svc, id, 'next-exit')).to.equal(3);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('keeps stdout and stderr apart in logs (frames), with tail, timestamps and since', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'echo out1; echo err1 >&2; echo out2; printf partial'] });
    expect(await waitExit(svc, id)).to.equal(0);
    const r = await svc.request('GET', `/v1.40/containers/${id}/logs?stdout=1&stderr=1`);
    expect(r.status).to.equal(200);
    expect(r.headers['content-type']).to.equal('application/vnd.docker.multiplexed-stream');
    const frames = demux(r.body);
    expect(textOf(frames, 1)).to.equal('out1\nout2\npartial');
    expect(textOf(frames, 2)).to.equal('err1\n');
    const onlyErr = demux((await svc.request('GET', `/v1.40/containers/${id}/logs?stderr=1`)).body);
    expect(onlyErr.length).to.equal(1);
    expect(onlyErr[0]!.stream).to.equal(2);
    const ts = demux((await svc.request('GET', `/v1.40/containers/${id}/logs?stdout=1&timestamps=1`)).body);
    expect(ts[0]!.data.toString()).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z out1\n$/);
    const future = Math.floor(Date.now() / 1000) + 100;
    expect((await svc.request('GET', `/v1.40/containers/${id}/logs?stdout=1&since=${future}`)).body.length).to.equal(0);
    const none = await svc.request('GET', `/v1.40/containers/${id}/logs`);
    expect(none.status).to.equal(400);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
    const t = await runContainer(svc, { Cmd: ['sh', '-c', 'for i in 1 2 3 4 5; do echo n$i; done'] });
    await waitExit(svc, t);
    const tail = demux((await svc.request('GET', `/v1.40/containers/${t}/logs?stdout=1&stderr=1&tail=2`)).body);
    expect(textOf(tail, 1)).to.equal('n4\nn5\n');
    const tail0 = await svc.request('GET', `/v1.40/containers/${t}/logs?stdout=1&tail=0`);
    expect(tail0.body.length).to.equal(0);
    await svc.request('DELETE', `/v1.40/containers/${t}`);
  });

  it('follows logs until the container exits', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done'] });
    const t0 = Date.now();
    const r = await svc.request('GET', `/v1.40/containers/${id}/logs?stdout=1&stderr=1&follow=1`);
    expect(r.status).to.equal(200);
    expect(textOf(demux(r.body), 1)).to.equal('line1\nline2\nline3\n');
    expect(Date.now() - t0).to.be.lessThan(8000);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('raw logs with a TTY', async () => {
    const id = await runContainer(svc, { Tty: true, Cmd: ['sh', '-c', 'echo tty-out; echo tty-err >&2'] });
    await waitExit(svc, id);
    const r = await svc.request('GET', `/v1.40/containers/${id}/logs?stdout=1&stderr=1`);
    expect(r.text).to.equal('tty-out\r\ntty-err\r\n');
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('stops a process that ignores SIGTERM with SIGKILL after t', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'trap "" TERM; echo ready; while true; do sleep 0.1; done'] });
    // Not before the trap is set: a SIGTERM earlier would end the shell at once.
    await waitFor(async () => (await svc.request('GET', `/v1.40/containers/${id}/logs?stdout=1`)).body.includes('ready'), 10_000, 'the trap to be set');
    const t0 = Date.now();
    const r = await svc.request('POST', `/v1.40/containers/${id}/stop?t=1`);
    const took = Date.now() - t0;
    expect(r.status).to.equal(204);
    expect(took).to.be.within(900, 6000);
    const j = await inspect(svc, id);
    expect(j.State.ExitCode).to.equal(137);
    expect(j.State.Status).to.equal('exited');
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('stop with SIGTERM handled exits at once with the stop signal', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'trap "exit 42" TERM; while true; do sleep 0.1; done'] });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    expect((await svc.request('POST', `/v5.1.0/libpod/containers/${id}/stop?timeout=10`)).status).to.equal(204);
    expect(Date.now() - t0).to.be.lessThan(3000);
    expect((await inspect(svc, id)).State.ExitCode).to.equal(42);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('kills with a signal by name or number; 409 when not running; bad signal 400', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'trap "exit 10" USR1; trap "exit 12" USR2; while true; do sleep 0.1; done'] });
    await new Promise((r) => setTimeout(r, 200));
    expect((await svc.request('POST', `/v1.40/containers/${id}/kill?signal=BOGUS`)).status).to.equal(400);
    expect((await svc.request('POST', `/v1.40/containers/${id}/kill?signal=USR1`)).status).to.equal(204);
    expect(await waitExit(svc, id)).to.equal(10);
    const again = await svc.request('POST', `/v1.40/containers/${id}/kill`);
    expect(again.status).to.equal(409);
    expect((await svc.request('POST', `/v1.40/containers/${id}/start`)).status).to.equal(204);
    await new Promise((r) => setTimeout(r, 200));
    expect((await svc.request('POST', `/v5.1.0/libpod/containers/${id}/kill?signal=12`)).status).to.equal(204);
    expect(await waitExit(svc, id)).to.equal(12);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('pauses and unpauses (freezer); restarts', async () => {
    const id = await runContainer(svc, { Cmd: ['sleep', '300'] });
    expect((await svc.request('POST', `/v1.40/containers/${id}/pause`)).status).to.equal(204);
    let j = await inspect(svc, id);
    expect(j.State).to.include({ Status: 'paused', Paused: true, Running: true });
    expect((await svc.request('POST', `/v1.40/containers/${id}/pause`)).status).to.equal(409);
    // Attaching to a paused container is refused before any hijack (Docker: 409).
    const attach = await svc.request('POST', `/v1.40/containers/${id}/attach?stream=1&stdout=1`);
    expect(attach.status).to.equal(409);
    expect(attach.json().message).to.match(/paused/);
    expect((await svc.request('POST', `/v1.40/containers/${id}/unpause`)).status).to.equal(204);
    j = await inspect(svc, id);
    expect(j.State).to.include({ Status: 'running', Paused: false });
    const pid = j.State.Pid as number;
    expect((await svc.request('POST', `/v1.40/containers/${id}/restart?t=0`)).status).to.equal(204);
    j = await inspect(svc, id);
    expect(j.State.Status).to.equal('running');
    expect(j.State.Pid).not.to.equal(pid);
    expect((await svc.request('DELETE', `/v1.40/containers/${id}`)).status).to.equal(409);
    expect((await svc.request('DELETE', `/v1.40/containers/${id}?force=1`)).status).to.equal(204);
    expect((await svc.request('GET', `/v1.40/containers/${id}/json`)).status).to.equal(404);
  });

  it('renames (409 on a taken name) and finds containers by name, ID and ID prefix', async () => {
    const a = await createContainer(svc, { Cmd: ['true'] }, 'rename-a');
    await createContainer(svc, { Cmd: ['true'] }, 'rename-b');
    expect((await svc.request('POST', '/v1.40/containers/rename-a/rename?name=rename-b')).status).to.equal(409);
    expect((await svc.request('POST', '/v1.40/containers/rename-a/rename?name=rename-c')).status).to.equal(204);
    expect((await inspect(svc, a)).Name).to.equal('/rename-c');
    expect((await inspect(svc, a.slice(0, 12))).Id).to.equal(a);
    expect((await svc.request('GET', '/v1.40/containers/rename-a/json')).status).to.equal(404);
    expect((await svc.request('GET', '/v5.1.0/libpod/containers/rename-c/exists')).status).to.equal(204);
    expect((await svc.request('GET', '/v5.1.0/libpod/containers/rename-a/exists')).status).to.equal(404);
    await svc.request('DELETE', '/v1.40/containers/rename-c');
    await svc.request('DELETE', '/v1.40/containers/rename-b');
  });

  it('removes AutoRemove containers after they exit; wait(removed) gets the exit code', async () => {
    const id = await createContainer(svc, { Cmd: ['sh', '-c', 'exit 5'], HostConfig: { AutoRemove: true } });
    const wait = waitExit(svc, id, 'removed');
    await svc.request('POST', `/v1.40/containers/${id}/start`);
    expect(await wait).to.equal(5);
    expect((await svc.request('GET', `/v1.40/containers/${id}/json`)).status).to.equal(404);
  });

  it('applies restart policies: on-failure:2 restarts twice, always until stopped', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'exit 9'], HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } } });
    const deadline = Date.now() + 20_000;
    let j = await inspect(svc, id);
    while ((j.RestartCount < 2 || j.State.Status !== 'exited') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      j = await inspect(svc, id);
    }
    expect(j.RestartCount).to.equal(2);
    expect(j.State).to.include({ Status: 'exited', ExitCode: 9 });
    await svc.request('DELETE', `/v1.40/containers/${id}`);

    const al = await runContainer(svc, { Cmd: ['sh', '-c', 'sleep 0.2; exit 0'], HostConfig: { RestartPolicy: { Name: 'always' } } });
    const d2 = Date.now() + 20_000;
    while ((await inspect(svc, al)).RestartCount < 2 && Date.now() < d2) await new Promise((r) => setTimeout(r, 100));
    expect((await inspect(svc, al)).RestartCount).to.be.at.least(2);
    expect((await svc.request('POST', `/v1.40/containers/${al}/stop?t=1`)).status).to.be.oneOf([204, 304]);
    await new Promise((r) => setTimeout(r, 700));
    expect((await inspect(svc, al)).State.Status).to.equal('exited');
    await svc.request('DELETE', `/v1.40/containers/${al}?force=1`);
  });

  it('filters the list: status, exited, label, name, id, ancestor, before/since, limit', async () => {
    const a = await runContainer(svc, { Cmd: ['sh', '-c', 'exit 4'], Labels: { team: 'red' } }, 'flt-a');
    await waitExit(svc, a);
    await runContainer(svc, { Cmd: ['sleep', '100'], Labels: { team: 'blue' } }, 'flt-b');
    const q = async (filters: object, extra = '') => {
      const r = await svc.request('GET', `/v1.40/containers/json?all=1${extra}&filters=${encodeURIComponent(JSON.stringify(filters))}`);
      expect(r.status, r.text).to.equal(200);
      return (r.json() as any[]).map((c) => c.Names[0]);
    };
    expect(await q({ status: { exited: true }, name: ['flt-'] })).to.deep.equal(['/flt-a']);
    expect(await q({ status: ['running'], name: ['flt'] })).to.deep.equal(['/flt-b']);
    expect(await q({ exited: ['4'], name: ['flt-'] })).to.deep.equal(['/flt-a']);
    expect(await q({ label: { 'team=blue': true }, name: ['flt-'] })).to.deep.equal(['/flt-b']);
    expect(await q({ label: ['team'], name: ['flt-'] })).to.have.members(['/flt-a', '/flt-b']);
    expect(await q({ id: [a.slice(0, 10)] })).to.deep.equal(['/flt-a']);
    expect(await q({ ancestor: [IMAGE], name: ['flt-'] })).to.have.members(['/flt-a', '/flt-b']);
    expect(await q({ since: ['flt-a'], name: ['flt-'] })).to.deep.equal(['/flt-b']);
    expect(await q({ before: ['flt-b'], name: ['flt-'] })).to.deep.equal(['/flt-a']);
    expect(await q({ name: ['flt-'] }, '&limit=1')).to.deep.equal(['/flt-b']);
    expect((await svc.request('GET', `/v1.40/containers/json?filters=${encodeURIComponent('{"bogus":["x"]}')}`)).status).to.equal(400);
    expect((await svc.request('GET', '/v1.40/containers/json?filters=notjson')).status).to.equal(400);
    const lp = await svc.request('GET', `/v5.1.0/libpod/containers/json?all=true&filters=${encodeURIComponent('{"label":["team=red"]}')}`);
    expect((lp.json() as any[]).map((c) => c.Names[0])).to.deep.equal(['flt-a']);
    await svc.request('DELETE', '/v1.40/containers/flt-a');
    await svc.request('DELETE', '/v1.40/containers/flt-b?force=1');
  });

  it('records events for each state change', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'exit 2'] }, 'evt1');
    await waitExit(svc, id);
    await svc.request('POST', '/v1.40/containers/evt1/rename?name=evt2');
    await svc.request('DELETE', '/v1.40/containers/evt2');
    const until = Math.floor(Date.now() / 1000) + 1;
    const r = await svc.request('GET', `/v1.40/events?since=${since}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ container: [id] }))}`);
    const events = r.text.trim().split('\n').map((l) => JSON.parse(l));
    const actions = events.map((e) => e.Action);
    expect(actions).to.include.members(['create', 'start', 'die', 'rename', 'remove']);
    expect(events.find((e) => e.Action === 'die').Actor.Attributes.exitCode).to.equal('2');
  });

  it('libpod: create from a SpecGenerator, init, start, wait, mount/unmount, remove report', async () => {
    const c = await svc.request('POST', '/v5.1.0/libpod/containers/create', {
      body: { image: IMAGE, name: 'lp1', command: ['sh', '-c', 'echo $FOO; exit 6'], env: { FOO: 'bar' }, labels: { x: 'y' }, restart_policy: 'no' },
    });
    expect(c.status, c.text).to.equal(201);
    assertMatchesSchema('libpod', 'ContainerCreateLibpod', 201, c.json());
    expect((await svc.request('POST', '/v5.1.0/libpod/containers/lp1/init')).status).to.equal(204);
    expect((await svc.request('POST', '/v5.1.0/libpod/containers/lp1/init')).status).to.equal(304);
    expect((await svc.request('POST', '/v5.1.0/libpod/containers/lp1/start')).status).to.equal(204);
    const w = await svc.request('POST', '/v5.1.0/libpod/containers/lp1/wait?condition=exited');
    expect(w.json()).to.equal(6);
    const logs = await svc.request('GET', '/v5.1.0/libpod/containers/lp1/logs?stdout=true');
    expect(textOf(demux(logs.body), 1)).to.equal('bar\n');
    const m = await svc.request('POST', '/v5.1.0/libpod/containers/lp1/mount');
    expect(m.status).to.equal(200);
    const mp = m.json() as string;
    expect(existsSync(join(mp, 'bin/busybox'))).to.equal(true);
    const shown = await svc.request('GET', '/v5.1.0/libpod/containers/showmounted');
    expect(shown.json()[c.json().Id]).to.equal(mp);
    expect((await svc.request('POST', '/v5.1.0/libpod/containers/lp1/unmount')).status).to.equal(204);
    expect(existsSync(join(mp, 'bin/busybox'))).to.equal(false);
    const rm = await svc.request('DELETE', '/v5.1.0/libpod/containers/lp1');
    expect(rm.status).to.equal(200);
    assertMatchesSchema('libpod', 'ContainerDeleteLibpod', 200, rm.json());
    expect(rm.json()[0].Id).to.equal(c.json().Id);
    expect((await svc.request('DELETE', '/v5.1.0/libpod/containers/lp1?ignore=true')).status).to.equal(200);
  });

  it('prunes stopped containers', async () => {
    const a = await runContainer(svc, { Cmd: ['true'] });
    await waitExit(svc, a);
    const b = await runContainer(svc, { Cmd: ['sleep', '100'] });
    const r = await svc.request('POST', '/v1.40/containers/prune');
    expect(r.status).to.equal(200);
    assertMatchesSchema('docker', 'ContainerPrune', 200, r.json());
    expect(r.json().ContainersDeleted).to.include(a);
    expect(r.json().ContainersDeleted).not.to.include(b);
    await svc.request('DELETE', `/v1.40/containers/${b}?force=1`);
  });
});
