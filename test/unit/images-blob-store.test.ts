import { expect } from 'chai';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlobStore, digestOf, isDigest, parseDigest } from '../../engine/images/blob-store.js';
import { EngineError } from '../../engine/errors.js';
import { chunked } from '../helpers/tar-builder.js';

async function rejects(p: Promise<unknown>): Promise<EngineError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error('expected a rejection');
}

describe('images: blob store', () => {
  let root: string;
  let store: BlobStore;
  const data = Buffer.from('x'.repeat(100_000));
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tspod-blobs-'));
    store = await BlobStore.open(root);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('parses digests', () => {
    expect(parseDigest(digest)).to.deep.equal({ algorithm: 'sha256', hex: digest.slice(7) });
    expect(isDigest('sha256:abc')).to.equal(false);
    expect(isDigest('md5:' + 'a'.repeat(32))).to.equal(false);
    expect(isDigest('sha512:' + 'a'.repeat(128))).to.equal(true);
    expect(digestOf(data)).to.equal(digest);
  });

  it('stores a stream under its digest and reads it back', async () => {
    const seen: number[] = [];
    const r = await store.put(chunked(data, 4096), { onProgress: (n) => seen.push(n) });
    expect(r).to.deep.equal({ digest, size: data.length, existed: false });
    expect(seen[seen.length - 1]).to.equal(data.length);
    expect(await store.has(digest)).to.equal(true);
    expect((await store.read(digest)).equals(data)).to.equal(true);
    const parts: Buffer[] = [];
    for await (const c of await store.open(digest, { start: 10, end: 19 })) parts.push(c as Buffer);
    expect(Buffer.concat(parts).toString()).to.equal('x'.repeat(10));
    expect(await store.verify(digest)).to.equal(true);
    expect((await store.list()).map((b) => b.digest)).to.deep.equal([digest]);
  });

  it('does not read the input again for a blob it has', async () => {
    let pulled = false;
    const r = await store.put(
      (async function* () {
        pulled = true;
        yield Buffer.alloc(1);
      })(),
      { expectedDigest: digest },
    );
    expect(r.existed).to.equal(true);
    expect(pulled).to.equal(false);
  });

  it('refuses content that does not match the expected digest or size, keeping nothing', async () => {
    const other = `sha256:${'0'.repeat(64)}`;
    let err = await rejects(store.put(chunked(Buffer.from('tampered')), { expectedDigest: other }));
    expect(err.kind).to.equal('invalid-argument');
    expect(err.message).to.match(/digest mismatch/);
    expect(await store.has(other)).to.equal(false);
    err = await rejects(store.putBuffer('abc', digestOf('abcd')));
    expect(err.kind).to.equal('invalid-argument');
    err = await rejects(store.put(chunked(Buffer.alloc(100)), { expectedSize: 10 }));
    expect(err.message).to.match(/larger/);
    expect(fs.readdirSync(path.join(store.dir, 'tmp'))).to.deep.equal([]);
    expect((await store.list()).length).to.equal(1);
  });

  it('cleans unfinished writes when opened, and removes blobs', async () => {
    fs.writeFileSync(path.join(store.dir, 'tmp', 'half'), 'partial');
    const again = await BlobStore.open(root);
    expect(fs.readdirSync(path.join(again.dir, 'tmp'))).to.deep.equal([]);
    expect(await again.has(digest)).to.equal(true);
    const small = await again.putBuffer('{"a":1}');
    expect(small.digest).to.equal(digestOf('{"a":1}'));
    expect(await again.remove(small.digest)).to.equal(true);
    expect(await again.remove(small.digest)).to.equal(false);
    expect((await rejects(again.read(small.digest))).kind).to.equal('not-found');
  });
});
