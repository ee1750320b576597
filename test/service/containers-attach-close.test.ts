// Black-box: no stdin is lost when an attach or exec client goes away. The client writes 2 MiB
// (far more than the pipes and buffers between it and the container hold, so much of it is
// still on its way; with a quarter of that the old relay, killed at once, lost bytes only now
// and then on a fast machine) and leaves at once: by half-closing, by closing the whole
// connection, with a websocket close frame, or with the detach keys. Every byte must reach the
// container. What happens to the container's stdin afterwards is as before: closed with
// StdinOnce, left open (a second attach can still write) with OpenStdin alone.
import { expect } from 'chai';
import type { Socket } from 'node:net';
import { TestService, waitFor } from '../helpers/service.js';
import { canRunContainers, createContainer, demux, hijackRequest, inspect, runContainer, shutdown, startWithImage, textOf, waitExit } from '../helpers/containers.js';
import { clientFrame, rawWebSocket } from '../helpers/websocket.js';

const N = 2 * 1024 * 1024;
/** N bytes of letters: nothing a terminal or the detach keys would take for a control character. */
const payload = (n = N) => Buffer.from(Array.from({ length: n }, (_, i) => 97 + (i % 26)));
/** A script that reads stdin into /tmp/in and exits 0 only if exactly N bytes came. */
const countIn = `cat > /tmp/in; n=$(wc -c < /tmp/in); echo "got $n" >&2; [ "$n" -eq ${N} ]`;
/** Writes everything to the kernel, then closes the whole socket (not a half-close). */
const writeAndClose = (socket: Socket, data: Buffer) => socket.write(data, () => socket.destroy());

