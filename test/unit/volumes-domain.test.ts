// The volumes domain as the containers domain uses it (no HTTP): mounts of tmpfs and bind volumes
// held and released (checked in /proc/self/mountinfo), the mount count shared with another tspod
// process, copy-up of image content with ownership, anonymous volumes, in-use checks through the
// usage hook, path resolution inside a rootfs. Real mounts: needs root.
import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { ContainersConf } from '../../engine/config/containers-conf.js';
import type { EngineContext } from '../../engine/context.js';
import { EventLog } from '../../engine/events/event-log.js';
import { resolveInRoot } from '../../engine/containers/scoped-path.js';
import { openVolumeDomain, type VolumeDomain } from '../../engine/volumes/index.js';

const run = promisify(execFile);

function mountinfo(): Array<{ mountPoint: string; fsType: string; superOptions: string; root: string }> {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [pre, post] = l.split(' - ');
      const f = pre!.split(' ');
      const g = post!.split(' ');
      return { root: f[3]!, mountPoint: f[4]!, fsType: g[0]!, superOptions: g[2] ?? '' };
    });
}
const mountsUnder = (dir: string) => mountinfo().filter((m) => m.mountPoint === dir || m.mountPoint.startsWith(dir + '/'));
const getfattr = (p: string, name: string) => execFileSync('getfattr', ['-h', '--absolute-names', '--only-values', '-n', name, p]).toString();

