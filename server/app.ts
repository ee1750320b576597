// The Koa application: common headers, CORS preflight, version prefix, spec choice, dispatch
// and the one place where thrown errors become answers.
import Koa from 'koa';
import type { Engine } from '../engine/api.js';
import { compatHandlers } from '../handlers/compat/index.js';
import { libpodHandlers } from '../handlers/libpod/index.js';
import { splitVersion } from './api-version.js';
import { createDispatch, type HandlerTables } from './dispatch.js';
import { sendError, sendRouteError, statusOf } from './errors.js';
import { commonHeaders, setHeaders } from './headers.js';
import type { Logger } from './logger.js';
import { SpecApi, type NoRoute, type SpecName } from './routing.js';

export interface AppOptions {
  engine: Engine;
  /** Value of Access-Control-Allow-Origin; empty for no CORS headers. */
  cors: string;
  serverName: string;
  logger: Logger;
}

export function createApp(opts: AppOptions): Koa {
  const tables = { docker: compatHandlers, libpod: libpodHandlers } as unknown as HandlerTables;
  const dispatch = createDispatch(opts.engine, tables);
  const noRoute: NoRoute = (ctx, methodNotAllowed) => {
    const spec = ctx.state.spec as SpecName;
    if (methodNotAllowed) sendRouteError(ctx, spec, 405, `method ${ctx.method} not allowed for ${ctx.path}`);
    else sendRouteError(ctx, spec, 404, `no such endpoint: ${ctx.method} ${ctx.path}`);
  };
  // Each spec's router is built on its first request (~5 ms each): a Docker client never pays
  // for the Libpod one, nor a Podman client for the Docker one.
  const apis: Partial<Record<SpecName, SpecApi>> = {};
  const apiFor = (spec: SpecName): SpecApi => (apis[spec] ??= new SpecApi(spec, dispatch, noRoute));
  const headers = commonHeaders(opts.serverName, opts.cors);

  const app = new Koa();
  app.silent = true;
  app.use(async (ctx) => {
    setHeaders(ctx.res, headers);
    if (opts.cors && ctx.method === 'OPTIONS') {
      // Podman answers a preflight 405; browsers need 204 with the CORS headers.
      ctx.status = 204;
      return;
    }
    const { version, path } = splitVersion(ctx.path);
    const spec: SpecName = path === '/libpod' || path.startsWith('/libpod/') ? 'libpod' : 'docker';
    ctx.state.version = version;
    ctx.state.spec = spec;
    // Podman serves HEAD on /libpod/_ping too; the Libpod spec lists only GET.
    const method = spec === 'libpod' && ctx.method === 'HEAD' && path === '/libpod/_ping' ? 'GET' : ctx.method;
    try {
      await apiFor(spec).handle(method, path, ctx);
    } catch (err) {
      const status = statusOf(err);
      // 501 is an honest answer, not a fault; other 5xx are logged with their stack.
      if (status >= 500 && status !== 501) opts.logger.error(`${ctx.method} ${ctx.originalUrl}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      if (ctx.headerSent || ctx.respond === false) {
        if (!ctx.res.writableEnded) ctx.res.destroy();
        return;
      }
      sendError(ctx, spec, err);
    }
  });
  return app;
}
