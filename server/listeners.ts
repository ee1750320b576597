// Where the service listens: a unix socket, a TCP address, or the socket systemd handed over.
import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { dirname } from 'node:path';

export type Endpoint =
  | { kind: 'unix'; path: string; isDefault: boolean }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'fd'; fd: number };

/** A listener problem the CLI reports and exits on (125 is Podman's code for such errors). */
export class ListenError extends Error {
  constructor(message: string, readonly exitCode = 125) {
    super(message);
  }
}

export function parseUri(uri: string): Endpoint {
  if (uri.startsWith('unix://')) {
    const path = uri.slice('unix://'.length);
    if (!path.startsWith('/')) throw new ListenError(`invalid URI ${JSON.stringify(uri)}: the socket path must be absolute (unix:///path)`);
    return { kind: 'unix', path, isDefault: false };
  }
  if (uri.startsWith('tcp://')) {
    const url = new URL(uri);
    const port = Number(url.port);
    if (!url.port || !Number.isInteger(port) || port <= 0 || port > 65535) throw new ListenError(`invalid URI ${JSON.stringify(uri)}: tcp:// needs host:port`);
    return { kind: 'tcp', host: url.hostname.replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', port };
  }
  throw new ListenError(`invalid URI ${JSON.stringify(uri)}: use unix:///path or tcp://host:port`);
}

/**
 * systemd socket activation: LISTEN_PID names this process and LISTEN_FDS the inherited
 * sockets, starting at fd 3. Only one is served; other counts are an error. The variables are
 * removed so that processes started later (conmon, cleanup) do not inherit them.
 */
export function socketActivation(env: NodeJS.ProcessEnv = process.env, pid = process.pid): Endpoint | undefined {
  if (!env.LISTEN_PID || !env.LISTEN_FDS) return undefined;
  if (Number(env.LISTEN_PID) !== pid) return undefined;
  const count = Number(env.LISTEN_FDS);
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (count !== 1) throw new ListenError(`socket activation passed ${count} sockets (LISTEN_FDS); tspod serves exactly one`);
  return { kind: 'fd', fd: 3 };
}

function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Makes a unix socket path ready to bind: parent present, no live service, no stale file. */
export async function prepareUnixPath(endpoint: Extract<Endpoint, { kind: 'unix' }>): Promise<void> {
  const parent = dirname(endpoint.path);
  if (endpoint.isDefault) mkdirSync(parent, { recursive: true, mode: 0o700 });
  let parentStat;
  try {
    parentStat = statSync(parent);
  } catch {
    throw new ListenError(`cannot listen on ${endpoint.path}: directory ${parent} does not exist`);
  }
  if (!parentStat.isDirectory()) throw new ListenError(`cannot listen on ${endpoint.path}: ${parent} is not a directory`);
  let stat;
  try {
    stat = lstatSync(endpoint.path);
  } catch {
    return; // nothing there
  }
  if (stat.isDirectory()) throw new ListenError(`cannot listen on ${endpoint.path}: it is a directory`);
  if (!stat.isSocket()) throw new ListenError(`cannot listen on ${endpoint.path}: a file that is not a socket is in the way`);
  if (await probe(endpoint.path)) throw new ListenError(`cannot listen on ${endpoint.path}: another service is already listening there`, 1);
  unlinkSync(endpoint.path); // stale socket of a service that is gone
}

export function listen(server: Server, endpoint: Endpoint): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (endpoint.kind === 'unix') {
      // 0600 whatever the caller's umask: bind with a tight umask, then chmod to be sure.
      const umask = process.umask(0o177);
      server.listen(endpoint.path, () => {
        process.umask(umask);
        chmodSync(endpoint.path, 0o600);
        done();
      });
    } else if (endpoint.kind === 'tcp') server.listen(endpoint.port, endpoint.host, done);
    else server.listen({ fd: endpoint.fd }, done);
  });
}

export function describeEndpoint(endpoint: Endpoint): string {
  if (endpoint.kind === 'unix') return `unix://${endpoint.path}`;
  if (endpoint.kind === 'tcp') return `tcp://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
  return `systemd socket (fd ${endpoint.fd})`;
}
