// GET/HEAD /_ping (compat and libpod): the headers clients negotiate from, and "OK".
import type { Context } from 'koa';
import { BUILDAH_VERSION } from '../server/api-version.js';

export function answerPing(ctx: Context): void {
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('Pragma', 'no-cache');
  ctx.set('Docker-Experimental', 'true');
  ctx.set('Builder-Version', '');
  ctx.set('BuildKit-Version', '');
  ctx.set('Libpod-Buildah-Version', BUILDAH_VERSION);
  ctx.status = 200;
  ctx.set('Content-Type', 'text/plain; charset=utf-8');
  ctx.body = 'OK';
}
