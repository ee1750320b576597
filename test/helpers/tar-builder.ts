// A small tar writer for tests, independent of the engine's: it writes whatever it is told,
// including hostile names, in ustar, GNU long-name (`L`/`K`) or PAX form.
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';

export type TestEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TestEntry {
  name: string;
  type?: TestEntryType;
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, Buffer | string>;
  /** Extra PAX records for this entry. */
  pax?: Record<string, string>;
  /** Write a long name / link name as GNU `L` / `K` records instead of PAX. */
  gnuLong?: boolean;
}

const flags: Record<TestEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

function header(f: {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  flag: string;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  gnu?: boolean;
}): Buffer {
  const b = Buffer.alloc(512);
  const str = (off: number, len: number, s: string) => Buffer.from(s, 'utf8').subarray(0, len).copy(b, off);
  const oct = (off: number, len: number, n: number) => b.write(n.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
  str(0, 100, f.name);
  oct(100, 8, f.mode);
  oct(108, 8, f.uid);
  oct(116, 8, f.gid);
  if (f.size >= 8 ** 11) {
    // GNU base-256
    b[124] = 0x80;
    b.writeUIntBE(f.size, 136 - 6, 6);
  } else oct(124, 12, f.size);
  oct(136, 12, f.mtime);
  b.write(f.flag, 156, 1, 'latin1');
  str(157, 100, f.linkname);
  if (f.gnu) b.write('ustar  \0', 257, 8, 'latin1');
  else b.write('ustar\x0000', 257, 8, 'latin1');
  str(265, 32, f.uname);
  str(297, 32, f.gname);
  oct(329, 8, f.devmajor);
  oct(337, 8, f.devminor);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

function paxData(records: Array<[string, Buffer]>): Buffer {
  return Buffer.concat(
    records.map(([k, v]) => {
      const body = Buffer.concat([Buffer.from(` ${k}=`), v, Buffer.from('\n')]);
      let len = body.length + 1;
      while (String(len).length + body.length !== len) len = String(len).length + body.length;
      return Buffer.concat([Buffer.from(String(len)), body]);
    }),
  );
}

function special(flag: string, name: string, data: Buffer, gnu = false): Buffer {
  return Buffer.concat([
    header({ name, mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 0, flag, linkname: '', uname: '', gname: '', devmajor: 0, devminor: 0, gnu }),
    data,
    pad(data.length),
  ]);
}

export class TarBuilder {
  private readonly parts: Buffer[] = [];

  add(e: TestEntry): this {
    const type = e.type ?? 'file';
    const content = e.content === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content);
    const size = type === 'file' ? content.length : 0;
    let name = e.name;
    let linkname = e.linkname ?? '';
    const pax: Array<[string, Buffer]> = [];
    if (Buffer.byteLength(name) > 100) {
      if (e.gnuLong) this.parts.push(special('L', '././@LongLink', Buffer.from(name + '\0'), true));
      else pax.push(['path', Buffer.from(name)]);
      name = name.slice(0, 99);
    }
    if (Buffer.byteLength(linkname) > 100) {
      if (e.gnuLong) this.parts.push(special('K', '././@LongLink', Buffer.from(linkname + '\0'), true));
      else pax.push(['linkpath', Buffer.from(linkname)]);
      linkname = linkname.slice(0, 99);
    }
    for (const [k, v] of Object.entries(e.xattrs ?? {})) pax.push([`SCHILY.xattr.${k}`, Buffer.isBuffer(v) ? v : Buffer.from(v)]);
    for (const [k, v] of Object.entries(e.pax ?? {})) pax.push([k, Buffer.from(v)]);
    if (pax.length) this.parts.push(special('x', 'PaxHeader', paxData(pax)));
    this.parts.push(
      header({
        name,
        mode: e.mode ?? (type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        size,
        mtime: e.mtime ?? 1_600_000_000,
        flag: flags[type],
        linkname,
        uname: e.uname ?? '',
        gname: e.gname ?? '',
        devmajor: e.devmajor ?? 0,
        devminor: e.devminor ?? 0,
        gnu: e.gnuLong,
      }),
    );
    if (size) this.parts.push(content, pad(size));
    return this;
  }

  /** A global PAX header (applies to every later entry). */
  global(records: Record<string, string>): this {
    this.parts.push(special('g', 'GlobalHead', paxData(Object.entries(records).map(([k, v]) => [k, Buffer.from(v)]))));
    return this;
  }

  build(): Buffer {
    return Buffer.concat([...this.parts, Buffer.alloc(1024)]);
  }
}

export const tar = (entries: TestEntry[]): Buffer => {
  const b = new TarBuilder();
  for (const e of entries) b.add(e);
  return b.build();
};

export const gzip = (b: Buffer): Buffer => gzipSync(b);

/** zstd through the Debian binary (as the engine decompresses it). */
export const zstd = (b: Buffer): Buffer => execFileSync('zstd', ['-q', '-c', '-3'], { input: b, maxBuffer: 1 << 30 });

/** Hands a buffer out in chunks of `size` bytes (to exercise headers split across chunks). */
export async function* chunked(b: Buffer, size = 7001): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}
