// IP address management (host-local, as Podman's): one address per subnet of the network for
// each container attached, allocated round-robin after the last one handed out so a released
// address is not reused at once, or the static one asked for. Allocations live under the
// runroot (<runroot>/networks/ipam/<network id>.json): they hold only while containers have
// their network set up, which no reboot survives. Callers hold the instance lock.
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError } from '../errors.js';
import { contains, formatAddr, hostRange, parseAddr, parseCidr, type Cidr } from './ip.js';
import { readJson, writeFileAtomic } from './lock.js';
import type { NetworkConfig } from './types.js';

/** Every address of a subnet is allocated (a lingering teardown may be holding one: sandbox.ts). */
export class AddressesExhausted extends EngineError {
  constructor(message: string) {
    super('internal', message);
    this.name = 'AddressesExhausted';
  }
}

interface IpamState {
  /** Address -> container ID. */
  allocated: Record<string, string>;
  /** Subnet -> last address handed out. */
  last: Record<string, string>;
}

export interface Allocation {
  address: string;
  prefixLength: number;
  gateway: string;
  family: 4 | 6;
}

export class Ipam {
  constructor(private readonly dir: string) {}

  private file(networkId: string) {
    return join(this.dir, `${networkId}.json`);
  }

  private async load(networkId: string): Promise<IpamState> {
    return (await readJson<IpamState>(this.file(networkId))) ?? { allocated: {}, last: {} };
  }

  private async save(networkId: string, s: IpamState): Promise<void> {
    await writeFileAtomic(this.file(networkId), JSON.stringify(s));
  }

  /** Drops the state of a removed network. */
  async forget(networkId: string): Promise<void> {
    await unlink(this.file(networkId)).catch(() => {});
  }

  /** Addresses for `containerId` on `network`, one per subnet; `staticIPs` are honoured where they fall. */
  async allocate(network: NetworkConfig, containerId: string, staticIPs: string[] = []): Promise<Allocation[]> {
    const s = await this.load(network.id);
    const subnets = network.subnets.map((sub) => ({ sub, cidr: parseCidr(sub.subnet)! }));
    const statics = staticIPs.map((ip) => {
      const a = parseAddr(ip);
      if (!a) throw new EngineError('invalid-argument', `invalid static IP address "${ip}"`);
      const hit = subnets.find(({ cidr }) => contains(cidr, a));
      if (!hit) throw new EngineError('invalid-argument', `requested static IP ${ip} is not in any subnet of network ${network.name} (${network.subnets.map((x) => x.subnet).join(', ')})`);
      return { a, cidr: hit.cidr };
    });
    const out: Allocation[] = [];
    for (const { sub, cidr } of subnets) {
      const gateway = sub.gateway ? parseAddr(sub.gateway)!.value : undefined;
      const fixed = statics.find((x) => x.cidr === cidr);
      let value: bigint;
      if (fixed) {
        value = fixed.a.value;
        const ip = formatAddr(fixed.a);
        const holder = s.allocated[ip];
        if (holder && holder !== containerId) throw new EngineError('conflict', `requested IP address ${ip} is already allocated to container ID ${holder}`);
        if (value === gateway) throw new EngineError('invalid-argument', `requested IP address ${ip} is the gateway of network ${network.name}`);
      } else {
        value = this.next(cidr, sub, s, gateway, network.name);
      }
      const ip = formatAddr({ family: cidr.family, value });
      s.allocated[ip] = containerId;
      if (!fixed) s.last[sub.subnet] = ip;
      out.push({ address: ip, prefixLength: cidr.prefix, gateway: sub.gateway ?? '', family: cidr.family });
    }
    await this.save(network.id, s);
    return out;
  }

  private next(cidr: Cidr, sub: NetworkConfig['subnets'][number], s: IpamState, gateway: bigint | undefined, name: string): bigint {
    let { first, last } = hostRange(cidr);
    const start = sub.lease_range?.start_ip && parseAddr(sub.lease_range.start_ip);
    const end = sub.lease_range?.end_ip && parseAddr(sub.lease_range.end_ip);
    if (start && start.value > first) first = start.value;
    if (end && end.value < last) last = end.value;
    const taken = new Set(Object.keys(s.allocated));
    const span = last - first + 1n;
    const prev = s.last[sub.subnet] ? parseAddr(s.last[sub.subnet]!)?.value : undefined;
    let v = prev !== undefined && prev >= first && prev < last ? prev + 1n : first;
    // Walk at most the whole range (bounded: a /16 has 65534 addresses; larger ones will find
    // a free address long before, as only allocated addresses are skipped).
    for (let i = 0n; i < span; i++, v = v === last ? first : v + 1n) {
      if (v === gateway) continue;
      if (!taken.has(formatAddr({ family: cidr.family, value: v }))) return v;
    }
    throw new AddressesExhausted(`no free IP address left in subnet ${sub.subnet} of network ${name}`);
  }

  /** Frees every address `containerId` holds on the network. */
  async release(networkId: string, containerId: string): Promise<void> {
    const s = await this.load(networkId);
    let changed = false;
    for (const [ip, holder] of Object.entries(s.allocated)) {
      if (holder === containerId) {
        delete s.allocated[ip];
        changed = true;
      }
    }
    if (changed) await this.save(networkId, s);
  }

  /** Whether any container holds an address on the network. */
  async inUse(networkId: string): Promise<boolean> {
    return Object.keys((await this.load(networkId)).allocated).length > 0;
  }
}
