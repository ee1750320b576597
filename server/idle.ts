// Idle tracking for --time: the service exits after N seconds with no request in flight and
// no open stream. Streams (events, logs follow, attach, exec) are requests that last, so they
// hold the service; idle keep-alive connections and connections that never send a request do
// not. Sockets are tracked so that shutdown can close idle ones and wait for busy ones.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

// Answers that last as long as the client wants (events, logs --follow, stats streams, attach
// and exec sessions, websocket attach): at shutdown they are cut at once instead of waited for.
// A stream with a protocol of its own can say goodbye first (a websocket sends its close frame)
// through `cut`. The mark is on the socket itself, under a registered symbol: the bundled API
// pipeline (server/pipeline.ts) has its own copy of this module, which must mark sockets the
// service's copy sees.
const LONG_LIVED = Symbol.for('tspod.longLived');
type Marked = Socket & { [LONG_LIVED]?: () => void };

/**
 * Marks the connection of a streaming answer as long-lived (see ConnectionTracker.drain).
 * `cut` ends it at shutdown (default: destroy the socket); it must close the socket soon.
 */
export function markLongLived(socket: Socket | null, cut?: () => void): void {
  if (socket) (socket as Marked)[LONG_LIVED] = cut ?? (() => socket.destroy());
}

export class ConnectionTracker {
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly busy = new Map<Socket, number>();
  private drained: (() => void) | undefined;

  /** @param idleMs 0 = never exit for idleness; undefined = not known yet (see setIdleTimeout). */
  constructor(private idleMs: number | undefined, private readonly onIdle: () => void) {}

  /** Sets the idle timeout once it is known (it comes from containers.conf, read after listen). */
  setIdleTimeout(ms: number): void {
    this.idleMs = ms;
    this.arm();
  }

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.track(req.socket, res));
    this.arm();
  }

  /** A hijacked connection (attach, exec) is busy until its socket closes. */
  hijacked(socket: Socket): void {
    this.begin(socket);
    socket.once('close', () => this.end(socket));
  }

  get inFlight(): number {
    return this.active;
  }

  private track(socket: Socket, res: ServerResponse): void {
    this.begin(socket);
    let ended = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      this.end(socket);
    };
    res.once('finish', finish);
    res.once('close', finish);
  }

  private begin(socket: Socket): void {
    this.active++;
    this.busy.set(socket, (this.busy.get(socket) ?? 0) + 1);
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private end(socket: Socket): void {
    this.active--;
    const n = (this.busy.get(socket) ?? 1) - 1;
    if (n > 0) this.busy.set(socket, n);
    else this.busy.delete(socket);
    if (this.active === 0) {
      this.drained?.();
      this.arm();
    }
  }

  private arm(): void {
    if (this.idleMs === undefined || this.idleMs <= 0 || this.active > 0 || this.timer) return;
    this.timer = setTimeout(() => this.onIdle(), this.idleMs);
  }

  stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Closes connections with nothing in flight now; busy ones are closed once they finish. */
  closeIdle(): void {
    for (const socket of this.sockets) if (!this.busy.has(socket)) socket.destroy();
  }

  /** Resolves when nothing is in flight, or after graceMs (then the rest is cut). Streams are cut at once. */
  async drain(graceMs: number): Promise<void> {
    for (const socket of this.sockets) (socket as Marked)[LONG_LIVED]?.();
    if (this.active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const socket of this.sockets) socket.destroy();
  }
}
