// One access line per request in the combined log format (as Podman's gorilla handler writes
// at --log-level info); unix-socket clients have no address and are shown as "@".
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from './logger.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

function clfDate(d: Date): string {
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return `${pad(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}

export function attachAccessLog(server: Server, logger: Logger): void {
  // Before the request handler, so that the byte count sees everything it writes.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const started = new Date();
    let bytes = 0;
    const write = res.write;
    const end = res.end;
    const count = (chunk: unknown) => {
      if (typeof chunk === 'string') bytes += Buffer.byteLength(chunk);
      else if (chunk instanceof Uint8Array) bytes += chunk.length;
    };
    res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
      count(chunk);
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof res.write;
    res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
      if (typeof chunk !== 'function') count(chunk);
      return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
    } as typeof res.end;
    res.once('close', () => {
      const host = req.socket.remoteAddress ?? '@';
      const referer = req.headers.referer ?? '';
      const agent = req.headers['user-agent'] ?? '';
      logger.raw(`${host} - - [${clfDate(started)}] "${req.method} ${req.url} HTTP/${req.httpVersion}" ${res.statusCode} ${bytes} "${referer}" "${agent}"\n`);
    });
  });
}
