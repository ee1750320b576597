// server/hijack.ts on a real Koa server: the private Node parts it relies on (socket.parser)
// still work, status lines and framing are right, stdin reaches the handler until half-close,
// and the request counts as in flight until the socket closes.
import { expect } from 'chai';
import Koa from 'koa';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { frameHeader, hijack, socketClosed } from '../../server/hijack.js';
import { ConnectionTracker } from '../../server/idle.js';

function rawRequest(socketPath: string, text: string, send?: (s: import('node:net').Socket) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    s.write(text);
    send?.(s);
  });
}

describe('server/hijack', () => {
  let dir: string;
  let server: Server;
  let sock: string;
  let tracker: ConnectionTracker;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tspod-hijack-'));
    sock = join(dir, 's.sock');
    const app = new Koa();
    app.use(async (ctx) => {
      // Read the JSON body first, as dispatch does, then take the socket over.
      let body = '';
      for await (const c of ctx.req as AsyncIterable<Buffer>) body += c.toString();
      const raw = ctx.path === '/raw';
      const conn = await hijack(ctx, { raw });
      await conn.write('stdout', Buffer.from(`body=${body}\n`));
      await conn.write('stderr', Buffer.from('to stderr\n'));
      let input = '';
      conn.input.on('data', (c: Buffer) => (input += c.toString()));
      await new Promise<void>((r) => conn.input.on('end', () => r()));
      await conn.write('stdout', Buffer.from(`input=${input}`));
      await conn.end();
    });
    tracker = new ConnectionTracker(0, () => {});
    server = createServer(app.callback());
    tracker.attach(server);
    await new Promise<void>((r) => server.listen(sock, () => r()));
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('frames output with the 8-byte header', () => {
    expect([...frameHeader('stdout', 5)]).to.deep.equal([1, 0, 0, 0, 0, 0, 0, 5]);
    expect([...frameHeader('stderr', 0x010203)]).to.deep.equal([2, 0, 0, 0, 0, 1, 2, 3]);
  });

  it('answers 101 UPGRADED to an upgrade request, multiplexes output, reads stdin until half-close', async () => {
    const body = '{"Detach":false}';
    const out = await rawRequest(
      sock,
      `POST /x HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      (s) => setTimeout(() => s.end('typed input'), 50),
    );
    const text = out.toString('latin1');
    const headEnd = text.indexOf('\r\n\r\n');
    expect(text.slice(0, headEnd)).to.match(/^HTTP\/1\.1 101 UPGRADED\r\nContent-Type: application\/vnd\.docker\.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp/);
    const rest = out.subarray(headEnd + 4);
    const frames: [number, string][] = [];
    for (let off = 0; off < rest.length; ) {
      const len = rest.readUInt32BE(off + 4);
      frames.push([rest[off]!, rest.subarray(off + 8, off + 8 + len).toString()]);
      off += 8 + len;
    }
    expect(frames).to.deep.equal([
      [1, `body=${body}\n`],
      [2, 'to stderr\n'],
      [1, 'input=typed input'],
    ]);
  });

  it('answers 200 OK without an upgrade request; raw output for TTY sessions', async () => {
    const out = await rawRequest(sock, 'POST /raw HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n', (s) => setTimeout(() => s.end(), 50));
    const text = out.toString();
    expect(text).to.match(/^HTTP\/1\.1 200 OK\r\nContent-Type: application\/vnd\.docker\.raw-stream\r\n/);
    expect(text.slice(text.indexOf('\r\n\r\n') + 4)).to.equal('body=\nto stderr\ninput=');
  });

  it('keeps the request in flight for the idle tracker until the socket closes', async () => {
    let seen = -1;
    await rawRequest(sock, 'POST /raw HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n', (s) =>
      setTimeout(() => {
        seen = tracker.inFlight;
        s.end();
      }, 80),
    );
    expect(seen).to.equal(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(tracker.inFlight).to.equal(0);
  });

  it('socketClosed settles for a socket that closed before anyone asked', async () => {
    const s = connect(sock);
    s.on('error', () => {});
    s.destroy();
    await new Promise((r) => setTimeout(r, 20));
    expect(s.closed).to.equal(true);
    let settled = false;
    void socketClosed(s).then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(settled).to.equal(true);
  });
});
