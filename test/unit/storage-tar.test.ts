import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { EngineError } from '../../engine/errors.js';
import { decompress, detectCompression, readTar, type TarHeader } from '../../engine/storage/tar-reader.js';
import { encodeTarHeader, TAR_END, tarPadding } from '../../engine/storage/tar-writer.js';
import { chunked, gzip, tar, TarBuilder, zstd } from '../helpers/tar-builder.js';

async function collect(src: AsyncIterable<Buffer>): Promise<Array<{ h: TarHeader; body: string }>> {
  const out: Array<{ h: TarHeader; body: string }> = [];
  for await (const e of readTar(src)) {
    const parts: Buffer[] = [];
    for await (const c of e.body()) parts.push(Buffer.from(c));
    out.push({ h: e.header, body: Buffer.concat(parts).toString('utf8') });
  }
  return out;
}

async function rejects(p: Promise<unknown>): Promise<EngineError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error('expected a rejection');
}

describe('storage: tar reader', () => {
  const sample = () =>
    tar([
      { name: 'dir/', type: 'dir', mode: 0o750, uid: 1000, gid: 1001, mtime: 1_500_000_000 },
      { name: 'dir/hello.txt', content: 'hello world', mode: 0o4755, uname: 'bob', gname: 'staff' },
      { name: 'dir/link', type: 'symlink', linkname: 'hello.txt' },
      { name: 'dir/hard', type: 'hardlink', linkname: 'dir/hello.txt' },
      { name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
      { name: 'fifo', type: 'fifo' },
      { name: 'big', content: Buffer.alloc(70_000, 0x61) },
    ]);

  it('reads ustar entries, types and fields', async () => {
    const entries = await collect(Readable.from([sample()]));
    expect(entries.map((e) => [e.h.name, e.h.type])).to.deep.equal([
      ['dir/', 'directory'],
      ['dir/hello.txt', 'file'],
      ['dir/link', 'symlink'],
      ['dir/hard', 'hardlink'],
      ['dev/null', 'char'],
      ['fifo', 'fifo'],
      ['big', 'file'],
    ]);
    const [dir, hello, link, hard, dev] = entries;
    expect(dir!.h).to.include({ mode: 0o750, uid: 1000, gid: 1001, mtime: 1_500_000_000 });
    expect(hello!.body).to.equal('hello world');
    expect(hello!.h).to.include({ mode: 0o4755, size: 11, uname: 'bob', gname: 'staff' });
    expect(link!.h.linkname).to.equal('hello.txt');
    expect(hard!.h.linkname).to.equal('dir/hello.txt');
    expect(dev!.h).to.include({ devmajor: 1, devminor: 3 });
    expect(entries[6]!.body.length).to.equal(70_000);
  });

  for (const size of [1, 3, 511, 512, 513, 4096]) {
    it(`reads the same when chunks are ${size} bytes`, async () => {
      const entries = await collect(chunked(sample(), size));
      expect(entries.map((e) => e.h.name)).to.have.length(7);
      expect(entries[1]!.body).to.equal('hello world');
      expect(entries[6]!.body).to.equal('a'.repeat(70_000));
    });
  }

  it('skips bodies that are not read', async () => {
    const names: string[] = [];
    for await (const e of readTar(chunked(sample(), 1000))) names.push(e.header.name);
    expect(names).to.have.length(7);
  });

  it('reads PAX long names, link names, xattrs, mtimes and owners', async () => {
    const long = 'a/'.repeat(80) + 'file-with-a-long-name.txt';
    const b = new TarBuilder()
      .global({ uname: 'globaluser' })
      .add({
        name: long,
        content: 'x',
        xattrs: { 'security.capability': Buffer.from([1, 0, 0, 2, 0x20, 0, 0, 0]), 'user.note': 'hi' },
        pax: { mtime: '1600000000.25', uid: '3000000', gid: '4000000' },
      })
      .add({ name: 'l', type: 'symlink', linkname: 'b/'.repeat(90) + 'target' })
      .add({ name: 'u', content: 'y', uname: 'local' });
    const entries = await collect(Readable.from([b.build()]));
    expect(entries[0]!.h.name).to.equal(long);
    expect(entries[0]!.h.mtime).to.equal(1600000000.25);
    expect(entries[0]!.h).to.include({ uid: 3000000, gid: 4000000, uname: 'globaluser' });
    expect([...entries[0]!.h.xattrs.keys()]).to.deep.equal(['security.capability', 'user.note']);
    expect(entries[0]!.h.xattrs.get('user.note')!.toString()).to.equal('hi');
    expect(entries[1]!.h.linkname).to.equal('b/'.repeat(90) + 'target');
    expect(entries[1]!.h.xattrs.size).to.equal(0);
    expect(entries[2]!.h.uname).to.equal('globaluser'); // PAX global beats the header field
  });

  it('reads GNU long names and long link names', async () => {
    const long = 'g/'.repeat(70) + 'name';
    const b = tar([
      { name: long, content: 'gnu', gnuLong: true },
      { name: 'h', type: 'hardlink', linkname: long, gnuLong: true },
    ]);
    const entries = await collect(Readable.from([b]));
    expect(entries[0]!.h.name).to.equal(long);
    expect(entries[0]!.body).to.equal('gnu');
    expect(entries[1]!.h.linkname).to.equal(long);
  });

  it('refuses a truncated archive and a bad checksum', async () => {
    const full = sample();
    let err = await rejects(collect(Readable.from([full.subarray(0, 1200)])));
    expect(err.kind).to.equal('invalid-argument');
    const bad = Buffer.from(full);
    bad[10] = bad[10]! ^ 0x01;
    err = await rejects(collect(Readable.from([bad])));
    expect(err.message).to.match(/checksum/);
  });

  it('round-trips headers written by the engine writer', async () => {
    const parts: Buffer[] = [];
    const long = 'w/'.repeat(60) + 'x';
    parts.push(encodeTarHeader({ name: long, type: 'file', mode: 0o2755, uid: 5, gid: 6, size: 3, mtime: 1234.5, xattrs: new Map([['user.a', Buffer.from('b')]]) }));
    parts.push(Buffer.from('abc'), tarPadding(3));
    parts.push(encodeTarHeader({ name: 'n', type: 'char', mode: 0o600, devmajor: 4, devminor: 64 }));
    parts.push(TAR_END);
    const entries = await collect(Readable.from([Buffer.concat(parts)]));
    expect(entries[0]!.h).to.include({ name: long, mode: 0o2755, uid: 5, gid: 6, size: 3, mtime: 1234.5 });
    expect(entries[0]!.body).to.equal('abc');
    expect(entries[0]!.h.xattrs.get('user.a')!.toString()).to.equal('b');
    expect(entries[1]!.h).to.include({ type: 'char', devmajor: 4, devminor: 64 });
  });
});

describe('storage: decompression', () => {
  const plain = tar([{ name: 'f', content: 'data'.repeat(1000) }]);
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  for (const [kind, make] of [
    ['none', (b: Buffer) => b],
    ['gzip', gzip],
    ['zstd', zstd],
  ] as const) {
    it(`detects and decompresses ${kind}`, async () => {
      const input = make(plain);
      expect(detectCompression(input.subarray(0, 6))).to.equal(kind);
      const { compression, stream } = await decompress(chunked(input, 100));
      expect(compression).to.equal(kind);
      const out: Buffer[] = [];
      for await (const c of stream) out.push(Buffer.from(c));
      expect(sha(Buffer.concat(out))).to.equal(sha(plain));
    });
  }

  it('reports corrupt zstd and gzip data as invalid', async () => {
    for (const bad of [Buffer.concat([zstd(plain).subarray(0, 20), Buffer.alloc(50, 7)]), Buffer.concat([gzip(plain).subarray(0, 20), Buffer.alloc(50, 7)])]) {
      const { stream } = await decompress(Readable.from([bad]));
      const err = await rejects((async () => {
        for await (const _ of stream) void _;
      })());
      expect(err.kind).to.equal('invalid-argument');
    }
  });

  it('stops the zstd child when the consumer stops early', async () => {
    const big = zstd(tar([{ name: 'f', content: Buffer.alloc(8 << 20, 1) }]));
    const { stream } = await decompress(chunked(big, 4096));
    for await (const _ of stream) break;
  });
});
