// Pure parts of the volumes domain: names, the local driver's options and their mount(8)
// arguments, tmpfs sizes, label matching and filter validation.
import { expect } from 'chai';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { compileVolumeFilters, matchLabels } from '../../engine/volumes/filters.js';
import type { VolumeRecord } from '../../engine/volumes/db.js';
import { checkVolumeName, mountArgs, parseLocalOptions, tmpfsSize } from '../../engine/volumes/options.js';

const rec = (name: string, extra: Partial<VolumeRecord> = {}): VolumeRecord => ({
  name,
  driver: 'local',
  labels: {},
  options: {},
  created: '2024-01-01T00:00:00.000000000Z',
  createdNs: String(BigInt(Date.parse('2024-01-01T00:00:00Z')) * 1_000_000n),
  anonymous: false,
  uid: 0,
  gid: 0,
  needsCopyUp: true,
  needsChown: true,
  lockNumber: 0,
  ...extra,
});

describe('volume options', () => {
  it('checks names like Podman: [a-zA-Z0-9][a-zA-Z0-9_.-]*', () => {
    for (const ok of ['a', 'A1', 'web_data.v2-x', '0'.repeat(64)]) expect(() => checkVolumeName(ok), ok).to.not.throw();
    for (const bad of ['', '-a', '.a', '_a', 'a/b', 'a b', 'a:b', '..', 'é', 'a'.repeat(256)]) expect(() => checkVolumeName(bad), bad).to.throw(/invalid volume name/);
  });

  it('plain volumes: no options, or only an owner', () => {
    expect(parseLocalOptions({})).to.deep.equal({ uid: 0, gid: 0, ownerFixed: false, nocopy: false });
    expect(parseLocalOptions({ o: 'uid=1000,gid=100' })).to.deep.equal({ uid: 1000, gid: 100, ownerFixed: true, nocopy: false });
    expect(parseLocalOptions({ nocopy: '' }).nocopy).to.equal(true);
    expect(parseLocalOptions({ o: 'uid=1,noquota,timeout=5' }).mount).to.equal(undefined);
  });

  it('tmpfs: size forms, mode, the device defaulting to the type', () => {
    const p = parseLocalOptions({ type: 'tmpfs', o: 'size=100MB,mode=1777,nr_inodes=1k,noexec,uid=5' });
    expect(p.mount).to.deep.equal({ type: 'tmpfs', device: 'tmpfs', data: `size=${100 * 1024 * 1024},mode=1777,nr_inodes=1k,noexec,uid=5`, bind: false });
    expect(mountArgs(p.mount!, '/v/_data')).to.deep.equal(['-t', 'tmpfs', '-o', p.mount!.data, '--', 'tmpfs', '/v/_data']);
    expect(tmpfsSize('64m')).to.equal('64m');
    expect(tmpfsSize('50%')).to.equal('50%');
    expect(tmpfsSize('1.5GiB')).to.equal(String(1.5 * 1024 ** 3));
    expect(tmpfsSize('512 kb')).to.equal('524288');
    for (const bad of ['', 'lots', '-1', '1x', '1.5', '10%%']) expect(() => tmpfsSize(bad), bad).to.throw(/invalid tmpfs size/);
    expect(() => parseLocalOptions({ type: 'tmpfs', o: 'mode=999' })).to.throw(/mode must be octal/);
    expect(() => parseLocalOptions({ type: 'tmpfs', o: 'huge=sometimes' })).to.throw(/huge is one of/);
    expect(() => parseLocalOptions({ type: 'tmpfs', o: 'size' })).to.throw(/size needs a value/);
    expect(() => parseLocalOptions({ type: 'tmpfs', o: 'bogus' })).to.throw(/invalid tmpfs option o=bogus/);
  });

  it('bind: o=bind with an existing absolute directory; uid/gid are dropped from the mount data', () => {
    const dir = fs.mkdtempSync(`${tmpdir()}/vo-`);
    try {
      const p = parseLocalOptions({ type: 'none', o: 'bind,ro,uid=3', device: dir });
      expect(p.mount).to.deep.equal({ device: dir, data: 'bind,ro', bind: true });
      expect(mountArgs(p.mount!, '/t')).to.deep.equal(['-o', 'bind,ro', '--', dir, '/t']);
      expect(parseLocalOptions({ type: 'bind', device: dir }).mount).to.deep.equal({ device: dir, data: 'bind', bind: true });
      expect(() => parseLocalOptions({ o: 'bind' })).to.throw(/needs device=/);
      expect(() => parseLocalOptions({ o: 'bind', device: `${dir}/missing` })).to.throw(/no such file or directory/);
      fs.writeFileSync(`${dir}/file`, '');
      expect(() => parseLocalOptions({ o: 'bind', device: `${dir}/file` })).to.throw(/not a directory/);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it('other types go to mount(8) as given; refuses what cannot be a volume mount', () => {
    expect(parseLocalOptions({ type: 'nfs', device: ':/export', o: 'addr=10.0.0.1,rw' }).mount).to.deep.equal({ type: 'nfs', device: ':/export', data: 'addr=10.0.0.1,rw', bind: false });
    expect(parseLocalOptions({ device: '/dev/sdz1' }).mount).to.deep.equal({ type: undefined, device: '/dev/sdz1', data: '', bind: false });
    expect(parseLocalOptions({ TYPE: 'tmpfs' }).mount?.type).to.equal('tmpfs');
    expect(() => parseLocalOptions({ type: 'ext4' })).to.throw(/needs device=/);
    expect(() => parseLocalOptions({ o: 'noexec' })).to.throw(/needs type=/);
    expect(() => parseLocalOptions({ type: 'ext4;rm', device: '/dev/x' })).to.throw(/not a file system type/);
    expect(() => parseLocalOptions({ type: 'ext4', device: '/dev/x', o: 'remount' })).to.throw(/not allowed/);
    expect(() => parseLocalOptions({ size: '1' })).to.throw(/invalid option "size"/);
    expect(() => parseLocalOptions({ type: 'tmpfs', o: `size=1,mpol=${'x'.repeat(5000)}` })).to.throw(/4095 bytes/);
  });
});

describe('volume filters', () => {
  const records = [
    rec('alpha', { labels: { env: 'prod', 'com.example.team': 'a' } }),
    rec('beta', { labels: { env: 'dev' }, options: { type: 'tmpfs' }, anonymous: true }),
    rec('gamma', { createdNs: String(BigInt(Date.parse('2025-01-01T00:00:00Z')) * 1_000_000n) }),
  ];
  const pick = (filters: Record<string, string[]>, kind: 'list' | 'prune' = 'list', used: string[] = []) => {
    const f = compileVolumeFilters(filters, kind, { records, inUse: (n) => used.includes(n) });
    return records.filter(f).map((r) => r.name);
  };

  it('labels: keys, key=value, globbed keys, all values must match', () => {
    expect(matchLabels(['env'], { env: '' })).to.equal(true);
    expect(matchLabels(['com.example.*=a'], records[0]!.labels)).to.equal(true);
    expect(pick({ label: ['env', 'env=prod'] })).to.deep.equal(['alpha']);
    expect(pick({ 'label!': ['env=prod'] })).to.deep.equal(['beta', 'gamma']);
  });

  it('name regexps, since/after, until, dangling, anonymous, opt', () => {
    expect(pick({ name: ['^a', 'mm'] })).to.deep.equal(['alpha', 'gamma']);
    expect(pick({ name: ['[unclosed'] })).to.deep.equal([]);
    expect(pick({ since: ['alpha'] })).to.deep.equal(['gamma']);
    expect(pick({ until: ['2024-06-01T00:00:00Z'] })).to.deep.equal(['alpha', 'beta']);
    expect(pick({ dangling: ['false'] }, 'list', ['beta'])).to.deep.equal(['beta']);
    expect(pick({ dangling: ['1'] }, 'list', ['beta'])).to.deep.equal(['alpha', 'gamma']);
    expect(pick({ anonymous: ['true'] })).to.deep.equal(['beta']);
    expect(pick({ opt: ['type=tmpfs'] })).to.deep.equal(['beta']);
    expect(pick({ all: ['true'], label: ['env'] }, 'prune')).to.deep.equal(['alpha', 'beta']);
  });

  it('refuses unknown keys, keys prune does not take, and bad values', () => {
    expect(() => pick({ colour: ['x'] })).to.throw(/"colour" is an invalid volume filter/);
    expect(() => pick({ name: ['x'] }, 'prune')).to.throw(/invalid volume prune filter/);
    expect(() => pick({ dangling: ['perhaps'] })).to.throw(/not a valid value/);
    expect(() => pick({ until: ['1', '2'] })).to.throw(/exactly one timestamp/);
    expect(() => pick({ since: ['nope'] })).to.throw(/no such volume/);
  });
});
