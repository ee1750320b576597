// Reference servers for the load client's own ceiling, run as a separate process:
//   node bare-server.js raw  SOCKET   answers each request head with prebuilt bytes (no HTTP stack)
//   node bare-server.js http SOCKET   node:http answering 200 "OK" (what any Node service builds on)
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Server } from 'node:net';
import { rmSync } from 'node:fs';

const [mode, socket] = process.argv.slice(2);
if (!socket || (mode !== 'raw' && mode !== 'http')) {
  process.stderr.write('usage: bare-server.js raw|http SOCKET\n');
  process.exit(2);
}

const RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\nOK',
  'latin1',
);
const END = [13, 10, 13, 10];

let server: Server;
if (mode === 'raw') {
  server = createNetServer((s) => {
    s.setNoDelay(true);
    let matched = 0; // bytes of \r\n\r\n matched so far, across reads
    s.on('data', (d: Buffer) => {
      let n = 0;
      for (let i = 0; i < d.length; i++) {
        const c = d[i]!;
        if (c === END[matched]) {
          if (++matched === 4) {
            n++;
            matched = 0;
          }
        } else matched = c === 13 ? 1 : 0;
      }
      if (n === 1) s.write(RESPONSE);
      else if (n > 1) s.write(Buffer.concat(Array.from({ length: n }, () => RESPONSE)));
    });
    s.on('error', () => {});
  });
} else {
  server = createHttpServer({ keepAliveTimeout: 5000 }, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2' });
    res.end('OK');
  });
}

rmSync(socket, { force: true });
server.listen(socket);
const stop = () => {
  server.close();
  rmSync(socket, { force: true });
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
