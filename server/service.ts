// `tspod system service`: listen first, load the API pipeline and the engine right after
// (pings are answered meanwhile, other requests wait for it), serve, and exit after --time
// idle seconds or on SIGTERM/SIGINT. Listening before loading keeps the cold start short,
// which matters under socket activation where a client waits for the first answer.
import { createServer, type RequestListener } from 'node:http';
import { unlinkSync } from 'node:fs';
import type { Engine } from '../engine/api.js';
import { attachAccessLog } from './access-log.js';
import { commonHeaders } from './headers.js';
import { ConnectionTracker } from './idle.js';
import { describeEndpoint, listen, prepareUnixPath, type Endpoint } from './listeners.js';
import type { Logger } from './logger.js';
import { collectStartupGarbage, tuneHeapForService } from './heap.js';
import { loadPipeline } from './load-pipeline.js';
import { isPing, writePing } from './ping.js';

export interface ServiceOptions {
  endpoint: Endpoint;
  logger: Logger;
  cors: string;
  serverName: string;
  /**
   * Reads the configuration and creates the engine; called once the socket accepts
   * connections, so none of it is on the start path. Gives the idle timeout (0 = never).
   */
  createEngine: () => Promise<{ engine: Engine; idleSeconds: number }>;
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
  const common = commonHeaders(opts.serverName, opts.cors);
  let api: RequestListener | undefined;
  let engine: Engine | undefined;
  let apiReady!: Promise<RequestListener>;
  const server = createServer({ keepAliveTimeout: 5_000, requestTimeout: 0 }, (req, res) => {
    // Pings carry no parameters and change nothing: answered here, before the pipeline (and
    // before it has even loaded), with the same headers handlers/ping.ts sets.
    if (isPing(req.method, req.url)) return writePing(res, common);
    if (api) return api(req, res);
    apiReady.then(
      (handler) => handler(req, res),
      () => {
        res.statusCode = 503;
        res.end();
      },
    );
  });

  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  let stopping = false;
  const tracker = new ConnectionTracker(undefined, () => void stop('idle', 0, 0));
  if (logger.enabled('info')) attachAccessLog(server, logger);

  async function stop(reason: string, graceMs: number, code: number): Promise<void> {
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
    await engine?.close();
    finish(code);
  }

  const onSignal = (signal: NodeJS.Signals) => void stop(signal, SHUTDOWN_GRACE_MS, 0);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  await listen(server, endpoint);
  tracker.attach(server);
  logger.info(`API service listening on ${describeEndpoint(endpoint)}`);

  apiReady = (async () => {
    const [{ createApp, preloadValidators }, { engine: created, idleSeconds }] = await Promise.all([loadPipeline(), opts.createEngine()]);
    engine = created;
    tracker.setIdleTimeout(idleSeconds * 1000);
    api = createApp({ engine, cors: opts.cors, serverName: opts.serverName, logger }).callback();
    tuneHeapForService();
    // Background work that must not delay the first answers: validators, then host facts
    // (whose tool probes fork processes).
    setTimeout(() => preloadValidators('docker'), 20).unref();
    setTimeout(() => preloadValidators('libpod'), 40).unref();
    setTimeout(() => void created.warm(), 100).unref();
    setTimeout(collectStartupGarbage, 700).unref();
    return api;
  })();
  apiReady.catch((err: unknown) => {
    logger.error(`cannot start the API: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    void stop('startup failure', 0, 125);
  });

  const code = await finished;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return code;
}
