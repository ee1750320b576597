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
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new ListenError(`invalid URI ${JSON.stringify(uri)}: tcp:// needs host:port`);
    }
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

// sun_path holds 108 bytes with the terminating NUL; Node would silently bind a cut path.
const MAX_SOCKET_PATH = 107;

/** Makes a unix socket path ready to bind: parent present, no live service, no stale file. */
export async function prepareUnixPath(endpoint: Extract<Endpoint, { kind: 'unix' }>): Promise<void> {
  const length = Buffer.byteLength(endpoint.path);
  if (length > MAX_SOCKET_PATH) throw new ListenError(`cannot listen on ${endpoint.path}: socket path too long (${length} bytes; at most ${MAX_SOCKET_PATH})`);
  const parent = dirname(endpoint.path);
  if (endpoint.isDefault) {
    try {
      mkdirSync(parent, { recursive: true, mode: 0o700 });
    } catch (err) {
      const hint = parent.startsWith('/run/user/') ? ' (set XDG_RUNTIME_DIR to a directory you own)' : '';
      throw new ListenError(`cannot create ${parent}: ${(err as Error).message}${hint}`);
    }
  }
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
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (endpoint.kind === 'unix') process.umask(umask);
      reject(new ListenError(`cannot listen on ${describeEndpoint(endpoint)}: ${err.message}`));
    });
    let umask = 0;
    const done = () => {
      server.removeAllListeners('error');
      resolve();
    };
    if (endpoint.kind === 'unix') {
      // 0600 whatever the caller's umask: bind with a tight umask, then chmod to be sure.
      umask = process.umask(0o177);
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
