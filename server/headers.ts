// Headers every answer carries, as Podman's do (clients negotiate versions from them).
import type { ServerResponse } from 'node:http';
import { DOCKER_API_VERSION, LIBPOD_API_VERSION } from './api-version.js';

// Podman's CORS headers (pkg/api/server/handler_api.go), sent when --cors is set.
const CORS_ALLOW_HEADERS = 'Origin, X-Requested-With, Content-Type, Accept, X-Registry-Auth, Connection, Upgrade, X-Registry-Config';
const CORS_ALLOW_METHODS = 'HEAD, GET, POST, DELETE, PUT, OPTIONS';

export function commonHeaders(serverName: string, cors: string): [string, string][] {
  const headers: [string, string][] = [
    ['API-Version', DOCKER_API_VERSION],
    ['Libpod-API-Version', LIBPOD_API_VERSION],
    ['Server', serverName],
  ];
  if (cors) {
    headers.push(['Access-Control-Allow-Origin', cors], ['Access-Control-Allow-Headers', CORS_ALLOW_HEADERS], ['Access-Control-Allow-Methods', CORS_ALLOW_METHODS]);
  }
  return headers;
}

export function setHeaders(res: ServerResponse, headers: [string, string][]): void {
  for (const [name, value] of headers) res.setHeader(name, value);
}
