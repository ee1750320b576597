// The netavark command contract: `netavark --config DIR --rootless=false --aardvark-binary PATH
// setup|teardown NETNS` with NetworkOptions as JSON on stdin; setup answers a StatusBlock per
// network on stdout; errors come as {"error": "..."} on stdout with a non-zero exit.
//
// tspod names each network to netavark by its ID rather than its name: netavark derives its
// iptables chain names (NETAVARK-<hash>, NETAVARK-DN-<hash>) from the network name, so two
// instances that each have a network "podman" (or a compose project's "app_default") would
// share and tear down each other's chains. IDs are unique across instances.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkConfig } from './types.js';

export interface NetavarkPortMapping {
  host_ip: string;
  container_port: number;
  host_port: number;
  range: number;
  protocol: string;
}

export interface NetavarkPerNetwork {
  interface_name: string;
  static_ips?: string[];
  aliases?: string[];
  static_mac?: string;
}

export interface NetavarkOptions {
  container_id: string;
  container_name: string;
  port_mappings?: NetavarkPortMapping[];
  /** Keyed by the name netavark knows the network by (its ID, see above). */
  networks: Record<string, NetavarkPerNetwork>;
  network_info: Record<string, NetworkConfig>;
  dns_servers?: string[];
}

export interface NetavarkStatus {
  dns_search_domains?: string[] | null;
  dns_server_ips?: string[] | null;
  interfaces?: Record<string, { mac_address: string; subnets?: Array<{ ipnet: string; gateway?: string | null }> | null }> | null;
}

export interface NetavarkTools {
  netavark: string;
  aardvark: string;
  /** netavark's --config: aardvark-dns keeps its per-network files and PID file in <configDir>/aardvark-dns. */
  configDir: string;
}

/** First existing `name` in the helper binary directories (containers.conf helper_binaries_dir). */
export function findHelper(dirs: readonly string[], name: string): string | undefined {
  for (const d of dirs) if (existsSync(join(d, name))) return join(d, name);
  return undefined;
}

/** The network as netavark is given it: named by its ID. */
export function netavarkNetwork(n: NetworkConfig): NetworkConfig {
  return { ...n, name: n.id };
}

function exec(tools: NetavarkTools, verb: 'setup' | 'teardown', netns: string, opts: NetavarkOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const args = ['--config', tools.configDir, '--rootless=false', '--aardvark-binary', tools.aardvark, verb, netns];
    // aardvark-dns is started by netavark and outlives it: it must not inherit our pipes.
    const child = spawn(tools.netavark, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', (e) => reject(new Error(`running ${tools.netavark}: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0) return resolve(out);
      let message = err.trim() || `exit status ${code}`;
      try {
        const parsed = JSON.parse(out) as { error?: string };
        if (parsed.error) message = parsed.error;
      } catch {
        if (out.trim()) message = out.trim();
      }
      reject(new Error(`netavark ${verb}: ${message}`));
    });
    child.stdin.on('error', () => {}); // it may exit before reading everything (a bad netns path)
    child.stdin.end(JSON.stringify(opts));
  });
}

export async function netavarkSetup(tools: NetavarkTools, netns: string, opts: NetavarkOptions): Promise<Record<string, NetavarkStatus>> {
  const out = await exec(tools, 'setup', netns, opts);
  try {
    return JSON.parse(out) as Record<string, NetavarkStatus>;
  } catch {
    throw new Error(`netavark setup: unexpected output: ${out.slice(0, 200)}`);
  }
}

export async function netavarkTeardown(tools: NetavarkTools, netns: string, opts: NetavarkOptions): Promise<void> {
  await exec(tools, 'teardown', netns, opts);
}

/** netavark's chain suffix for a network: the first 13 hex digits (upper case) of SHA-512 of its name. */
export function chainHash(netavarkName: string): string {
  return createHash('sha512').update(netavarkName).digest('hex').toUpperCase().slice(0, 13);
}

/**
 * After the last container left a network (its bridge is gone), removes the network's own
 * chains if netavark left them: netavark 1.4 keeps an empty NETAVARK-DN-<hash> when the
 * container that published ports was not the last one to leave. -X only removes a chain that
 * is empty and unreferenced, and the names are this network's alone (its ID is hashed).
 */
export async function dropEmptyChains(n: NetworkConfig): Promise<void> {
  const hash = chainHash(n.id);
  const cmds = n.ipv6_enabled ? ['iptables', 'ip6tables'] : ['iptables'];
  await Promise.all(
    cmds.flatMap((cmd) =>
      [`NETAVARK-DN-${hash}`, `NETAVARK-${hash}`].map(
        (chain) => new Promise<void>((resolve) => execFile(cmd, ['-w', '-t', 'nat', '-X', chain], () => resolve())),
      ),
    ),
  );
}
