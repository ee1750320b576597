// `tspod system service`: listen, serve, exit after --time idle seconds or on SIGTERM/SIGINT.
import { createServer } from 'node:http';
import { unlinkSync } from 'node:fs';
import type { Engine } from '../engine/api.js';
import { attachAccessLog } from './access-log.js';
import { createApp } from './app.js';
import { ConnectionTracker } from './idle.js';
import { describeEndpoint, listen, prepareUnixPath, type Endpoint } from './listeners.js';
import type { Logger } from './logger.js';
import { preloadValidators } from './validation.js';

export interface ServiceOptions {
  endpoint: Endpoint;
  engine: Engine;
  logger: Logger;
  cors: string;
  /** Seconds of inactivity before exiting; 0 = never. */
  idleSeconds: number;
  serverName: string;
  /** Called once the socket accepts connections (the engine warms its caches here). */
  onListening?: () => void;
}

// How long SIGTERM waits for requests in flight before cutting them.
const SHUTDOWN_GRACE_MS = 10_000;

/** Serves until idle or signalled; resolves with the exit status. */
export async function runService(opts: ServiceOptions): Promise<number> {
  const { endpoint, logger } = opts;
  if (endpoint.kind === 'unix') await prepareUnixPath(endpoint);
  if (endpoint.kind === 'tcp') {
    logger.warn(`listening on ${describeEndpoint(endpoint)}: the API grants full control of tspod and its containers to anyone who can connect. Prefer a unix socket reached through SSH forwarding (ssh -L /local.sock:/remote.sock host).`);
  }
  const app = createApp({ engine: opts.engine, cors: opts.cors, serverName: opts.serverName, logger });
  const server = createServer({ keepAliveTimeout: 5_000, requestTimeout: 0 }, app.callback());

  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  let stopping = false;
  const tracker = new ConnectionTracker(opts.idleSeconds * 1000, () => void stop('idle', 0));
  if (logger.enabled('info')) attachAccessLog(server, logger);

  async function stop(reason: string, graceMs: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    logger.info(`stopping (${reason})`);
    tracker.stopTimer();
    server.close();
    tracker.closeIdle();
    await tracker.drain(graceMs);
    if (endpoint.kind === 'unix') {
      try {
        unlinkSync(endpoint.path);
      } catch {
        // already gone
      }
    }
    await opts.engine.close();
    finish(0);
  }

  const onSignal = (signal: NodeJS.Signals) => void stop(signal, SHUTDOWN_GRACE_MS);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  await listen(server, endpoint);
  tracker.attach(server);
  logger.info(`API service listening on ${describeEndpoint(endpoint)}`);
  setImmediate(() => {
    preloadValidators('docker');
    preloadValidators('libpod');
    opts.onListening?.();
  });
  const code = await finished;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return code;
}
