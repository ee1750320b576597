// One openapi-backend instance per spec (Docker compat, Libpod) dispatches a request to its
// operation. Docker clients send image names with raw slashes
// (/images/localhost/busybox:latest/json) which openapi-backend's `[^/]+` templates never match:
// such paths are matched against the name-carrying templates with `{name}` spanning slashes, and
// the name is re-encoded (%2F) so openapi-backend matches and decodes it as usual.
import { readFileSync } from 'node:fs';
import openapiBackend from 'openapi-backend';
import type { Context } from 'koa';
import type { QuerySpec } from './query.js';
import { compileMatcher } from './fast-router.js';
import { generatedFile } from './paths.js';

const { OpenAPIBackend } = openapiBackend;

export type SpecName = 'docker' | 'libpod';
export type BodyKind = 'json' | 'stream' | 'none';

export interface OperationRoute {
  method: string;
  path: string;
  query: QuerySpec;
  body: BodyKind;
}

interface RouteTable {
  definition: Record<string, unknown>;
  operations: Record<string, OperationRoute>;
}

/** Called with the matched operation and its decoded path parameters. */
export type Dispatch = (spec: SpecName, operationId: string, route: OperationRoute, params: Record<string, string>, ctx: Context) => Promise<void>;
/** Called when no operation matches (methodNotAllowed: the path exists with another method). */
export type NoRoute = (ctx: Context, methodNotAllowed: boolean) => Promise<void> | void;

// Templates whose {name} may contain slashes (image references), as Podman registers them.
const SLASHED_NAME = /\/(images|distribution|manifests)\/\{name\}/;
const MAY_HAVE_SLASHED_NAME = /\/(images|distribution|manifests)\/[^/]+\/./;

interface SlashedTemplate {
  method: string;
  regex: RegExp;
  path: string;
  literalLength: number;
}

export class SpecApi {
  readonly operations: Record<string, OperationRoute>;
  private readonly backend: InstanceType<typeof OpenAPIBackend>;
  private readonly slashed: SlashedTemplate[];

  constructor(readonly spec: SpecName, dispatch: Dispatch, noRoute: NoRoute) {
    const table = JSON.parse(readFileSync(generatedFile(`${spec}.routes.json`), 'utf8')) as RouteTable;
    this.operations = table.operations;
    const handlers: Record<string, (c: { request: { params: Record<string, string> } }, ctx: Context) => Promise<void> | void> = {
      notFound: (_c, ctx) => noRoute(ctx, false),
      methodNotAllowed: (_c, ctx) => noRoute(ctx, true),
    };
    for (const [operationId, route] of Object.entries(table.operations)) {
      handlers[operationId] = (c, ctx) => dispatch(spec, operationId, route, c.request.params as Record<string, string>, ctx);
    }
    // Routing and dispatch only: requests are validated by the validators codegen precompiled
    // (server/validation.ts), so no schema is compiled at run time.
    this.backend = new OpenAPIBackend({ definition: table.definition as never, quick: true, validate: false });
    void this.backend.init();
    // Give its router the precompiled matcher (see fast-router.ts) and a fixed operation list,
    // before registering handlers (each registration looks its operation up).
    const router = this.backend.router;
    const operations = router.getOperations();
    const match = compileMatcher(operations);
    router.getOperations = () => operations;
    router.matchOperation = ((req: { method: string; path: string }, strict?: boolean) => match(req.method, req.path, Boolean(strict))) as typeof router.matchOperation;
    this.backend.register(handlers as never);
    this.slashed = Object.values(table.operations)
      .filter((op) => SLASHED_NAME.test(op.path))
      .map((op) => ({
        method: op.method,
        path: op.path,
        regex: new RegExp(`^${op.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_, n: string) => (n === 'name' ? '(?<name>.+)' : '[^/]+'))}/?$`),
        literalLength: op.path.replace(/\{[^}]+\}/g, '').length,
      }))
      .sort((a, b) => b.literalLength - a.literalLength);
  }

  handle(method: string, path: string, ctx: Context): Promise<void> {
    return this.backend.handleRequest({ method, path: this.foldSlashedName(method, path), headers: {}, query: {} }, ctx);
  }

  /** Re-encodes the slashes of an image name when only a `{name}`-spanning template matches. */
  private foldSlashedName(method: string, path: string): string {
    if (!MAY_HAVE_SLASHED_NAME.test(path)) return path;
    if (this.backend.router.matchOperation({ method, path, headers: {} }, false)) return path;
    for (const t of this.slashed) {
      if (t.method !== method) continue;
      const m = t.regex.exec(path);
      if (!m?.groups) continue;
      const name = m.groups.name;
      // Everything before {name} in these templates is literal, so offsets agree.
      const start = t.path.indexOf('{name}');
      return path.slice(0, start) + name.replace(/\//g, '%2F') + path.slice(start + name.length);
    }
    return path;
  }
}
