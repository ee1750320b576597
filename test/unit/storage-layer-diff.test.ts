// The layer tar of an overlay upper directory: whiteouts and opaque directories in the layer
// format, overlay's own xattrs left out, other xattrs and hardlinks kept, skipped paths left out;
// and unpacked again by the layer store into the same overlay form.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { linkSync, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readXattrTree, overlayDiffTar } from '../../engine/storage/layer-diff.js';
import { LayerStore } from '../../engine/storage/layer-store.js';
import { readTar, type TarHeader } from '../../engine/storage/tar-reader.js';

async function entries(src: AsyncIterable<Buffer>): Promise<Map<string, TarHeader & { body: string }>> {
  const out = new Map<string, TarHeader & { body: string }>();
  for await (const e of readTar(src)) {
    const parts: Buffer[] = [];
    for await (const c of e.body()) parts.push(Buffer.from(c));
    out.set(e.header.name, { ...e.header, body: Buffer.concat(parts).toString() });
  }
  return out;
}

const isRoot = process.getuid?.() === 0;

(isRoot ? describe : describe.skip)('storage: layer diff of an overlay upper directory (root: mknod, trusted xattrs)', () => {
  let dir: string;
  let upper: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tspod-diff-'));
    upper = join(dir, 'upper');
    mkdirSync(join(upper, 'etc'), { recursive: true });
    writeFileSync(join(upper, 'etc', 'new.conf'), 'hello\n');
    linkSync(join(upper, 'etc', 'new.conf'), join(upper, 'etc', 'same.conf'));
    execFileSync('mknod', [join(upper, 'etc', 'gone'), 'c', '0', '0']);
    mkdirSync(join(upper, 'opt', 'replaced'), { recursive: true });
    writeFileSync(join(upper, 'opt', 'replaced', 'only.txt'), 'x');
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(upper, 'opt', 'replaced')]);
    execFileSync('setfattr', ['-n', 'user.note', '-v', 'kept', join(upper, 'etc', 'new.conf')]);
    writeFileSync(join(upper, 'hosts'), '');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the xattrs of a tree with one getfattr', async () => {
    const x = await readXattrTree(upper);
    expect(x.get(join(upper, 'opt', 'replaced'))?.get('trusted.overlay.opaque')?.toString()).to.equal('y');
    expect(x.get(join(upper, 'etc', 'new.conf'))?.get('user.note')?.toString()).to.equal('kept');
  });

  it('writes whiteouts, opaque markers, xattrs and hardlinks in the layer format', async () => {
    const e = await entries(overlayDiffTar(upper, { skip: new Set(['hosts']) }));
    expect([...e.keys()]).to.deep.equal(['etc/', 'etc/.wh.gone', 'etc/new.conf', 'etc/same.conf', 'opt/', 'opt/replaced/', 'opt/replaced/.wh..wh..opq', 'opt/replaced/only.txt']);
    expect(e.get('etc/.wh.gone')).to.include({ type: 'file', size: 0, mode: 0o600 });
    expect(e.get('etc/new.conf')).to.include({ type: 'file', body: 'hello\n' });
    expect(e.get('etc/new.conf')!.xattrs.get('user.note')?.toString()).to.equal('kept');
    expect(e.get('etc/same.conf')).to.include({ type: 'hardlink', linkname: 'etc/new.conf' });
    expect([...e.get('opt/replaced/')!.xattrs.keys()]).to.deep.equal([]);
  });

  it('is unpacked by the layer store back into overlay whiteouts and an opaque directory', async () => {
    const store = await LayerStore.open(join(dir, 'storage'));
    const put = await store.put(overlayDiffTar(upper, { skip: new Set(['hosts']) }), null);
    const diff = store.diffDir(put.layer.chainID);
    const gone = lstatSync(join(diff, 'etc', 'gone'));
    expect([gone.isCharacterDevice(), gone.rdev]).to.deep.equal([true, 0]);
    const x = await readXattrTree(diff);
    expect(x.get(join(diff, 'opt', 'replaced'))?.get('trusted.overlay.opaque')?.toString()).to.equal('y');
    expect(() => lstatSync(join(diff, 'hosts'))).to.throw();
  });
});
