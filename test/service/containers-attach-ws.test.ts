// Black-box: the websocket attach (GET /containers/{id}/attach/ws) with real containers, driven
// by Node's own WebSocket client, and by hand where the wire itself is the point (handshake
// headers, control frames, fragments, protocol errors). What is checked is Docker's behaviour
// for a v1.40 client (moby's wsContainersAttach): stream and logs default to false, output is
// raw (never multiplexed) in binary frames (text frames before API 1.28), the frames' payload is
// stdin, and the end of the output closes with 1000.
import { expect } from 'chai';
import { TestService, waitFor } from '../helpers/service.js';
import { loadBusyboxImage } from '../helpers/test-image.js';
import { canRunContainers, createContainer, inspect, runContainer, shutdown, startWithImage, waitExit } from '../helpers/containers.js';
import { clientFrame, rawWebSocket, SAMPLE_ACCEPT, WsClient } from '../helpers/websocket.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

(canRunContainers() ? describe : describe.skip)('containers: attach over a websocket (real containers)', function () {
  this.timeout(60_000);
  let svc: TestService;
  const clients: WsClient[] = [];
  const connect = async (path: string, protocol?: string) => {
    const c = await WsClient.connect(svc.socketPath, path, protocol);
    clients.push(c);
    return c;
  };

  before(async function () {
    svc = await startWithImage();
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.kill();
  });
  after(async function () {
    await shutdown(svc);
  });

  it('answers the opening handshake with 101 and the RFC 6455 accept value', async () => {
    const id = await runContainer(svc, { Cmd: ['sleep', '300'] });
    const ws = await rawWebSocket(svc.socketPath, `/v1.40/containers/${id}/attach/ws?stream=1`);
    expect(ws.status).to.equal('HTTP/1.1 101 Switching Protocols');
    expect(ws.headers['upgrade']).to.equal('websocket');
    expect(ws.headers['connection']).to.equal('Upgrade');
    expect(ws.headers['sec-websocket-accept']).to.equal(SAMPLE_ACCEPT);
    expect(ws.headers['api-version']).to.equal('1.40');
    expect(ws.headers).to.not.have.property('sec-websocket-protocol');
    expect(ws.headers).to.not.have.property('content-length');
    // The client closes; the server echoes the code and ends the TCP connection.
    ws.socket.write(clientFrame(0x8, Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65])));
    const close = await ws.waitForFrame((f) => f.opcode === 0x8, 'the close answer');
    expect(close.masked).to.equal(false);
    expect(close.payload.readUInt16BE(0)).to.equal(1000);
    await ws.ended;
    // A subprotocol offered by the client is taken.
    const c = await connect(`/containers/${id}/attach/ws?stream=1`, 'tty');
    expect(c.opened).to.equal(true);
    expect(c.protocol).to.equal('tty');
    expect(await c.close(1000)).to.include({ code: 1000, wasClean: true });
    expect((await inspect(svc, id)).State.Status).to.equal('running');
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('streams the output of a running container raw in binary frames; the client closes normally', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'while :; do echo hi; echo oops >&2; sleep 0.2; done'] });
    const c = await connect(`/v1.40/containers/${id}/attach/ws?stream=1`);
    await c.waitForText((t) => t.includes('hi\n') && t.includes('oops\n'), 'output from both streams');
    // Raw: no 8-byte multiplexing headers, stdout and stderr alike.
    expect(c.text()).to.match(/^(hi\n|oops\n)+$/);
    expect(c.messages.every((m) => m.binary)).to.equal(true);
    expect(await c.close(1000, 'done')).to.deep.equal({ code: 1000, reason: 'done', wasClean: true });
    // The container is not disturbed by the client going away.
    await sleep(300);
    expect((await inspect(svc, id)).State.Status).to.equal('running');
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('closes with 1000 when the container exits, after its last output', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'sleep 1; echo bye; echo err >&2'] });
    const c = await connect(`/v1.40/containers/${id}/attach/ws?stream=1&stdout=1&stderr=1`);
    expect(await c.closed).to.deep.equal({ code: 1000, reason: '', wasClean: true });
    expect(c.text()).to.equal('bye\nerr\n');
    expect(await waitExit(svc, id)).to.equal(0);
    await svc.request('DELETE', `/v1.40/containers/${id}`);
  });

  it('passes text and binary frames to stdin (cat echoes them); closing leaves stdin open unless StdinOnce', async () => {
    const id = await runContainer(svc, { OpenStdin: true, Cmd: ['cat'] });
    const c = await connect(`/v1.40/containers/${id}/attach/ws?stream=1`);
    c.send('hello\n');
    await c.waitForText((t) => t === 'hello\n', 'the text echoed');
    c.send(Buffer.from([0x62, 0x69, 0x6e, 0xff, 0x0a]));
    await waitFor(() => Buffer.concat(c.messages.map((m) => m.data)).equals(Buffer.from('hello\nbin\xff\n', 'latin1')), 10_000, 'the bytes echoed');
    expect(await c.close(1000)).to.include({ code: 1000, wasClean: true });
    await sleep(500);
    expect((await inspect(svc, id)).State.Status).to.equal('running');
    // Attached again, the same cat still reads.
    const again = await connect(`/v1.40/containers/${id}/attach/ws?stream=1`);
    again.send('again\n');
    await again.waitForText((t) => t === 'again\n', 'the second session echoed');
    await again.close(1000);
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);

    // StdinOnce: the client's close is the container's stdin EOF, as Docker's attach does.
    const once = await runContainer(svc, { OpenStdin: true, StdinOnce: true, Cmd: ['sh', '-c', 'cat; echo eof >&2'] });
    const o = await connect(`/v1.40/containers/${once}/attach/ws?stream=1`);
    o.send('x\n');
    await o.waitForText((t) => t === 'x\n', 'the echo');
    await o.close(1000);
    expect(await waitExit(svc, once)).to.equal(0);
    await svc.request('DELETE', `/v1.40/containers/${once}`);
  });

  it('attaches to a TTY container: input through the terminal, raw output, detach keys', async () => {
    const id = await runContainer(svc, { Tty: true, OpenStdin: true, Cmd: ['sh'] });
    const c = await connect(`/v1.40/containers/${id}/attach/ws?stream=1&detachKeys=ctrl-x,x`);
    c.send('echo tty-$((40+2))\r');
    await c.waitForText((t) => t.includes('tty-42\r\n'), 'the command output through the terminal');
    expect(c.messages.every((m) => m.binary)).to.equal(true);
    // The detach keys end the session (a normal close); the container keeps running.
    c.send(Buffer.from([24, 0x78]));
    expect(await c.closed).to.include({ code: 1000, wasClean: true });
    expect((await inspect(svc, id)).State.Status).to.equal('running');
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('replays the logs with logs=1 (stream defaults to false), then closes; logs=1&stream=1 goes on live', async () => {
    const id = await runContainer(svc, { Cmd: ['sh', '-c', 'echo one; echo two >&2'] });
    await waitExit(svc, id);
    const c = await connect(`/v1.40/containers/${id}/attach/ws?logs=1`);
    expect(await c.closed).to.include({ code: 1000, wasClean: true });
    expect(c.text()).to.equal('one\ntwo\n');
    // Before API 1.28, Docker sends text frames.
    const old = await connect(`/v1.27/containers/${id}/attach/ws?logs=1`);
    await old.closed;
    expect(old.text()).to.equal('one\ntwo\n');
    expect(old.messages.every((m) => !m.binary)).to.equal(true);
    // Neither stream nor logs: nothing to send, Docker upgrades and closes at once.
    const nothing = await connect(`/v1.40/containers/${id}/attach/ws`);
    expect(nothing.opened).to.equal(true);
    expect(await nothing.closed).to.include({ code: 1000, wasClean: true });
    expect(nothing.messages).to.deep.equal([]);
    await svc.request('DELETE', `/v1.40/containers/${id}`);

    const live = await runContainer(svc, { Cmd: ['sh', '-c', 'echo early; sleep 1; echo late'] });
    await sleep(400);
    const l = await connect(`/v1.40/containers/${live}/attach/ws?logs=1&stream=1`);
    expect(await l.closed).to.include({ code: 1000 });
    expect(l.text()).to.equal('early\nlate\n');
    await waitExit(svc, live);
    await svc.request('DELETE', `/v1.40/containers/${live}`);
  });

  it('records an attach event, as the HTTP attach does', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = await runContainer(svc, { Cmd: ['sleep', '300'] });
    const c = await connect(`/v1.40/containers/${id}/attach/ws?stream=1`);
    await c.close(1000);
    const until = Math.floor(Date.now() / 1000) + 1;
    const filters = encodeURIComponent(JSON.stringify({ container: [id], event: ['attach'] }));
    const r = await svc.request('GET', `/v1.40/events?since=${since}&until=${until}&filters=${filters}`);
    const events = r.text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(events.map((e) => [e.Type, e.Action, e.Actor.ID])).to.deep.equal([['container', 'attach', id]]);
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('speaks the protocol: pong for ping, fragmented messages, 1002 for an unmasked frame', async () => {
    const id = await runContainer(svc, { OpenStdin: true, Cmd: ['cat'] });
    const ws = await rawWebSocket(svc.socketPath, `/v1.40/containers/${id}/attach/ws?stream=1`);
    expect(ws.status).to.equal('HTTP/1.1 101 Switching Protocols');
    ws.socket.write(clientFrame(0x9, 'are you there'));
    const pong = await ws.waitForFrame((f) => f.opcode === 0xa, 'a pong');
    expect(pong.payload.toString()).to.equal('are you there');
    // A message in three fragments, with a ping between them, and a frame split across writes.
    ws.socket.write(clientFrame(0x1, 'fr', { fin: false }));
    ws.socket.write(clientFrame(0x9, 'mid'));
    const third = clientFrame(0x0, 'ed\n');
    ws.socket.write(Buffer.concat([clientFrame(0x0, 'ag', { fin: false }), third.subarray(0, 3)]));
    await sleep(50);
    ws.socket.write(third.subarray(3));
    const echo = await ws.waitForFrame((f) => f.opcode === 0x2 && f.payload.toString().includes('ed'), 'the echo');
    const data = Buffer.concat(ws.frames.filter((f) => f.opcode === 0x2).map((f) => f.payload)).toString();
    expect(data).to.equal('fraged\n');
    expect(echo.fin && !echo.masked).to.equal(true);
    // Unmasked: a protocol error, closed with 1002 and the connection ended.
    ws.socket.write(clientFrame(0x2, 'nope', { mask: false }));
    const close = await ws.waitForFrame((f) => f.opcode === 0x8, 'the close frame');
    expect(close.payload.readUInt16BE(0)).to.equal(1002);
    await ws.ended;
    // A control frame over 125 bytes is refused the same way.
    const big = await rawWebSocket(svc.socketPath, `/v1.40/containers/${id}/attach/ws?stream=1`);
    big.socket.write(clientFrame(0x9, Buffer.alloc(126, 0x61)));
    const bigClose = await big.waitForFrame((f) => f.opcode === 0x8, 'the close frame');
    expect(bigClose.payload.readUInt16BE(0)).to.equal(1002);
    await big.ended;
    expect((await inspect(svc, id)).State.Status).to.equal('running');
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('answers 404 for an unknown container and 400 for a request that is not an upgrade, before any upgrade', async () => {
    const missing = await rawWebSocket(svc.socketPath, '/v1.40/containers/nope/attach/ws?stream=1');
    expect(missing.status).to.equal('HTTP/1.1 404 Not Found');
    expect(missing.headers['content-type']).to.equal('application/json');
    expect(JSON.parse(await missing.body()).message).to.match(/no such container/i);
    missing.socket.destroy();
    const plainMissing = await svc.request('GET', '/v1.40/containers/nope/attach/ws?stream=1');
    expect(plainMissing.status).to.equal(404);
    const c = await connect('/v1.40/containers/nope/attach/ws?stream=1');
    expect(c.opened).to.equal(false);
    expect(c.errored).to.equal(true);

    const id = await runContainer(svc, { Cmd: ['sleep', '300'] });
    const plain = await svc.request('GET', `/v1.40/containers/${id}/attach/ws?stream=1`);
    expect(plain.status).to.equal(400);
    expect(plain.headers['content-type']).to.equal('application/json');
    expect(plain.json().message).to.match(/not a websocket upgrade.*Upgrade: websocket/);
    const noKey = await rawWebSocket(svc.socketPath, `/v1.40/containers/${id}/attach/ws?stream=1`, { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13' });
    expect(noKey.status).to.equal('HTTP/1.1 400 Bad Request');
    expect(JSON.parse(await noKey.body()).message).to.match(/Sec-WebSocket-Key/);
    noKey.socket.destroy();
    const oldVersion = await rawWebSocket(svc.socketPath, `/v1.40/containers/${id}/attach/ws?stream=1`, { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'AAAAAAAAAAAAAAAAAAAAAA==', 'Sec-WebSocket-Version': '8' });
    expect(oldVersion.status).to.equal('HTTP/1.1 400 Bad Request');
    expect(oldVersion.headers['sec-websocket-version']).to.equal('13');
    oldVersion.socket.destroy();
    // The hijacked attach keeps Podman's rule: stream=0 without logs is refused there.
    expect((await svc.request('POST', `/v1.40/containers/${id}/attach?stream=0&stdout=1`)).status).to.equal(400);
    // Nothing was attached by the refused requests.
    const filters = encodeURIComponent(JSON.stringify({ container: [id], event: ['attach'] }));
    const ev = await svc.request('GET', `/v1.40/events?since=0&until=${Math.floor(Date.now() / 1000) + 1}&filters=${filters}`);
    expect(ev.text.trim()).to.equal('');
    await svc.request('DELETE', `/v1.40/containers/${id}?force=1`);
  });

  it('keeps an idle-timed service up while the session lasts, and closes it with 1001 on SIGTERM', async function () {
    const idle = await TestService.start({ time: 1 });
    let c: WsClient | undefined;
    try {
      await loadBusyboxImage(idle);
      const id = await createContainer(idle, { Cmd: ['sleep', '300'] });
      await idle.request('POST', `/v1.40/containers/${id}/start`);
      c = await WsClient.connect(idle.socketPath, `/v1.40/containers/${id}/attach/ws?stream=1`);
      await sleep(2500);
      expect(idle.running).to.equal(true);
      const t0 = Date.now();
      idle.proc.kill('SIGTERM');
      expect(await c.closed).to.include({ code: 1001 });
      expect(await idle.exited).to.equal(0);
      // At once, not after the 10-second grace for requests in flight.
      expect(Date.now() - t0).to.be.below(5000);
    } finally {
      c?.kill();
      if (!idle.running) await idle.start({ time: 0 });
      await shutdown(idle).catch(() => {});
    }
  });
});
