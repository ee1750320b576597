// IPv4/IPv6 addresses and CIDR subnets as numbers (bigint), for IPAM and overlap checks.
// Pure: no I/O.
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface Addr {
  family: Family;
  value: bigint;
}

export interface Cidr {
  family: Family;
  /** The network address (host bits cleared). */
  network: bigint;
  prefix: number;
}

const bits = (f: Family) => (f === 4 ? 32 : 128);

export function parseAddr(text: string): Addr | undefined {
  if (isIPv4(text)) {
    const v = text.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
    return { family: 4, value: v };
  }
  // IPv4-mapped and zone-scoped forms are not container addresses.
  if (!isIPv6(text) || text.includes('%') || text.includes('.')) return undefined;
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = 8 - left.length - right.length;
  const groups = tail === undefined ? left : [...left, ...Array<string>(missing).fill('0'), ...right];
  if (groups.length !== 8) return undefined;
  return { family: 6, value: groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

export function formatAddr(a: Addr): string {
  if (a.family === 4) return [24n, 16n, 8n, 0n].map((s) => String((a.value >> s) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((a.value >> BigInt((7 - i) * 16)) & 0xffffn));
  // RFC 5952: the longest run (2 or more) of zero groups becomes "::", the first such on ties.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Normalises an address ("010.0.0.1" is refused, "fd00:0::1" becomes "fd00::1"); undefined when invalid. */
export function normalizeAddr(text: string): string | undefined {
  const a = parseAddr(text);
  return a && formatAddr(a);
}

const mask = (f: Family, prefix: number) => ((1n << BigInt(bits(f))) - 1n) ^ ((1n << BigInt(bits(f) - prefix)) - 1n);

/** Parses "a.b.c.d/n"; with `strict`, host bits must be zero. */
export function parseCidr(text: string, strict = false): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseAddr(text.slice(0, slash));
  const p = text.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > bits(addr.family)) return undefined;
  const network = addr.value & mask(addr.family, prefix);
  if (strict && network !== addr.value) return undefined;
  return { family: addr.family, network, prefix };
}

/** The address with its prefix length ("10.88.0.5/16"), as netavark reports interface addresses. */
export function parseIpNet(text: string): { addr: Addr; prefix: number } | undefined {
  const c = parseCidr(text);
  const a = parseAddr(text.split('/')[0]!);
  return c && a ? { addr: a, prefix: c.prefix } : undefined;
}

export function formatCidr(c: Cidr): string {
  return `${formatAddr({ family: c.family, value: c.network })}/${c.prefix}`;
}

export function size(c: Cidr): bigint {
  return 1n << BigInt(bits(c.family) - c.prefix);
}

export function lastAddr(c: Cidr): bigint {
  return c.network + size(c) - 1n;
}

export function contains(c: Cidr, a: Addr): boolean {
  return c.family === a.family && a.value >= c.network && a.value <= lastAddr(c);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.network <= lastAddr(b) && b.network <= lastAddr(a);
}

/** The usable host range of a subnet: IPv4 skips the network and broadcast addresses (except /31 and /32). */
export function hostRange(c: Cidr): { first: bigint; last: bigint } {
  if (c.family === 4 && c.prefix <= 30) return { first: c.network + 1n, last: lastAddr(c) - 1n };
  if (c.family === 6 && c.prefix <= 126) return { first: c.network + 1n, last: lastAddr(c) };
  return { first: c.network, last: lastAddr(c) };
}

/** The `index`-th subnet of size `prefix` inside `base` (undefined past the end). */
export function nthSubnet(base: Cidr, prefix: number, index: bigint): Cidr | undefined {
  if (prefix < base.prefix) return undefined;
  const count = 1n << BigInt(prefix - base.prefix);
  if (index < 0n || index >= count) return undefined;
  return { family: base.family, network: base.network + index * (1n << BigInt(bits(base.family) - prefix)), prefix };
}

export function subnetCount(base: Cidr, prefix: number): bigint {
  return prefix < base.prefix ? 0n : 1n << BigInt(prefix - base.prefix);
}

/** A MAC address as netavark accepts it (six hex octets separated by colons), lower-cased. */
export function normalizeMac(text: string): string | undefined {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(text);
  return m ? m.slice(1).join(':').toLowerCase() : undefined;
}

/** The smallest subnet holding both addresses ("10.1.5.1".."10.1.5.254" -> 10.1.5.0/24). */
export function enclosingCidr(a: Addr, b: Addr): Cidr | undefined {
  if (a.family !== b.family) return undefined;
  for (let prefix = bits(a.family); prefix >= 0; prefix--) {
    const m = mask(a.family, prefix);
    if ((a.value & m) === (b.value & m)) return { family: a.family, network: a.value & m, prefix };
  }
  return undefined;
}
