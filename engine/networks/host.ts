// What is already in use on this host, so tspod's bridges and subnets never collide with it:
// the host's interfaces, addresses and routes (`ip -j`), Podman's network files (and Podman's
// implicit default network), and other tspod instances' networks. tspod instances each have
// their own --root, so they find each other through a host-wide directory of claims: one JSON
// file per network naming its bridge, subnets and the definition file it belongs to. A claim
// whose definition file is gone (a root removed with rm -rf, a network removed by a killed
// service) is stale and ignored.
import { execFile } from 'node:child_process';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readJson, writeFileAtomic } from './lock.js';
import { parseAddr, parseCidr, type Cidr } from './ip.js';
import type { NetworkConfig } from './types.js';

const run = promisify(execFile);

/** Something that holds a subnet or a bridge name, described for error messages. */
export interface Holder {
  what: string;
  subnets: Cidr[];
  bridge?: string;
}

export interface HostNetworkFacts {
  links: Set<string>;
  /** Routes and interface addresses (default routes and link-local ones left out), by device. */
  used: Array<{ cidr: Cidr; dev: string }>;
}

async function ipJson(args: string[]): Promise<any[]> {
  try {
    const { stdout } = await run('ip', ['-j', ...args], { maxBuffer: 16 << 20 });
    return JSON.parse(stdout || '[]') as any[];
  } catch {
    return [];
  }
}

const linkLocalOrMulticast = (c: Cidr) =>
  (c.family === 6 && (c.network >> 118n === 0x3fan || c.network >> 120n === 0xffn)) || (c.family === 4 && c.network >> 28n === 0xen);

/**
 * Routes only, of the given families: one command per family. The local table (in "all") holds
 * a route for each address on the host, so this covers interface addresses too.
 */
export async function scanRoutes(families: Array<4 | 6>): Promise<HostNetworkFacts['used']> {
  const lists = await Promise.all(families.map((f) => ipJson([`-${f}`, 'route', 'show', 'table', 'all'])));
  return routesOf(lists.flat());
}

function routesOf(routes: any[]): HostNetworkFacts['used'] {
  const used: HostNetworkFacts['used'] = [];
  for (const r of routes) {
    const dst = String(r.dst ?? '');
    if (!dst || dst === 'default' || r.type === 'broadcast' || r.type === 'multicast') continue;
    const a = parseAddr(dst);
    const c = a ? parseCidr(`${dst}/${a.family === 4 ? 32 : 128}`) : parseCidr(dst);
    if (c && !linkLocalOrMulticast(c) && c.prefix > 0) used.push({ cidr: c, dev: String(r.dev ?? '') });
  }
  return used;
}

export async function scanHost(): Promise<HostNetworkFacts> {
  const [links, addrs, routes4, routes6] = await Promise.all([
    ipJson(['link', 'show']),
    ipJson(['addr', 'show']),
    ipJson(['-4', 'route', 'show', 'table', 'all']),
    ipJson(['-6', 'route', 'show', 'table', 'all']),
  ]);
  const used: HostNetworkFacts['used'] = [];
  for (const l of addrs) {
    for (const a of l.addr_info ?? []) {
      const c = parseCidr(`${a.local}/${a.prefixlen}`);
      if (c && !linkLocalOrMulticast(c)) used.push({ cidr: c, dev: String(l.ifname) });
    }
  }
  used.push(...routesOf([...routes4, ...routes6]));
  return { links: new Set(links.map((l) => String(l.ifname))), used };
}

// ---- Podman ----

/** Podman's implicit default network: it exists (bridge podman0, 10.88.0.0/16) without a file. */
export const PODMAN_DEFAULT = { bridge: 'podman0', subnet: '10.88.0.0/16' };

/** Networks of a rootful Podman on this host (its network files and its implicit default). */
export async function podmanNetworks(dir: string): Promise<Holder[]> {
  const holders: Holder[] = [{ what: 'Podman\'s default network "podman"', subnets: [parseCidr(PODMAN_DEFAULT.subnet)!], bridge: PODMAN_DEFAULT.bridge }];
  const files = await readdir(dir).catch(() => [] as string[]);
  for (const f of files.filter((n) => n.endsWith('.json'))) {
    const n = await readJson<Partial<NetworkConfig>>(join(dir, f)).catch(() => undefined);
    if (!n || typeof n.name !== 'string') continue;
    const subnets = (n.subnets ?? []).map((s) => parseCidr(String(s.subnet))).filter((c): c is Cidr => !!c);
    holders.push({ what: `Podman's network "${n.name}"`, subnets, bridge: n.network_interface || undefined });
  }
  return holders;
}

// ---- tspod instances ----

export interface Claim {
  id: string;
  name: string;
  bridge: string;
  subnets: string[];
  /** The definition file the claim belongs to (its owner's <root>/networks/<name>.json). */
  file: string;
}

export function claimsDir(rootless: boolean): string {
  if (rootless) return join(process.env.XDG_RUNTIME_DIR || `/run/user/${process.getuid?.() ?? 0}`, 'tspod', 'network-claims');
  return '/run/tspod/network-claims';
}

/** Live claims of every tspod instance (stale ones are removed on the way). */
export async function readClaims(dir: string): Promise<Claim[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const claims: Claim[] = [];
  for (const f of names.filter((n) => n.endsWith('.json'))) {
    const c = await readJson<Claim>(join(dir, f)).catch(() => undefined);
    if (!c || typeof c.file !== 'string') continue;
    const def = await readJson<Partial<NetworkConfig>>(c.file).catch(() => undefined);
    if (def?.id !== c.id) {
      await unlink(join(dir, f)).catch(() => {});
      continue;
    }
    claims.push(c);
  }
  return claims;
}

export async function writeClaim(dir: string, n: NetworkConfig, file: string): Promise<void> {
  const claim: Claim = { id: n.id, name: n.name, bridge: n.network_interface, subnets: n.subnets.map((s) => s.subnet), file };
  await writeFileAtomic(join(dir, `${n.id}.json`), JSON.stringify(claim));
}

export async function removeClaim(dir: string, id: string): Promise<void> {
  await unlink(join(dir, `${id}.json`)).catch(() => {});
}

export function claimHolder(c: Claim, ownFile?: (file: string) => boolean): Holder {
  const owner = ownFile?.(c.file) ? 'network' : 'another tspod\'s network';
  return { what: `${owner} "${c.name}"`, subnets: c.subnets.map((s) => parseCidr(s)).filter((x): x is Cidr => !!x), bridge: c.bridge };
}
