// A container's root filesystem and the files the engine generates for it: the overlay mount
// (image layers below, the container's upper dir on top), /etc/hosts, /etc/hostname and
// /etc/resolv.conf, and user/group lookup in the rootfs's own /etc/passwd and /etc/group.
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import { EngineError } from '../errors.js';
import { mountOverlay, unmount, isMountPoint } from '../storage/overlay.js';
import type { SetupContainerNetworkReport } from '../networks/types.js';
import type { Layout } from './layout.js';
import { resolveInRoot } from './scoped-path.js';
import type { ContainerRecord } from './types.js';

/** Creates the container's directories (at create). */
export async function prepareContainerDirs(layout: Layout, id: string, needEmptyLower: boolean): Promise<void> {
  await fsp.mkdir(layout.dir(id), { recursive: true, mode: 0o700 });
  await Promise.all([
    fsp.mkdir(layout.upper(id), { mode: 0o755 }),
    fsp.mkdir(layout.work(id), { mode: 0o700 }),
    fsp.mkdir(layout.merged(id), { mode: 0o755 }),
    fsp.mkdir(layout.userdata(id), { mode: 0o700 }),
    needEmptyLower ? fsp.mkdir(layout.emptyLower(id), { mode: 0o755 }) : undefined,
  ]);
}

/** Mounts the rootfs overlay unless it is mounted already; returns the mount point. */
export async function mountRootfs(layout: Layout, rec: ContainerRecord): Promise<string> {
  const target = layout.merged(rec.id);
  if (await isMountPoint(target)) return target;
  const lowerDirs = rec.spec.lowerDirs.length ? rec.spec.lowerDirs : [layout.emptyLower(rec.id)];
  for (const d of lowerDirs) {
    try {
      await fsp.access(d);
    } catch {
      throw new EngineError('internal', `image layer ${d} of container ${rec.id} is missing: the image was removed from under it`);
    }
  }
  await fsp.mkdir(layout.emptyLower(rec.id), { recursive: true }).catch(() => {});
  await mountOverlay(target, { lowerDirs, upperDir: layout.upper(rec.id), workDir: layout.work(rec.id) });
  return target;
}

export async function unmountRootfs(layout: Layout, id: string): Promise<void> {
  try {
    await unmount(layout.merged(id));
  } catch (err) {
    // Busy (a process still has it open): detach it now, the kernel frees it when unused.
    await unmount(layout.merged(id), { lazy: true }).catch(() => {
      throw err;
    });
  }
}

const HOSTS_HEADER = '127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n';