describe('volumes domain (container use)', function () {
  this.timeout(60_000);
  let dir: string;
  let ctx: EngineContext;
  let volumes: VolumeDomain;

  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    dir = fs.mkdtempSync(join(tmpdir(), 'tspod-volumes-'));
    ctx = {
      root: join(dir, 'root'),
      runroot: join(dir, 'run'),
      rootless: false,
      conf: {} as ContainersConf,
      events: new EventLog(join(dir, 'run', 'events', 'events.log')),
    };
    volumes = openVolumeDomain(ctx);
  });

  after(async () => {
    if (!dir) return;
    await volumes.close();
    const left = mountsUnder(dir).map((m) => m.mountPoint);
    for (const m of left.reverse()) execFileSync('umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(left, 'mounts left behind').to.deep.equal([]);
  });

  it('mounts a tmpfs volume on first use, counts holders, unmounts on the last release', async () => {
    await volumes.engine.volumeCreate({ name: 'tmp', options: { type: 'tmpfs', device: 'tmpfs', o: 'size=2m,mode=0750,uid=1000' } });
    const a = await volumes.volumeMountForContainer('tmp', { containerId: 'c1', destination: '/data' });
    expect(a.source).to.equal(join(ctx.root, 'volumes', 'tmp', '_data'));
    const m = mountinfo().find((x) => x.mountPoint === a.source);
    expect(m?.fsType).to.equal('tmpfs');
    expect(m?.superOptions).to.contain('size=2048k').and.contain('mode=750').and.contain('uid=1000');
    fs.writeFileSync(join(a.source, 'f'), 'x');
    const b = await volumes.volumeMountForContainer('tmp', { containerId: 'c2' });
    expect(mountsUnder(a.source)).to.have.length(1);
    expect((await volumes.engine.volumeInspect('tmp')).mountCount).to.equal(2);
    await a.release();
    await a.release(); // idempotent
    expect(mountsUnder(a.source)).to.have.length(1);
    expect(fs.readFileSync(join(a.source, 'f'), 'utf8')).to.equal('x');
    await b.release();
    expect(mountsUnder(a.source)).to.deep.equal([]);
    expect((await volumes.engine.volumeInspect('tmp')).mountCount).to.equal(0);
    expect(fs.readdirSync(a.source)).to.deep.equal([]);
  });

  it('bind-mounts a host directory (o=bind), and removing the volume keeps the host files', async () => {
    const host = join(dir, 'host-dir');
    fs.mkdirSync(host);
    fs.writeFileSync(join(host, 'existing'), 'e');
    await volumes.engine.volumeCreate({ name: 'bind', options: { type: 'none', o: 'bind', device: host } });
    const m = await volumes.volumeMountForContainer('bind', { containerId: 'c1' });
    expect(mountsUnder(m.source)).to.have.length(1);
    expect(fs.readdirSync(m.source)).to.deep.equal(['existing']);
    fs.writeFileSync(join(m.source, 'new'), 'n');
    expect(fs.readFileSync(join(host, 'new'), 'utf8')).to.equal('n');
    await m.release();
    expect(mountsUnder(m.source)).to.deep.equal([]);
    await volumes.engine.volumeRemove('bind', {});
    expect(fs.readdirSync(host).sort()).to.deep.equal(['existing', 'new']);
  });

  it('shares the mount count with another tspod process: its release unmounts', async () => {
    await volumes.engine.volumeCreate({ name: 'shared', options: { type: 'tmpfs', device: 'tmpfs' } });
    const m = await volumes.volumeMountForContainer('shared', { containerId: 'c9' });
    expect(mountsUnder(m.source)).to.have.length(1);
    // A cleanup process: a separate node process opening the same root.
    const mod = pathToFileURL(join(process.cwd(), 'dist', 'engine', 'volumes', 'index.js')).href;
    const ev = pathToFileURL(join(process.cwd(), 'dist', 'engine', 'events', 'event-log.js')).href;
    const script = `
      const { openVolumeDomain } = await import(${JSON.stringify(mod)});
      const { EventLog } = await import(${JSON.stringify(ev)});
      const v = openVolumeDomain({ root: ${JSON.stringify(ctx.root)}, runroot: ${JSON.stringify(ctx.runroot)}, rootless: false, conf: {}, events: new EventLog(${JSON.stringify(join(ctx.runroot, 'events', 'events.log'))}) });
      console.log(JSON.stringify(await v.volumeReleaseAll('c9')));
      await v.close();`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    expect(JSON.parse(stdout)).to.deep.equal(['shared']);
    expect(mountsUnder(m.source)).to.deep.equal([]);
    expect((await volumes.engine.volumeInspect('shared')).mountCount).to.equal(0);
    await m.release(); // nothing left to release: no error, no double unmount
    const again = await volumes.volumeMountForContainer('shared', { containerId: 'c10' });
    expect(mountsUnder(again.source)).to.have.length(1);
    await again.release();
  });

  it('keeps the count exact under concurrent holds from two processes\' connections', async () => {
    await volumes.engine.volumeCreate({ name: 'race', options: { type: 'tmpfs', device: 'tmpfs' } });
    const other = openVolumeDomain(ctx); // a second set of SQLite connections, as another process has
    try {
      const data = join(ctx.root, 'volumes', 'race', '_data');
      const mounts = await Promise.all(
        Array.from({ length: 24 }, (_, i) => (i % 2 ? volumes : other).volumeMountForContainer('race', { containerId: `r${i}` })),
      );
      expect(mountsUnder(data)).to.have.length(1);
      expect((await volumes.engine.volumeInspect('race')).mountCount).to.equal(24);
      await Promise.all(mounts.slice(0, 23).map((m, i) => (i % 3 ? m.release() : other.volumeRelease('race', `r${i}`))));
      expect(mountsUnder(data)).to.have.length(1);
      await other.volumeReleaseAll('r23');
      expect(mountsUnder(data)).to.deep.equal([]);
      expect((await other.engine.volumeInspect('race')).mountCount).to.equal(0);
      // Concurrent creates of one name: one volume, every caller gets it.
      const made = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? volumes : other).engine.volumeCreate({ name: 'once', ifExists: 'return' })));
      expect(made.filter((r) => r.created)).to.have.length(1);
      expect(new Set(made.map((r) => r.volume.createdAt)).size).to.equal(1);
    } finally {
      await other.close();
    }
  });

  it('copies image content into an empty volume on its first mount, with owners, modes, symlinks, hardlinks and xattrs', async () => {
    const rootfs = join(dir, 'rootfs');
    const img = join(rootfs, 'var', 'lib', 'app');
    fs.mkdirSync(join(img, 'sub'), { recursive: true });
    fs.writeFileSync(join(img, 'config'), 'cfg');
    fs.chownSync(join(img, 'config'), 1234, 5678);
    fs.chmodSync(join(img, 'config'), 0o640);
    fs.linkSync(join(img, 'config'), join(img, 'config.hard'));
    fs.symlinkSync('/etc/passwd', join(img, 'abs-link'));
    fs.writeFileSync(join(img, 'sub', 'x'), 'x');
    execFileSync('setfattr', ['-n', 'user.note', '-v', 'kept', join(img, 'config')]);
    fs.chownSync(img, 1000, 1001);
    fs.chmodSync(img, 0o2750);
    // The destination reached through a symlink in the image, resolved inside the rootfs.
    fs.symlinkSync('/var/lib/app', join(rootfs, 'app-link'));
    const src = await resolveInRoot(rootfs, '/app-link');
    expect(src).to.equal(img);

    await volumes.engine.volumeCreate({ name: 'cu' });
    const m = await volumes.volumeMountForContainer('cu', { containerId: 'c1', imageContentDir: src });
    const st = fs.statSync(join(m.source, 'config'));
    expect([st.uid, st.gid, st.mode & 0o7777]).to.deep.equal([1234, 5678, 0o640]);
    expect(fs.statSync(join(m.source, 'config.hard')).ino).to.equal(st.ino);
    expect(fs.readlinkSync(join(m.source, 'abs-link'))).to.equal('/etc/passwd');
    expect(fs.readFileSync(join(m.source, 'sub', 'x'), 'utf8')).to.equal('x');
    expect(getfattr(join(m.source, 'config'), 'user.note')).to.equal('kept');
    const rootSt = fs.statSync(m.source);
    expect([rootSt.uid, rootSt.gid, rootSt.mode & 0o7777]).to.deep.equal([1000, 1001, 0o2750]);
    const report = await volumes.engine.volumeInspect('cu');
    expect(report).to.include({ needsCopyUp: false, uid: 1000, gid: 1001 });
    await m.release();

    // Once only: a later container with other content at the path does not copy again.
    fs.rmSync(join(m.source, 'sub'), { recursive: true });
    const other = join(dir, 'other-image');
    fs.mkdirSync(other);
    fs.writeFileSync(join(other, 'new'), 'n');
    const m2 = await volumes.volumeMountForContainer('cu', { containerId: 'c2', imageContentDir: other });
    expect(fs.existsSync(join(m2.source, 'new'))).to.equal(false);
    expect(fs.existsSync(join(m2.source, 'sub'))).to.equal(false);
    await m2.release();
  });

  it('does not copy with nocopy (the next mount may), nor into a volume that is not empty', async () => {
    const img = join(dir, 'img2');
    fs.mkdirSync(img);
    fs.writeFileSync(join(img, 'file'), 'f');
    await volumes.engine.volumeCreate({ name: 'nc' });
    const a = await volumes.volumeMountForContainer('nc', { containerId: 'c1', imageContentDir: img, nocopy: true });
    expect(fs.readdirSync(a.source)).to.deep.equal([]);
    expect((await volumes.engine.volumeInspect('nc')).needsCopyUp).to.equal(true);
    fs.writeFileSync(join(a.source, 'mine'), 'm');
    await a.release();
    const b = await volumes.volumeMountForContainer('nc', { containerId: 'c2', imageContentDir: img });
    expect(fs.readdirSync(b.source)).to.deep.equal(['mine']);
    expect((await volumes.engine.volumeInspect('nc')).needsCopyUp).to.equal(false);
    await b.release();
    // A volume made with the nocopy option never copies.
    await volumes.engine.volumeCreate({ name: 'nc2', options: { nocopy: 'true' } });
    const c = await volumes.volumeMountForContainer('nc2', { containerId: 'c3', imageContentDir: img });
    expect(fs.readdirSync(c.source)).to.deep.equal([]);
    await c.release();
  });

  it('copies into a tmpfs volume after mounting it, and chowns a new empty volume to the container user', async () => {
    const img = join(dir, 'img3');
    fs.mkdirSync(img);
    fs.writeFileSync(join(img, 'seed'), 's');
    await volumes.engine.volumeCreate({ name: 'tcu', options: { type: 'tmpfs', device: 'tmpfs' } });
    const m = await volumes.volumeMountForContainer('tcu', { containerId: 'c1', imageContentDir: img });
    expect(mountsUnder(m.source)).to.have.length(1);
    expect(fs.readFileSync(join(m.source, 'seed'), 'utf8')).to.equal('s');
    await m.release();
    await volumes.engine.volumeCreate({ name: 'owned' });
    const o = await volumes.volumeMountForContainer('owned', { containerId: 'c1', chownTo: { uid: 4242, gid: 4343 } });
    expect([fs.statSync(o.source).uid, fs.statSync(o.source).gid]).to.deep.equal([4242, 4343]);
    await o.release();
  });

  it('creates a missing named volume with the given options, and anonymous volumes removed with their container', async () => {
    const named = await volumes.volumeMountForContainer('auto', { containerId: 'c5', create: { labels: { from: 'mounts' } } });
    expect(named.created).to.equal(true);
    expect((await volumes.engine.volumeInspect('auto')).labels).to.deep.equal({ from: 'mounts' });
    const anon = await volumes.volumeMountForContainer(undefined, { containerId: 'c5' });
    expect(anon.name).to.match(/^[0-9a-f]{64}$/);
    expect(anon.anonymous).to.equal(true);
    const ensured = await volumes.volumeEnsure(undefined, { containerId: 'c5' });
    expect(ensured.anonymous).to.equal(true);
    const removed = await volumes.volumeRemoveAnonymousOf('c5');
    expect(removed.map((r) => r.name).sort()).to.deep.equal([anon.name, ensured.name].sort());
    expect(await volumes.engine.volumeExists(anon.name)).to.equal(false);
    expect(await volumes.engine.volumeExists('auto')).to.equal(true);
    expect((await volumes.engine.volumeInspect('auto')).mountCount).to.equal(0);
    await named.release();
  });

  it('answers conflict while a container uses a volume (usage hook), skips it in prune and dangling, removes users on force', async () => {
    await volumes.engine.volumeCreate({ name: 'used' });
    let users = new Map([['used', ['ctr-a', 'ctr-b']]]);
    const removed: string[][] = [];
    volumes.setUsage({
      containersByVolume: () => users,
      removeContainers: async (ids) => {
        removed.push(ids);
        users = new Map();
      },
    });
    const err = await volumes.engine.volumeRemove('used', {}).catch((e) => e);
    expect(err.kind).to.equal('conflict');
    expect(err.message).to.contain('ctr-a, ctr-b');
    const dangling = await volumes.engine.volumeList({ filters: { dangling: ['false'] } });
    expect(dangling.map((v) => v.name)).to.deep.equal(['used']);
    const pruned = await volumes.engine.volumePrune({ filters: {} });
    expect(pruned.map((r) => r.name)).to.not.include('used');
    const withUsage = await volumes.engine.volumeList({ filters: { name: ['^used$'] }, usage: true });
    expect(withUsage[0]!.usage).to.deep.equal({ size: 0, refCount: 2 });
    await volumes.engine.volumeRemove('used', { force: true });
    expect(removed).to.deep.equal([['ctr-a', 'ctr-b']]);
    expect(await volumes.engine.volumeExists('used')).to.equal(false);
    volumes.setVolumeUsageSource(() => new Map());
  });

  it('a failing mount leaves no hold behind and names the volume', async () => {
    await volumes.engine.volumeCreate({ name: 'badmnt', options: { type: 'tmpfs', device: 'tmpfs', o: 'mpol=nonsense' } });
    const err = await volumes.volumeMountForContainer('badmnt', { containerId: 'c1' }).catch((e) => e);
    expect(err.message).to.match(/mounting volume badmnt .* failed/);
    expect((await volumes.engine.volumeInspect('badmnt')).mountCount).to.equal(0);
    expect(mountsUnder(join(ctx.root, 'volumes', 'badmnt'))).to.deep.equal([]);
  });

  it('emits mount and unmount events naming the container', async () => {
    const seen: Array<{ action: string; id: string; attributes: Record<string, string> }> = [];
    const ac = new AbortController();
    const since = BigInt(Date.now() - 1000) * 1_000_000n;
    await volumes.engine.volumeCreate({ name: 'evt' });
    const m = await volumes.volumeMountForContainer('evt', { containerId: 'c7', destination: '/x' });
    await m.release();
    for await (const e of ctx.events.stream({ since, until: BigInt(Date.now() + 10) * 1_000_000n, filters: { volume: ['evt'] }, follow: false }, ac.signal)) seen.push(e);
    expect(seen.map((e) => e.action)).to.deep.equal(['create', 'mount', 'unmount']);
    expect(seen[1]!.attributes).to.include({ container: 'c7', destination: '/x', driver: 'local' });
  });
});
