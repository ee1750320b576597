import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { EngineError } from '../../engine/errors.js';
import { chainID, chainIDs, LayerStore, shortLinkName } from '../../engine/storage/layer-store.js';
import { entryComponents, removeTempLeftovers, unpackLayer } from '../../engine/storage/layer-unpack.js';
import { isMountPoint, mountOverlay, mountsUnder, overlayMountArgs, unmount } from '../../engine/storage/overlay.js';
import { chunked, gzip, tar, type TestEntry, zstd } from '../helpers/tar-builder.js';

const isRoot = process.getuid?.() === 0;
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const makedev = (major: number, minor: number) => ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12);
const getxattrHex = (p: string, name: string): string | null => {
  try {
    const out = execFileSync('getfattr', ['-h', '--absolute-names', '-n', name, '-e', 'hex', p], { encoding: 'utf8' });
    const m = /=0x([0-9a-f]*)/.exec(out);
    return m ? m[1]! : null;
  } catch {
    return null;
  }
};

async function refused(p: Promise<unknown>): Promise<EngineError> {
  try {
    await p;
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error('expected the layer to be refused');
}

/** Every path under dir (relative), for "nothing written" checks. */
function walk(dir: string): string[] {
  const out: string[] = [];
  const rec = (d: string) => {
    for (const n of fs.readdirSync(d)) {
      const p = path.join(d, n);
      out.push(path.relative(dir, p));
      if (fs.lstatSync(p).isDirectory()) rec(p);
    }
  };
  rec(dir);
  return out.sort();
}

describe('storage: chain IDs and paths', () => {
  const d1 = sha('layer one');
  const d2 = sha('layer two');
  const d3 = sha('layer three');

  it('computes chain IDs as the image spec defines them', () => {
    expect(chainID(null, d1)).to.equal(d1);
    const c2 = sha(`${d1} ${d2}`);
    expect(chainID(d1, d2)).to.equal(c2);
    expect(chainIDs([d1, d2, d3])).to.deep.equal([d1, c2, sha(`${c2} ${d3}`)]);
    expect(chainIDs([])).to.deep.equal([]);
  });

  it('refuses malformed digests', () => {
    expect(() => chainID(null, 'sha256:xyz')).to.throw(EngineError);
    expect(() => chainID('nope', d1)).to.throw(EngineError);
  });

  it('makes 26-character link names', () => {
    const n = shortLinkName(d1);
    expect(n).to.match(/^[A-Z2-7]{26}$/);
    expect(shortLinkName(d2)).to.not.equal(n);
  });

  it('splits entry names and refuses escapes', () => {
    expect(entryComponents('./a//b/./c/')).to.deep.equal(['a', 'b', 'c']);
    expect(entryComponents('./')).to.deep.equal([]);
    expect(() => entryComponents('/etc/passwd')).to.throw(EngineError);
    expect(() => entryComponents('a/../../b')).to.throw(EngineError);
    expect(() => entryComponents('..')).to.throw(EngineError);
  });

  it('shortens long overlay options with a working directory', () => {
    const base = '/var/lib/tspod/storage/layers';
    const lowers = Array.from({ length: 45 }, (_, i) => `${base}/${String(i).padStart(64, 'a')}/diff`);
    const args = overlayMountArgs({ lowerDirs: lowers, upperDir: '/var/lib/tspod/storage/containers/c1/upper', workDir: '/var/lib/tspod/storage/containers/c1/work' });
    expect(args.cwd).to.equal('/var/lib/tspod/storage');
    expect(args.data).to.match(/^lowerdir=layers\/0{0}a+0\/diff:/);
    expect(args.data).to.contain('upperdir=containers/c1/upper,workdir=containers/c1/work,index=off');
    const small = overlayMountArgs({ lowerDirs: ['/a/b', '/a/c'] });
    expect(small).to.deep.equal({ data: 'lowerdir=/a/b:/a/c,index=off' });
    expect(() => overlayMountArgs({ lowerDirs: Array.from({ length: 500 }, (_, i) => `/x${i}/${'y'.repeat(40)}`) })).to.throw(EngineError);
    expect(() => overlayMountArgs({ lowerDirs: ['/a,b'] })).to.throw(EngineError);
  });
});

(isRoot ? describe : describe.skip)('storage: layer unpacking (as root)', function () {
  let base: string;
  let store: LayerStore;
  const mounts: string[] = [];

  before(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'tspod-layers-'));
    store = await LayerStore.open(path.join(base, 'storage'));
  });

  after(async () => {
    for (const m of mounts.reverse()) await unmount(m, { lazy: true });
    for (const m of await mountsUnder(base)) await unmount(m, { lazy: true });
    fs.rmSync(base, { recursive: true, force: true });
  });

  const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep
  const fidelity: TestEntry[] = [
    { name: './', type: 'dir', mode: 0o755, mtime: 1_111_111_111 },
    { name: 'bin/', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 1_500_000_000 },
    { name: 'bin/suid', content: '#!/bin/sh\n', mode: 0o4755, uid: 1000, gid: 1000, mtime: 1_500_000_001 },
    { name: 'bin/sgid', content: 'x', mode: 0o2711, uid: 0, gid: 50, mtime: 1_500_000_002 },
    { name: 'bin/ping', content: 'ping', mode: 0o755, uid: 1000, gid: 0, xattrs: { 'security.capability': cap, 'user.note': 'kept' } },
    { name: 'bin/link', type: 'symlink', linkname: 'suid', uid: 1000, gid: 1001, mtime: 1_400_000_000 },
    { name: 'bin/abs-link', type: 'symlink', linkname: '/etc/passwd' },
    { name: 'bin/hard', type: 'hardlink', linkname: 'bin/suid' },
    { name: 'tmp/', type: 'dir', mode: 0o1777, mtime: 1_300_000_000 },
    { name: 'home/user/', type: 'dir', mode: 0o700, uid: 1000, gid: 1000, mtime: 1_300_000_001 },
    { name: 'home/user/file', content: 'private', mode: 0o600, uid: 1000, gid: 1000, mtime: 1_300_000_002 },
    { name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3, mtime: 1_200_000_000 },
    { name: 'dev/loop0', type: 'block', mode: 0o660, gid: 6, devmajor: 7, devminor: 0 },
    { name: 'run/fifo', type: 'fifo', mode: 0o620, uid: 5, gid: 5 },
    { name: 'deep/' + 'd'.repeat(120) + '/long-name-file', content: 'long', mode: 0o644 },
    { name: 'implicit/parent/file', content: 'no dir entries before me' },
    { name: 'odd names/with space ü\\x', content: 'odd', xattrs: { 'user.odd': 'v', 'trusted.overlay.redirect': '/etc', 'user.overlay.origin': 'x' } },
    { name: 'replace', content: 'first version' },
    { name: 'replace', content: 'second version' },
  ];

  it('preserves files, dirs, symlinks, hardlinks, modes, owners, setuid, mtimes, xattrs, devices and fifos', async () => {
    const t = tar(fidelity);
    const { layer, existed } = await store.put(Readable.from([t]), null);
    expect(existed).to.equal(false);
    expect(layer.diffID).to.equal(sha(t));
    expect(layer.chainID).to.equal(layer.diffID);
    expect(layer.uncompressedSize).to.equal(t.length);
    const expectedSize = fidelity.filter((e) => (e.type ?? 'file') === 'file').reduce((n, e) => n + Buffer.byteLength(e.content ?? ''), 0) - 'first version'.length;
    expect(layer.size).to.equal(expectedSize);
    const d = store.diffDir(layer.chainID);
    const st = (p: string) => fs.lstatSync(path.join(d, p));

    expect(st('.').mtimeMs / 1000).to.equal(1_111_111_111);
    expect(st('bin').mtimeMs / 1000).to.equal(1_500_000_000);
    const suid = st('bin/suid');
    expect(suid.mode & 0o7777).to.equal(0o4755);
    expect([suid.uid, suid.gid]).to.deep.equal([1000, 1000]);
    expect(suid.mtimeMs / 1000).to.equal(1_500_000_001);
    expect(fs.readFileSync(path.join(d, 'bin/suid'), 'utf8')).to.equal('#!/bin/sh\n');
    expect(st('bin/sgid').mode & 0o7777).to.equal(0o2711);
    expect(st('bin/sgid').gid).to.equal(50);
    expect(getxattrHex(path.join(d, 'bin/ping'), 'security.capability')).to.equal(cap.toString('hex'));
    expect(getxattrHex(path.join(d, 'bin/ping'), 'user.note')).to.equal(Buffer.from('kept').toString('hex'));
    expect(st('bin/ping').uid).to.equal(1000);
    const link = st('bin/link');
    expect(link.isSymbolicLink()).to.equal(true);
    expect(fs.readlinkSync(path.join(d, 'bin/link'))).to.equal('suid');
    expect([link.uid, link.gid]).to.deep.equal([1000, 1001]);
    expect(link.mtimeMs / 1000).to.equal(1_400_000_000);
    expect(fs.readlinkSync(path.join(d, 'bin/abs-link'))).to.equal('/etc/passwd');
    expect(st('bin/hard').ino).to.equal(suid.ino);
    expect(st('bin/suid').nlink).to.equal(2);
    expect(st('tmp').mode & 0o7777).to.equal(0o1777);
    expect(st('home/user').mode & 0o7777).to.equal(0o700);
    expect(st('home/user').mtimeMs / 1000).to.equal(1_300_000_001);
    expect(st('home/user/file').uid).to.equal(1000);
    const dev = st('dev/null');
    expect(dev.isCharacterDevice()).to.equal(true);
    expect(dev.rdev).to.equal(makedev(1, 3));
    expect(dev.mode & 0o7777).to.equal(0o666);
    expect(dev.mtimeMs / 1000).to.equal(1_200_000_000);
    const blk = st('dev/loop0');
    expect(blk.isBlockDevice()).to.equal(true);
    expect(blk.rdev).to.equal(makedev(7, 0));
    expect(blk.gid).to.equal(6);
    const fifo = st('run/fifo');
    expect(fifo.isFIFO()).to.equal(true);
    expect(fifo.mode & 0o7777).to.equal(0o620);
    expect([fifo.uid, fifo.gid]).to.deep.equal([5, 5]);
    expect(fs.readFileSync(path.join(d, 'deep/' + 'd'.repeat(120) + '/long-name-file'), 'utf8')).to.equal('long');
    expect(st('implicit/parent').isDirectory()).to.equal(true);
    expect(fs.readFileSync(path.join(d, 'replace'), 'utf8')).to.equal('second version');
    // xattrs reach odd names; overlay-namespace xattrs from a layer are never applied.
    const odd = path.join(d, 'odd names/with space ü\\x');
    expect(getxattrHex(odd, 'user.odd')).to.equal(Buffer.from('v').toString('hex'));
    expect(getxattrHex(odd, 'trusted.overlay.redirect')).to.equal(null);
    expect(getxattrHex(odd, 'user.overlay.origin')).to.equal(null);
  });

  it('stores a layer once, and gives the same diff ID for gzip, zstd and plain', async () => {
    const t = tar([{ name: 'a', content: 'compressed '.repeat(500) }, { name: 'b/', type: 'dir' }]);
    const plain = await store.put(chunked(t, 333), null);
    expect(plain.existed).to.equal(false);
    expect(plain.layer.compression).to.equal('none');
    for (const [kind, blob] of [
      ['gzip', gzip(t)],
      ['zstd', zstd(t)],
    ] as const) {
      const r = await store.put(chunked(blob, 1000), null);
      expect(r.existed, kind).to.equal(true);
      expect(r.layer.chainID).to.equal(plain.layer.chainID);
      // The first stored copy's record is kept.
      expect(r.layer.compression).to.equal('none');
    }
    const z = fs.mkdtempSync(path.join(base, 'z-'));
    const res = await unpackLayer(Readable.from([zstd(t)]), z);
    expect(res.compression).to.equal('zstd');
    expect(res.diffID).to.equal(sha(t));
    expect(res.compressedDigest).to.equal(sha(zstd(t)));
    expect(fs.readFileSync(path.join(z, 'a'), 'utf8')).to.equal('compressed '.repeat(500));
    const g = fs.mkdtempSync(path.join(base, 'g-'));
    const gres = await unpackLayer(Readable.from([gzip(t)]), g);
    expect(gres.compression).to.equal('gzip');
    expect(gres.diffID).to.equal(sha(t));
    // Known diff ID: no read at all, and concurrent puts share one unpack.
    let pulled = false;
    const never = (async function* () {
      pulled = true;
      yield Buffer.alloc(0);
    })();
    const again = await store.put(never, null, { expectedDiffID: sha(t) });
    expect(again.existed).to.equal(true);
    expect(pulled).to.equal(false);
  });

  it('refuses a layer whose content does not match the expected diff ID and stores nothing', async () => {
    const t = tar([{ name: 'x', content: 'unexpected' }]);
    const before = walk(store.dir);
    const err = await refused(store.put(Readable.from([t]), null, { expectedDiffID: sha('something else') }));
    expect(err.kind).to.equal('invalid-argument');
    expect(walk(store.dir)).to.deep.equal(before);
    expect(store.has(sha(t))).to.equal(false);
  });

  it('turns whiteouts and opaque directories into overlayfs whiteouts that a real overlay honours', async () => {
    const lower = tar([
      { name: 'etc/', type: 'dir' },
      { name: 'etc/deleted', content: 'gone in the upper layer' },
      { name: 'etc/kept', content: 'still here' },
      { name: 'etc/dir-deleted/', type: 'dir' },
      { name: 'etc/dir-deleted/inner', content: 'gone too' },
      { name: 'opq/', type: 'dir' },
      { name: 'opq/old1', content: 'hidden by opaque' },
      { name: 'opq/sub/', type: 'dir' },
      { name: 'opq/sub/old2', content: 'hidden by opaque' },
    ]);
    const upper = tar([
      { name: 'etc/', type: 'dir' },
      { name: 'etc/.wh.deleted', mtime: 1 },
      { name: 'etc/.wh.dir-deleted' },
      { name: 'opq/', type: 'dir' },
      { name: 'opq/.wh..wh..opq' },
      { name: 'opq/new', content: 'only me' },
      { name: '.wh..wh.plnk/', type: 'dir' },
      { name: 'etc/.wh.never-existed' },
    ]);
    const l1 = await store.put(Readable.from([gzip(lower)]), null);
    const l2 = await store.put(Readable.from([zstd(upper)]), l1.layer.chainID);
    expect(l2.layer.parent).to.equal(l1.layer.chainID);
    expect(l2.layer.chainID).to.equal(chainID(l1.layer.diffID, sha(upper)));
    const d2 = store.diffDir(l2.layer.chainID);
    const wh = fs.lstatSync(path.join(d2, 'etc/deleted'));
    expect(wh.isCharacterDevice()).to.equal(true);
    expect(wh.rdev).to.equal(0);
    expect(fs.lstatSync(path.join(d2, 'etc/dir-deleted')).isCharacterDevice()).to.equal(true);
    expect(fs.existsSync(path.join(d2, 'etc/.wh.deleted'))).to.equal(false);
    expect(fs.existsSync(path.join(d2, '.wh..wh.plnk'))).to.equal(false);
    expect(getxattrHex(path.join(d2, 'opq'), 'trusted.overlay.opaque')).to.equal('79');
    expect(fs.readdirSync(path.join(d2, 'opq'))).to.deep.equal(['new']);

    expect(store.lowerDirs(l2.layer.chainID)).to.deep.equal([d2, store.diffDir(l1.layer.chainID)]);

    // Read-only overlay of the two layers.
    const ro = fs.mkdtempSync(path.join(base, 'ro-'));
    await mountOverlay(ro, { lowerDirs: store.lowerDirs(l2.layer.chainID) });
    mounts.push(ro);
    expect(await isMountPoint(ro)).to.equal(true);
    expect(fs.readdirSync(path.join(ro, 'etc')).sort()).to.deep.equal(['kept']);
    expect(fs.readFileSync(path.join(ro, 'etc/kept'), 'utf8')).to.equal('still here');
    expect(fs.readdirSync(path.join(ro, 'opq'))).to.deep.equal(['new']);
    expect(fs.existsSync(path.join(ro, 'opq/sub/old2'))).to.equal(false);

    // Writable overlay through the short links, with a top layer over both.
    const l3 = await store.put(Readable.from([tar([{ name: 'etc/deleted', content: 'recreated' }])]), l2.layer.chainID);
    const c = fs.mkdtempSync(path.join(base, 'ctr-'));
    for (const sub of ['upper', 'work', 'merged']) fs.mkdirSync(path.join(c, sub));
    await mountOverlay(path.join(c, 'merged'), { lowerDirs: store.lowerLinks(l3.layer.chainID), upperDir: path.join(c, 'upper'), workDir: path.join(c, 'work') });
    mounts.push(path.join(c, 'merged'));
    expect(fs.readFileSync(path.join(c, 'merged/etc/deleted'), 'utf8')).to.equal('recreated');
    fs.writeFileSync(path.join(c, 'merged/opq/written'), 'container write');
    expect(fs.readFileSync(path.join(c, 'upper/opq/written'), 'utf8')).to.equal('container write');
    await unmount(path.join(c, 'merged'));
    expect(await isMountPoint(path.join(c, 'merged'))).to.equal(false);
    await unmount(ro);
    expect(await isMountPoint(ro)).to.equal(false);

    // A layer with children cannot be removed; from the top down it can.
    expect((await refused(store.remove(l1.layer.chainID))).kind).to.equal('conflict');
    await store.remove(l3.layer.chainID);
    await store.remove(l2.layer.chainID);
    expect(store.has(l2.layer.chainID)).to.equal(false);
    expect(fs.existsSync(d2)).to.equal(false);
    expect(fs.existsSync(path.join(store.dir, 'l', shortLinkName(l2.layer.chainID)))).to.equal(false);
  });

  describe('hostile layers', () => {
    let outside: string;
    let secret: string;
    beforeEach(() => {
      outside = fs.mkdtempSync(path.join(os.tmpdir(), 'tspod-outside-'));
      secret = path.join(outside, 'secret');
      fs.writeFileSync(secret, 'do not touch');
    });
    afterEach(() => fs.rmSync(outside, { recursive: true, force: true }));

    const cases: Array<[string, () => TestEntry[]]> = [
      ['a ../ entry', () => [{ name: 'ok', content: 'fine' }, { name: '../../../../../../../..' + outside + '/escaped', content: 'pwned' }]],
      ['a ../ entry in the middle', () => [{ name: 'a/', type: 'dir' }, { name: 'a/../../escaped', content: 'pwned' }]],
      ['an absolute path', () => [{ name: outside + '/escaped', content: 'pwned' }]],
      ['a file through a symlink pointing out', () => [{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/escaped', content: 'pwned' }]],
      ['a file through a relative symlink pointing out', () => [{ name: 'evil', type: 'symlink', linkname: '../../../../../../../../..' + outside }, { name: 'evil/escaped', content: 'pwned' }]],
      ['a directory through a symlink', () => [{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/escaped/', type: 'dir' }]],
      ['a symlink through a symlink', () => [{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/escaped', type: 'symlink', linkname: '/' }]],
      ['a whiteout through a symlink', () => [{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/.wh.secret' }]],
      ['an opaque marker through a symlink', () => [{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/.wh..wh..opq' }]],
      ['a device through a symlink', () => [{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/escaped', type: 'char', devmajor: 1, devminor: 3 }]],
      ['a file through a symlink inside the layer', () => [{ name: 'dir/', type: 'dir' }, { name: 'alias', type: 'symlink', linkname: 'dir' }, { name: 'alias/escaped', content: 'x' }]],
      ['a hardlink to ../', () => [{ name: 'h', type: 'hardlink', linkname: '../../../../../../../..' + secret }]],
      ['a hardlink to an absolute path', () => [{ name: 'h', type: 'hardlink', linkname: secret }]],
      ['a hardlink through a symlink', () => [{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'h', type: 'hardlink', linkname: 'evil/secret' }]],
      ['a hardlink to a missing file', () => [{ name: 'h', type: 'hardlink', linkname: 'nothing' }]],
      ['a PAX path escaping', () => [{ name: 'innocent', content: 'pwned', pax: { path: '../../../../../../../..' + outside + '/escaped' } }]],
      ['a GNU long name escaping', () => [{ name: '../../../../../../../../../../../../../../../../../../../../../../../../../../..' + outside + '/escaped-long-name', content: 'x', gnuLong: true }]],
      ['a file under a file', () => [{ name: 'f', content: 'x' }, { name: 'f/escaped', content: 'x' }]],
    ];

    for (const [what, entries] of cases) {
      it(`refuses ${what}, writing nothing outside and leaving no layer`, async () => {
        const before = walk(store.dir);
        const count = store.list().length;
        const err = await refused(store.put(Readable.from([gzip(tar(entries()))]), null));
        expect(err.kind).to.equal('invalid-argument');
        expect(err.message).to.match(/^refusing layer: /);
        expect(walk(outside)).to.deep.equal(['secret']);
        expect(fs.readFileSync(secret, 'utf8')).to.equal('do not touch');
        expect(fs.statSync(secret).nlink).to.equal(1);
        expect(walk(store.dir)).to.deep.equal(before);
        expect(store.list().length).to.equal(count);
      });
    }
  });

  it('removes leftovers of interrupted unpacks when the store opens', async () => {
    const root = path.join(base, 'storage2');
    const s1 = await LayerStore.open(root);
    const kept = await s1.put(Readable.from([tar([{ name: 'k', content: 'kept' }])]), null);
    fs.mkdirSync(path.join(s1.dir, 'tmp-crashed/diff/usr'), { recursive: true });
    fs.writeFileSync(path.join(s1.dir, 'tmp-crashed/diff/usr/half'), 'half a layer');
    // A directory named like a layer but without a record was never renamed into place whole.
    fs.mkdirSync(path.join(s1.dir, 'a'.repeat(64), 'diff'), { recursive: true });
    // An aborted unpack leaves nothing either.
    const ac = new AbortController();
    const slow = (async function* () {
      yield tar([{ name: 'f', content: 'x' }]).subarray(0, 1024);
      ac.abort();
      await new Promise((r) => setTimeout(r, 10));
      yield Buffer.alloc(1024);
    })();
    let aborted = false;
    try {
      await s1.put(slow, null, { signal: ac.signal });
    } catch {
      aborted = true;
    }
    expect(aborted).to.equal(true);
    expect(fs.readdirSync(s1.dir).filter((n) => n.startsWith('tmp-') && n !== 'tmp-crashed')).to.deep.equal([]);

    const s2 = await LayerStore.open(root);
    expect(fs.readdirSync(s2.dir).sort()).to.deep.equal([kept.layer.chainID.slice(7), 'l']);
    expect(s2.get(kept.layer.chainID)).to.deep.equal(kept.layer);
    expect(fs.readFileSync(path.join(s2.lowerLinks(kept.layer.chainID)[0]!, 'k'), 'utf8')).to.equal('kept');
    expect(await removeTempLeftovers(path.join(base, 'does-not-exist'))).to.deep.equal([]);
  });
});

(isRoot ? describe : describe.skip)('storage: deep layer stacks (as root)', function () {
  let base: string;
  let merged: string;

  before(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'tspod-deep-'));
  });
  after(async () => {
    for (const m of await mountsUnder(base)) await unmount(m, { lazy: true });
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('mounts a stack whose absolute lowerdir list exceeds the mount data page', async () => {
    // A long storage root makes the absolute form too long; the relative form must be used.
    const root = path.join(base, 'a-rather-long-storage-root-directory-name', 'storage');
    const store = await LayerStore.open(root);
    let parent: string | null = null;
    for (let i = 0; i < 45; i++) {
      const r = await store.put(Readable.from([tar([{ name: `f${i}`, content: String(i) }, ...(i > 0 ? [{ name: `.wh.f${i - 1}` }] : [])])]), parent);
      parent = r.layer.chainID;
    }
    const lowers = store.lowerDirs(parent!);
    expect(lowers).to.have.length(45);
    const args = overlayMountArgs({ lowerDirs: lowers });
    expect(args.cwd).to.equal(store.dir);
    merged = path.join(base, 'merged');
    fs.mkdirSync(merged);
    await mountOverlay(merged, { lowerDirs: lowers });
    expect(fs.readdirSync(merged)).to.deep.equal(['f44']);
    await unmount(merged);
    await mountOverlay(merged, { lowerDirs: store.lowerLinks(parent!) });
    expect(fs.readFileSync(path.join(merged, 'f44'), 'utf8')).to.equal('44');
    await unmount(merged);
  });
});