/** Writes hosts, hostname and resolv.conf into the container's userdata dir. */
export async function writeEtcFiles(layout: Layout, rec: ContainerRecord, hostname: string, net?: SetupContainerNetworkReport): Promise<void> {
  const s = rec.spec;
  const hostNet = s.netns.mode === 'host';
  let hosts = hostNet ? await fsp.readFile('/etc/hosts', 'utf8').catch(() => HOSTS_HEADER) : HOSTS_HEADER;
  if (!hosts.endsWith('\n')) hosts += '\n';
  for (const e of s.extraHosts) {
    const i = e.indexOf(':');
    const host = e.slice(0, i);
    let ip = e.slice(i + 1);
    if (ip === 'host-gateway') ip = '127.0.0.1';
    hosts += `${ip}\t${host}\n`;
  }
  const own = net?.hostsEntries ?? [];
  for (const e of own) hosts += `${e.ip}\t${(e.names.includes(rec.name) ? [...new Set([hostname, ...e.names])] : e.names).join(' ')}\n`;
  if (!hostNet && !own.some((e) => e.names.includes(rec.name))) hosts += `127.0.1.1\t${hostname} ${rec.name}\n`;

  let resolv = await fsp.readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const lines = resolv.split('\n');
  let nameservers = lines.filter((l) => /^\s*nameserver\s/.test(l)).map((l) => l.trim().split(/\s+/)[1]!);
  let search = lines.filter((l) => /^\s*(search|domain)\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  let options = lines.filter((l) => /^\s*options\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  // A private network namespace cannot reach the host's loopback resolvers.
  if (!hostNet) nameservers = nameservers.filter((n) => !/^127\.|^::1$/.test(n));
  if (!hostNet && !nameservers.length) nameservers = ['8.8.8.8', '8.8.4.4'];
  if (net && !net.resolvConf.useHost) {
    // aardvark-dns answers (with --dns servers as its upstreams).
    nameservers = net.resolvConf.nameservers;
    search = [...net.resolvConf.search, ...search.filter((d) => !net.resolvConf.search.includes(d))];
  } else if (s.dns.length) nameservers = s.dns;
  if (s.dnsSearch.length) search = s.dnsSearch.filter((d) => d !== '.');
  if (s.dnsOptions.length) options = s.dnsOptions;
  resolv = [
    ...(search.length ? [`search ${search.join(' ')}`] : []),
    ...nameservers.map((n) => `nameserver ${n}`),
    ...(options.length ? [`options ${options.join(' ')}`] : []),
  ].join('\n') + '\n';

  await Promise.all([
    fsp.writeFile(layout.hostsPath(rec.id), hosts, { mode: 0o644 }),
    fsp.writeFile(layout.hostnamePath(rec.id), `${hostname}\n`, { mode: 0o644 }),
    fsp.writeFile(layout.resolvConfPath(rec.id), resolv, { mode: 0o644 }),
  ]);
}

/** The hostname a container gets: its own, the host's (host UTS or network), or its short ID. */
export function containerHostname(rec: ContainerRecord): string {
  if (rec.spec.hostname) return rec.spec.hostname;
  if (rec.spec.utsns.mode === 'host' || rec.spec.netns.mode === 'host') return os.hostname();
  return rec.id.slice(0, 12);
}

export interface ExecUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

async function readInRoot(root: string, file: string): Promise<string> {
  try {
    return await fsp.readFile(await resolveInRoot(root, file), 'utf8');
  } catch {
    return '';
  }
}

function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || line.startsWith('#')) continue;
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! });
  }
  return out;
}

function parseGroup(text: string): { name: string; gid: number; members: string[] }[] {
  const out: { name: string; gid: number; members: string[] }[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) continue;
    out.push({ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(',').filter(Boolean) });
  }
  return out;
}

const isNum = (s: string) => /^\d+$/.test(s);

/**
 * Resolves "user[:group]" (names or numbers) against the rootfs's /etc/passwd and /etc/group,
 * plus supplementary groups of the user and `groupAdd`. An unknown numeric user is fine (group
 * 0, home /); an unknown name is an error, as in Docker and Podman.
 */
export async function resolveUser(rootfs: string, user: string, groupAdd: string[] = []): Promise<ExecUser> {
  const [u = '', g] = user.split(':', 2) as [string, string | undefined];
  const [passwd, groups] = await Promise.all([readInRoot(rootfs, '/etc/passwd').then(parsePasswd), readInRoot(rootfs, '/etc/group').then(parseGroup)]);
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (u === '') {
    entry = passwd.find((p) => p.uid === 0);
    uid = 0;
  } else if (isNum(u)) {
    uid = Number(u);
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === u);
    if (!entry) throw new EngineError('internal', `unable to find user ${u}: no matching entries in passwd file`);
    uid = entry.uid;
  }
  let gid = entry?.gid ?? 0;
  if (g !== undefined && g !== '') {
    if (isNum(g)) gid = Number(g);
    else {
      const grp = groups.find((x) => x.name === g);
      if (!grp) throw new EngineError('internal', `unable to find group ${g}: no matching entries in group file`);
      gid = grp.gid;
    }
  }
  const extra = new Set<number>();
  if (entry && g === undefined) for (const grp of groups) if (grp.members.includes(entry.name)) extra.add(grp.gid);
  for (const ga of groupAdd) {
    if (isNum(ga)) extra.add(Number(ga));
    else {
      const grp = groups.find((x) => x.name === ga);
      if (!grp) throw new EngineError('internal', `unable to find group ${ga}: no matching entries in group file`);
      extra.add(grp.gid);
    }
  }
  return { uid, gid, additionalGids: [...extra].filter((x) => x !== gid), home: entry?.home || '/' };
}
