// GET/HEAD /_ping (compat and libpod): the headers clients negotiate from, and "OK". Kept free
// of Koa so the service can answer pings while the rest of it is still loading.
import type { ServerResponse } from 'node:http';
import { BUILDAH_VERSION } from './api-version.js';

export const PING_HEADERS: [string, string][] = [
  ['Cache-Control', 'no-cache'],
  ['Pragma', 'no-cache'],
  ['Docker-Experimental', 'true'],
  ['Builder-Version', ''],
  ['BuildKit-Version', ''],
  ['Libpod-Buildah-Version', BUILDAH_VERSION],
  ['Content-Type', 'text/plain; charset=utf-8'],
];

const PING_PATH = /^(\/v[0-9][0-9A-Za-z.-]*)?(\/libpod)?\/_ping\/?(\?.*)?$/;

/** Whether a raw request is a ping (any version prefix, compat or libpod, GET or HEAD). */
export function isPing(method: string | undefined, url: string | undefined): boolean {
  return (method === 'GET' || method === 'HEAD') && url !== undefined && PING_PATH.test(url);
}

/** Answers a ping on a bare response; `common` are the headers every answer carries. */
export function writePing(res: ServerResponse, common: [string, string][]): void {
  for (const [name, value] of common) res.setHeader(name, value);
  for (const [name, value] of PING_HEADERS) res.setHeader(name, value);
  res.setHeader('Content-Length', '2');
  res.statusCode = 200;
  res.end('OK');
}
