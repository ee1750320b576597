import { expect } from 'chai';
import { EngineError } from '../../engine/errors.js';
import {
  familiarName,
  formatReference,
  isFullImageId,
  isImageIdPrefix,
  isShortName,
  normalizeLocalReference,
  normalizePullReference,
  parseReference,
} from '../../engine/images/reference.js';

const D = 'sha256:' + 'ab'.repeat(32);

describe('images: references', () => {
  const pulls: Array<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/busybox:musl', 'docker.io/library/busybox:musl'],
    ['docker.io/library/busybox:latest', 'docker.io/library/busybox:latest'],
    ['user/app', 'docker.io/user/app:latest'],
    ['user/team/app:v1', 'docker.io/user/team/app:v1'],
    ['quay.io/podman/hello', 'quay.io/podman/hello:latest'],
    ['localhost/foo', 'localhost/foo:latest'],
    ['localhost:5000/foo/bar:tag', 'localhost:5000/foo/bar:tag'],
    ['127.0.0.1:5000/busybox', '127.0.0.1:5000/busybox:latest'],
    ['[::1]:5000/busybox:x', '[::1]:5000/busybox:x'],
    ['registry.example.com:443/a-b/c__d/e.f', 'registry.example.com:443/a-b/c__d/e.f:latest'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`busybox:1.36@${D}`, `docker.io/library/busybox@${D}`],
    [`quay.io/x/y@${D}`, `quay.io/x/y@${D}`],
    ['busybox:Tag_with.chars-1', 'docker.io/library/busybox:Tag_with.chars-1'],
    ['localhost:5000', 'docker.io/library/localhost:5000'],
  ];
  for (const [input, want] of pulls) {
    it(`pull: ${input} → ${want}`, () => {
      expect(formatReference(normalizePullReference(input))).to.equal(want);
    });
  }

  const locals: Array<[string, string]> = [
    ['myimage', 'localhost/myimage:latest'],
    ['myimage:v2', 'localhost/myimage:v2'],
    ['team/myimage', 'localhost/team/myimage:latest'],
    ['docker.io/myimage', 'docker.io/library/myimage:latest'],
    ['quay.io/team/myimage:1', 'quay.io/team/myimage:1'],
    [`myimage:v1@${D}`, `localhost/myimage:v1@${D}`],
  ];
  for (const [input, want] of locals) {
    it(`local: ${input} → ${want}`, () => {
      expect(formatReference(normalizeLocalReference(input))).to.equal(want);
    });
  }

  const bad: Array<[string, RegExp]> = [
    ['', /at least one component/],
    ['Busybox', /must be lowercase/],
    ['docker.io/Library/busybox', /must be lowercase/],
    ['busybox:', /invalid reference format/],
    ['busybox:-tag', /invalid tag format/],
    ['busybox:' + 'a'.repeat(129), /invalid tag format/],
    ['busybox@sha256:abc', /invalid checksum digest format/],
    ['busybox@md5:' + 'a'.repeat(32), /unsupported digest algorithm/],
    [`busybox@sha256:${'AB'.repeat(32)}`, /invalid checksum digest format/],
    ['busybox@', /invalid digest format/],
    ['-busybox', /invalid reference format/],
    ['busy..box', /invalid reference format/],
    ['busybox/', /invalid reference format/],
    ['/busybox', /invalid reference format/],
    ['a//b', /invalid reference format/],
    ['bad_host.-x/foo', /invalid reference format/],
    ['has space', /invalid reference format/],
    ['a'.repeat(256), /not be more than 255/],
    ['ab'.repeat(32), /64-byte hexadecimal/],
  ];
  for (const [input, re] of bad) {
    it(`refuses ${JSON.stringify(input.length > 40 ? input.slice(0, 40) + '…' : input)}`, () => {
      let err: unknown;
      try {
        normalizePullReference(input);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(EngineError);
      expect((err as EngineError).kind).to.equal('invalid-argument');
      expect((err as EngineError).message).to.match(re);
    });
  }

  it('parses without applying defaults', () => {
    expect(parseReference('busybox')).to.deep.equal({ path: 'busybox' });
    expect(parseReference('localhost:5000/a/b:c')).to.deep.equal({ domain: 'localhost:5000', path: 'a/b', tag: 'c' });
    expect(parseReference(`x@${D}`)).to.deep.equal({ path: 'x', digest: D });
    expect(isShortName('user/app')).to.equal(true);
    expect(isShortName('quay.io/app')).to.equal(false);
    expect(isShortName('localhost/app')).to.equal(false);
  });

  it('gives Docker-familiar names and recognises IDs', () => {
    expect(familiarName(normalizePullReference('busybox'))).to.equal('busybox:latest');
    expect(familiarName(normalizePullReference('user/app:1'))).to.equal('user/app:1');
    expect(familiarName(normalizePullReference('quay.io/a/b'))).to.equal('quay.io/a/b:latest');
    expect(isFullImageId('ab'.repeat(32))).to.equal(true);
    expect(isFullImageId(D)).to.equal(true);
    expect(isFullImageId('abc')).to.equal(false);
    expect(isImageIdPrefix('abc123')).to.equal(true);
    expect(isImageIdPrefix('busybox')).to.equal(false);
  });
});
