// Tar header encoding (ustar, with a PAX extended header whenever a field does not fit: long
// names and link names, big sizes or ids, sub-second mtimes, xattrs). Used to build archives the
// engine hands to GNU tar, and by save/export.
import type { TarEntryType } from './tar-reader.js';

export interface TarWriteHeader {
  name: string;
  type: TarEntryType;
  mode: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  size?: number;
  /** Seconds since the epoch (fractions go into PAX). */
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
  /** Extra PAX records. */
  pax?: Record<string, string>;
}

const BLOCK = 512;

const typeflags: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
  unsupported: '0',
};

function writeString(b: Buffer, off: number, len: number, s: string): boolean {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length > len) return false;
  bytes.copy(b, off);
  return true;
}

function writeOctal(b: Buffer, off: number, len: number, n: number): boolean {
  if (!Number.isInteger(n) || n < 0) return false;
  const s = n.toString(8);
  if (s.length > len - 1) return false;
  b.write(s.padStart(len - 1, '0') + '\0', off, len, 'latin1');
  return true;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'latin1'), body]);
}

function rawHeader(h: {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeString(b, 0, 100, h.name);
  writeOctal(b, 100, 8, h.mode & 0o7777);
  writeOctal(b, 108, 8, h.uid);
  writeOctal(b, 116, 8, h.gid);
  writeOctal(b, 124, 12, h.size);
  writeOctal(b, 136, 12, h.mtime);
  b.write(h.typeflag, 156, 1, 'latin1');
  writeString(b, 157, 100, h.linkname);
  b.write('ustar\x0000', 257, 8, 'latin1');
  writeString(b, 265, 32, h.uname);
  writeString(b, 297, 32, h.gname);
  writeOctal(b, 329, 8, h.devmajor);
  writeOctal(b, 337, 8, h.devminor);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

/** The header block(s) of one entry: a PAX header first when needed, then the ustar header. */
export function encodeTarHeader(h: TarWriteHeader): Buffer {
  const size = h.type === 'file' ? (h.size ?? 0) : 0;
  const mtime = h.mtime ?? 0;
  const uid = h.uid ?? 0;
  const gid = h.gid ?? 0;
  const linkname = h.linkname ?? '';
  const uname = h.uname ?? '';
  const gname = h.gname ?? '';
  const pax: Array<[string, Buffer]> = [];
  const fits = (s: string, len: number) => Buffer.byteLength(s, 'utf8') <= len;
  const octalFits = (n: number, len: number) => Number.isInteger(n) && n >= 0 && n < 8 ** (len - 1);
  if (!fits(h.name, 100)) pax.push(['path', Buffer.from(h.name, 'utf8')]);
  if (!fits(linkname, 100)) pax.push(['linkpath', Buffer.from(linkname, 'utf8')]);
  if (!octalFits(size, 12)) pax.push(['size', Buffer.from(String(size))]);
  if (!octalFits(uid, 8)) pax.push(['uid', Buffer.from(String(uid))]);
  if (!octalFits(gid, 8)) pax.push(['gid', Buffer.from(String(gid))]);
  if (!fits(uname, 32)) pax.push(['uname', Buffer.from(uname, 'utf8')]);
  if (!fits(gname, 32)) pax.push(['gname', Buffer.from(gname, 'utf8')]);
  if (!octalFits(mtime, 12)) pax.push(['mtime', Buffer.from(String(mtime))]);
  for (const [k, v] of h.xattrs ?? []) pax.push([`SCHILY.xattr.${k}`, v]);
  for (const [k, v] of Object.entries(h.pax ?? {})) pax.push([k, Buffer.from(v, 'utf8')]);

  const clip = (s: string, len: number) => (fits(s, len) ? s : Buffer.from(s, 'utf8').subarray(0, len).toString('latin1'));
  const main = rawHeader({
    name: clip(h.name, 100),
    typeflag: typeflags[h.type],
    mode: h.mode,
    uid: octalFits(uid, 8) ? uid : 0,
    gid: octalFits(gid, 8) ? gid : 0,
    size: octalFits(size, 12) ? size : 0,
    mtime: octalFits(mtime, 12) ? mtime : Math.max(0, Math.min(Math.floor(mtime), 8 ** 11 - 1)),
    linkname: clip(linkname, 100),
    uname: clip(uname, 32),
    gname: clip(gname, 32),
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  });
  if (pax.length === 0) return main;
  const data = Buffer.concat(pax.map(([k, v]) => paxRecord(k, v)));
  const paxHeader = rawHeader({
    name: 'PaxHeaders/' + clip(h.name, 80).replace(/\/+$/, '').split('/').pop(),
    typeflag: 'x',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: data.length,
    mtime: 0,
    linkname: '',
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, data, tarPadding(data.length), main]);
}

/** Zero bytes that pad a body of `size` bytes to a whole block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The end-of-archive marker: two zero blocks. */
export const TAR_END: Buffer = Buffer.alloc(2 * BLOCK);
