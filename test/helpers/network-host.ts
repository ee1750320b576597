// Test helpers for networking: an engine context on temp directories, commands in a network
// namespace, and the host's network state (namespaces, links, firewall rules) to check for
// leftovers. Traffic in these tests stays on loopback and inside namespaces the tests create.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ContainersConf } from '../../engine/config/containers-conf.js';
import type { EngineContext } from '../../engine/context.js';
import { EventLog } from '../../engine/events/event-log.js';

export const run = promisify(execFile);
export const BUSYBOX = '/bin/busybox';

export function emptyConf(): ContainersConf {
  return { files: [], engine: {}, containers: {}, network: {}, raw: {} } as ContainersConf;
}

export function testContext(dir = mkdtempSync(join(tmpdir(), 'tspod-net-'))): EngineContext & { dir: string } {
  const runroot = join(dir, 'run');
  return { dir, root: join(dir, 'root'), runroot, rootless: false, conf: emptyConf(), events: new EventLog(join(runroot, 'events', 'events.log')) };
}

export const newId = () => randomBytes(32).toString('hex');

/** Runs a command in the network namespace at `netns` (loopback and bridge traffic only). */
export async function inNetns(netns: string, args: string[], timeoutMs = 10_000): Promise<string> {
  const { stdout } = await run('nsenter', [`--net=${netns}`, ...args], { timeout: timeoutMs });
  return stdout;
}

/** A long-running process in a namespace (a server), killed by the caller. */
export function spawnInNetns(netns: string, args: string[]): ChildProcess {
  return spawn('nsenter', [`--net=${netns}`, ...args], { stdio: 'ignore' });
}

export interface HostNetState {
  /** `ip netns` names. */
  netns: string[];
  /** Link names. */
  links: string[];
  /** iptables/ip6tables -S of filter and nat. */
  rules: string[];
  /** nft list ruleset. */
  nft: string;
  /** Mount points of namespace files (nsfs). */
  nsMounts: string[];
}

async function out(cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args, { maxBuffer: 32 << 20 })).stdout;
  } catch {
    return '';
  }
}

export async function hostNetState(): Promise<HostNetState> {
  const rules: string[] = [];
  for (const cmd of ['iptables', 'ip6tables']) for (const t of ['filter', 'nat']) rules.push(...(await out(cmd, ['-w', '-t', t, '-S'])).split('\n').filter(Boolean));
  const links = JSON.parse((await out('ip', ['-j', 'link', 'show'])) || '[]') as Array<{ ifname: string }>;
  const nsMounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(' - nsfs '))
    .map((l) => l.split(' ')[4]!);
  return {
    netns: (await out('ip', ['netns', 'list'])).split('\n').filter(Boolean),
    links: links.map((l) => l.ifname),
    rules,
    nft: await out('nft', ['list', 'ruleset']),
    nsMounts,
  };
}

/** What of `needles` (addresses, subnets, IDs, bridge names) is still in the host's state. */
export async function leftovers(needles: string[], netnsDirs: string[] = []): Promise<string[]> {
  const s = await hostNetState();
  const found: string[] = [];
  for (const n of needles.filter(Boolean)) {
    for (const r of s.rules) if (r.includes(n)) found.push(`rule: ${r}`);
    if (s.nft.includes(n)) found.push(`nft ruleset mentions ${n}`);
    if (s.links.includes(n)) found.push(`link: ${n}`);
    for (const ns of s.netns) if (ns.includes(n)) found.push(`netns: ${ns}`);
  }
  for (const d of netnsDirs) for (const m of s.nsMounts) if (m.startsWith(d + '/')) found.push(`namespace mount: ${m}`);
  return found;
}

/** netavark's iptables chain suffix for a network: it hashes the name it is given (tspod gives the ID). */
export function chainHash(networkId: string): string {
  return createHash('sha512').update(networkId).digest('hex').toUpperCase().slice(0, 13);
}

/** Interfaces enslaved to a bridge (the host ends of containers' veths). */
export async function vethsOnBridge(bridge: string): Promise<string[]> {
  const links = JSON.parse((await out('ip', ['-j', 'link', 'show', 'master', bridge])) || '[]') as Array<{ ifname: string }>;
  return links.map((l) => l.ifname);
}
