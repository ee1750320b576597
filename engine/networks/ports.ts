// Published ports: Docker's PortBindings/ExposedPorts as port requests, the Docker
// NetworkSettings.Ports view of published ports, and the host-side checks netavark does not
// make. netavark publishes with DNAT rules only and binds nothing, so tspod checks each host
// port itself: not bound by a host process (a test bind) and not published already by any
// container on this host, of this tspod or another, or of a Podman (netavark's host-wide
// NETAVARK-HOSTPORT-DNAT chain lists them all).
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { EngineError } from '../errors.js';
import type { PortRequest, Protocol, PublishedPort } from './types.js';

const run = promisify(execFile);

const invalid = (m: string) => new EngineError('invalid-argument', m);

/** "80/tcp", "53/udp", "8080" (tcp), "7000-7002/tcp" -> ports and protocol. */
export function parsePortKey(key: string): { port: number; end: number; protocol: Protocol } {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(key.trim());
  if (!m) throw invalid(`invalid port "${key}"`);
  const port = Number(m[1]);
  const end = m[2] ? Number(m[2]) : port;
  if (port < 1 || end > 65535 || end < port) throw invalid(`invalid port "${key}"`);
  return { port, end, protocol: (m[3]?.toLowerCase() ?? 'tcp') as Protocol };
}

/**
 * Docker's HostConfig.PortBindings ({"80/tcp": [{HostIp, HostPort}]}), with ExposedPorts when
 * PublishAllPorts: the requests to give setupContainerNetwork. HostPort "" or "0" is a free port;
 * "8080-8081" a range.
 */
export function portRequestsFromDocker(
  bindings: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | undefined,
  exposedPorts: string[] = [],
  publishAll = false,
): PortRequest[] {
  const out: PortRequest[] = [];
  const bound = new Set<string>();
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, end, protocol } = parsePortKey(key);
    bound.add(`${port}/${protocol}`);
    for (const b of list && list.length ? list : [{}]) {
      const hostIP = b.HostIp ?? '';
      const hp = (b.HostPort ?? '').trim();
      const m = /^(\d*)(?:-(\d+))?$/.exec(hp);
      if (!m) throw invalid(`invalid host port "${hp}" for ${key}`);
      const hostPort = m[1] ? Number(m[1]) : 0;
      if (hostPort > 65535) throw invalid(`invalid host port "${hp}" for ${key}`);
      const range = end - port + 1;
      if (m[2] && Number(m[2]) - hostPort + 1 !== range && range > 1) throw invalid(`host port range ${hp} does not match container port range ${key}`);
      out.push({ containerPort: port, protocol, hostIP, hostPort, range });
    }
  }
  if (publishAll) {
    for (const key of exposedPorts) {
      const { port, end, protocol } = parsePortKey(key);
      for (let p = port; p <= end; p++) if (!bound.has(`${p}/${protocol}`)) out.push({ containerPort: p, protocol, hostIP: '', hostPort: 0, range: 1 });
    }
  }
  return out;
}

/** Published ports as Docker's NetworkSettings.Ports (exposed but unpublished ports map to null). */
export function toDockerPorts(ports: PublishedPort[], exposedPorts: string[] = []): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const key of exposedPorts) {
    const { port, end, protocol } = parsePortKey(key);
    for (let p = port; p <= end; p++) out[`${p}/${protocol}`] ??= null;
  }
  for (const pm of ports) {
    for (let i = 0; i < pm.range; i++) {
      const key = `${pm.containerPort + i}/${pm.protocol}`;
      (out[key] ??= []).push({ HostIp: pm.hostIP || '0.0.0.0', HostPort: String(pm.hostPort + i) });
    }
  }
  return out;
}

// ---- host checks ----

interface Published {
  protocol: string;
  from: number;
  to: number;
  hostIP: string;
}

/** Ports published by netavark on this host (any instance, any Podman). */
export async function publishedOnHost(): Promise<Published[]> {
  const texts = await Promise.all(
    ['iptables', 'ip6tables'].map((cmd) => run(cmd, ['-w', '-t', 'nat', '-S', 'NETAVARK-HOSTPORT-DNAT']).then((r) => r.stdout, () => '')), // no chain: nothing published
  );
  const out: Published[] = [];
  for (const line of texts.join('\n').split('\n')) {
    const proto = / -p (\w+)/.exec(line)?.[1];
    const dport = / --dport (\d+)(?::(\d+))?/.exec(line);
    if (!proto || !dport) continue;
    const d = / -d ([^\s/]+)/.exec(line)?.[1] ?? '';
    out.push({ protocol: proto, from: Number(dport[1]), to: Number(dport[2] ?? dport[1]), hostIP: d });
  }
  return out;
}

function canBind(protocol: Protocol, port: number, host: string): Promise<boolean> {
  if (protocol === 'sctp') return Promise.resolve(true); // Node cannot open SCTP sockets
  const family = host.includes(':') ? 'udp6' : 'udp4';
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const s = createSocket(family);
      s.once('error', () => resolve(false));
      s.bind(port, host, () => s.close(() => resolve(true)));
      return;
    }
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

const clash = (a: Published, protocol: string, from: number, to: number, hostIP: string) =>
  a.protocol === protocol && a.from <= to && from <= a.to && (!a.hostIP || !hostIP || a.hostIP === hostIP);

/**
 * Resolves free host ports (hostPort 0) and checks the others; `reserved` are the ports this
 * call already chose. Throws naming the port when one is taken.
 */
export async function resolvePorts(requests: PortRequest[], published?: Published[]): Promise<PublishedPort[]> {
  if (requests.length === 0) return [];
  const onHost = published ?? (await publishedOnHost());
  const chosen: Published[] = [];
  const out: PublishedPort[] = [];
  for (const r of requests) {
    const range = r.range ?? 1;
    if (r.containerPort < 1 || r.containerPort + range - 1 > 65535) throw invalid(`invalid container port ${r.containerPort}`);
    const hostIP = r.hostIP === '0.0.0.0' ? '' : r.hostIP;
    const bindHost = hostIP || '0.0.0.0';
    const free = async (from: number) => {
      const to = from + range - 1;
      if (to > 65535) return false;
      if ([...onHost, ...chosen].some((p) => clash(p, r.protocol, from, to, hostIP))) return false;
      for (let p = from; p <= to; p++) if (!(await canBind(r.protocol, p, bindHost))) return false;
      return true;
    };
    let hostPort = r.hostPort;
    if (hostPort === 0) {
      let found = 0;
      for (let i = 0; i < 200 && !found; i++) {
        const candidate = 32768 + Math.floor(Math.random() * (60999 - 32768 - range));
        if (await free(candidate)) found = candidate;
      }
      if (!found) throw new EngineError('internal', `no free host port found for ${r.containerPort}/${r.protocol}`);
      hostPort = found;
    } else if (!(await free(hostPort))) {
      const span = range > 1 ? `${hostPort}-${hostPort + range - 1}` : String(hostPort);
      throw new EngineError('internal', `cannot publish port ${r.containerPort}/${r.protocol}: host port ${span}/${r.protocol} on ${bindHost} is already in use`);
    }
    chosen.push({ protocol: r.protocol, from: hostPort, to: hostPort + range - 1, hostIP });
    out.push({ containerPort: r.containerPort, protocol: r.protocol, hostIP, hostPort, range });
  }
  return out;
}