(canRunContainers() ? describe : describe.skip)('containers: stdin survives the client leaving (real containers)', function () {
  this.timeout(90_000);
  let svc: TestService;

  before(async function () {
    svc = await startWithImage();
  });
  after(async function () {
    await shutdown(svc);
  });

  /** stdout of `cmd` run with exec in container `id`. */
  const execOut = async (id: string, cmd: string[]): Promise<string> => {
    const e = await svc.request('POST', `/v1.40/containers/${id}/exec`, { body: { AttachStdout: true, Cmd: cmd } });
    const h = await hijackRequest(svc.socketPath, 'POST', `/v1.40/exec/${e.json().Id}/start`, {});
    return textOf(demux(await h.body), 1);
  };
  const bytesIn = async (id: string) => Number((await execOut(id, ['sh', '-c', 'wc -c < /tmp/in'])).trim());
  const logsOf = async (id: string) => (await svc.request('GET', `/v1.40/containers/${id}/logs?stdout=1&stderr=1`)).text;

  it('hijacked attach, half-close: every byte reaches the container, then its stdin closes (StdinOnce)', async () => {
    const id = await createContainer(svc, { AttachStdin: true, OpenStdin: true, StdinOnce: true, Cmd: ['sh', '-c', countIn] });
    const h = await hijackRequest(svc.socketPath, 'POST', `/v1.40/containers/${id}/attach?stream=1&stdin=1&stdout=1&stderr=1`);
    expect((await svc.request('POST', `/v1.40/containers/${id}/start`)).status).to.equal(204);
    h.socket.end(payload());
    // After the half-close the output still comes: the count, from the container's stderr.
    expect(textOf(demux(await h.body), 2)).to.equal(`got ${N}\n`);
    expect(await waitExit(svc, id)).to.equal(0);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('hijacked attach, full close: every byte reaches the container, then its stdin closes (StdinOnce)', async () => {
    const id = await runContainer(svc, { OpenStdin: true, StdinOnce: true, Cmd: ['sh', '-c', countIn] });
    const h = await hijackRequest(svc.socketPath, 'POST', `/v1.40/containers/${id}/attach?stream=1&stdin=1&stdout=1&stderr=1`);
    writeAndClose(h.socket, payload());
    const code = await waitExit(svc, id);
    expect(code, await logsOf(id)).to.equal(0);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('hijacked attach, detach keys: the bytes before them reach the container, none after; stdin stays open without StdinOnce', async () => {
    const id = await runContainer(svc, { OpenStdin: true, Cmd: ['sh', '-c', 'cat > /tmp/in'] });
    const path = `/v1.40/containers/${id}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x,x`;
    const h = await hijackRequest(svc.socketPath, 'POST', path);
    h.socket.write(Buffer.concat([payload(), Buffer.from([24, 0x78]), Buffer.from('after the keys')]));
    await h.body;
    await waitFor(async () => (await bytesIn(id)) === N, 30_000, `${N} bytes in /tmp/in`);
    // The container's stdin is still open: a second client's bytes get there too.
    const again = await hijackRequest(svc.socketPath, 'POST', path);
    again.socket.write(Buffer.concat([Buffer.from('more'), Buffer.from([24, 0x78])]));
    await again.body;
    await waitFor(async () => (await bytesIn(id)) === N + 4, 30_000, `${N + 4} bytes in /tmp/in`);
    expect((await execOut(id, ['sh', '-c', 'tail -c 4 /tmp/in']))).to.equal('more');
    expect((await inspect(svc, id)).State.Status).to.equal('running');
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('websocket attach, close frame right after the data: every byte reaches the container (StdinOnce)', async () => {
    const id = await runContainer(svc, { OpenStdin: true, StdinOnce: true, Cmd: ['sh', '-c', countIn] });
    const ws = await rawWebSocket(svc.socketPath, `/v1.40/containers/${id}/attach/ws?stream=1`);
    expect(ws.status).to.equal('HTTP/1.1 101 Switching Protocols');
    ws.socket.write(Buffer.concat([clientFrame(0x2, payload()), clientFrame(0x8, Buffer.from([0x03, 0xe8]))]));
    await ws.ended;
    const code = await waitExit(svc, id);
    expect(code, await logsOf(id)).to.equal(0);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('websocket attach, close frame without StdinOnce: every byte arrives and stdin stays open for the next client', async () => {
    const id = await runContainer(svc, { OpenStdin: true, Cmd: ['sh', '-c', 'cat > /tmp/in'] });
    const path = `/v1.40/containers/${id}/attach/ws?stream=1`;
    const ws = await rawWebSocket(svc.socketPath, path);
    ws.socket.write(Buffer.concat([clientFrame(0x2, payload()), clientFrame(0x8, Buffer.from([0x03, 0xe8]))]));
    await ws.ended;
    await waitFor(async () => (await bytesIn(id)) === N, 30_000, `${N} bytes in /tmp/in`);
    // The client dropping the TCP connection without a close frame is the same.
    const again = await rawWebSocket(svc.socketPath, path);
    writeAndClose(again.socket, clientFrame(0x2, 'more'));
    await again.ended;
    await waitFor(async () => (await bytesIn(id)) === N + 4, 30_000, `${N + 4} bytes in /tmp/in`);
    expect((await inspect(svc, id)).State.Status).to.equal('running');
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('exec start with stdin, full close: every byte reaches the process, with and without a TTY', async () => {
    const id = await runContainer(svc, { Cmd: ['sleep', '300'] });
    const finished = async (eid: string) => {
      await waitFor(async () => (await svc.request('GET', `/v1.40/exec/${eid}/json`)).json().Running === false, 30_000, `exec ${eid} to end`);
      return (await svc.request('GET', `/v1.40/exec/${eid}/json`)).json().ExitCode as number;
    };
    // Without a TTY (the process's stdin is a pipe; its EOF ends cat).
    const e1 = (await svc.request('POST', `/v1.40/containers/${id}/exec`, { body: { AttachStdin: true, AttachStdout: true, AttachStderr: true, Cmd: ['sh', '-c', countIn] } })).json().Id as string;
    const h1 = await hijackRequest(svc.socketPath, 'POST', `/v1.40/exec/${e1}/start`, { Detach: false });
    writeAndClose(h1.socket, payload());
    expect(await finished(e1), await execOut(id, ['sh', '-c', 'wc -c < /tmp/in'])).to.equal(0);
    // With a TTY (through conmon and the attach relay): raw mode, so that the terminal passes
    // the bytes as they are; head stops after N of them (a terminal has no EOF to give).
    const script = `stty raw -echo; echo ready; head -c ${N} > /tmp/tty; n=$(wc -c < /tmp/tty); [ "$n" -eq ${N} ]`;
    const e2 = (await svc.request('POST', `/v1.40/containers/${id}/exec`, { body: { Tty: true, AttachStdin: true, AttachStdout: true, Cmd: ['sh', '-c', script] } })).json().Id as string;
    const h2 = await hijackRequest(svc.socketPath, 'POST', `/v1.40/exec/${e2}/start`, { Detach: false, Tty: true });
    await waitFor(() => h2.received().toString().includes('ready'), 10_000, 'the terminal in raw mode');
    writeAndClose(h2.socket, payload());
    expect(await finished(e2), await execOut(id, ['sh', '-c', 'wc -c < /tmp/tty'])).to.equal(0);
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });
});
