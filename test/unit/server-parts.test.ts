// Unit tests of the server's pure parts: version prefixes, query normalising, route matching,
// filters, error bodies.
import { expect } from 'chai';
import { splitVersion } from '../../server/api-version.js';
import { compileMatcher } from '../../server/fast-router.js';
import { normalizeQuery } from '../../server/query.js';
import { isPing } from '../../server/ping.js';
import { errorBody } from '../../server/errors.js';
import { stringifyJson, Int64 } from '../../server/respond.js';
import { parseFilters } from '../../handlers/filters.js';
import { toEventMessage } from '../../handlers/convert/events.js';
import { EngineError } from '../../engine/errors.js';

describe('version prefixes', () => {
  const cases: [string, string | undefined, string][] = [
    ['/v1.40/containers/json', '1.40', '/containers/json'],
    ['/v1.24/_ping', '1.24', '/_ping'],
    ['/v4.3.1/libpod/info', '4.3.1', '/libpod/info'],
    ['/v4.0.0-dev/libpod/info', '4.0.0-dev', '/libpod/info'],
    ['/v9.99', '9.99', '/'],
    ['/containers/json', undefined, '/containers/json'],
    ['/volumes/v1.40', undefined, '/volumes/v1.40'],
    ['/vx/_ping', undefined, '/vx/_ping'],
  ];
  for (const [raw, version, path] of cases) {
    it(`${raw} -> ${version ?? 'none'} ${path}`, () => expect(splitVersion(raw)).to.deep.equal({ version, path }));
  }
});

describe('query normalising', () => {
  const spec = { all: 'boolean', limit: 'integer', filters: 'string', names: 'array:string', ratio: 'number' };
  const q = (s: string) => normalizeQuery(spec, new URLSearchParams(s));
  it('reads booleans as Go strconv.ParseBool does', () => {
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(q(`all=${t}`).all, t).to.equal(true);
    for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) expect(q(`all=${f}`).all, f).to.equal(false);
    expect(q('all=yes').all).to.equal('yes'); // left for the validator to reject
    expect(q('all=')).to.deep.equal({});
  });
  it('converts integers and numbers, leaving junk for the validator', () => {
    expect(q('limit=-1').limit).to.equal(-1);
    expect(q('limit=abc').limit).to.equal('abc');
    expect(q('limit=1.5').limit).to.equal('1.5');
    expect(q('ratio=0.25').ratio).to.equal(0.25);
  });
  it('collects repeated keys into arrays and drops unknown parameters', () => {
    expect(q('names=a&names=b&external=true&last=3')).to.deep.equal({ names: ['a', 'b'] });
  });
  it('keeps filters as the raw JSON string', () => {
    expect(q('filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D').filters).to.equal('{"label":["a=b"]}');
  });
});

describe('filters parameter', () => {
  it('accepts Docker maps of sets and Podman maps of lists', () => {
    expect(parseFilters('{"label":{"a=b":true,"c":false},"status":{"exited":true}}')).to.deep.equal({ label: ['a=b'], status: ['exited'] });
    expect(parseFilters('{"label":["a=b","c"]}')).to.deep.equal({ label: ['a=b', 'c'] });
    expect(parseFilters(undefined)).to.deep.equal({});
    expect(parseFilters('')).to.deep.equal({});
  });
  it('rejects what is not a JSON object of lists or sets', () => {
    for (const bad of ['not-json', '[1]', '{"a":1}', '{"a":[1]}']) {
      expect(() => parseFilters(bad), bad).to.throw(EngineError).with.property('kind', 'invalid-argument');
    }
  });
});

describe('operation matcher', () => {
  const ops = [
    { path: '/containers/json', method: 'get', id: 'list' },
    { path: '/containers/{id}/json', method: 'get', id: 'inspect' },
    { path: '/containers/{id}', method: 'delete', id: 'delete' },
    { path: '/containers/create', method: 'post', id: 'create' },
    { path: '/containers/{id}/start', method: 'post', id: 'start' },
  ];
  const match = compileMatcher(ops);
  it('prefers exact paths, then templates with more literal text', () => {
    expect(match('GET', '/containers/json', false)?.id).to.equal('list');
    expect(match('GET', '/containers/abc/json', false)?.id).to.equal('inspect');
    expect(match('POST', '/containers/create', false)?.id).to.equal('create');
    expect(match('POST', '/containers/abc/start/', false)?.id).to.equal('start');
  });
  it('matches one path segment per parameter', () => {
    expect(match('GET', '/containers/my/ctr/json', false)).to.equal(undefined);
  });
  it('tells 405 from 404 when strict', () => {
    expect(() => match('PUT', '/containers/abc/json', true)).to.throw(/^405/);
    expect(() => match('GET', '/nothing', true)).to.throw(/^404/);
  });
});

describe('ping detection', () => {
  it('matches every ping form and nothing else', () => {
    for (const url of ['/_ping', '/v1.40/_ping', '/libpod/_ping', '/v5.1.0/libpod/_ping', '/_ping?x=1', '/_ping/']) expect(isPing('GET', url), url).to.equal(true);
    expect(isPing('HEAD', '/_ping')).to.equal(true);
    for (const url of ['/_pingx', '/x/_ping', '/libpod/libpod/_ping']) expect(isPing('GET', url), url).to.equal(false);
    expect(isPing('POST', '/_ping')).to.equal(false);
  });
});

describe('error bodies and JSON', () => {
  it('writes {message} for compat and {cause, message, response} for libpod', () => {
    const err = new EngineError('not-found', 'no container with name or ID "x" found: no such container', undefined, 'no such container');
    expect(errorBody('docker', err, 404)).to.deep.equal({ message: err.message });
    expect(errorBody('libpod', err, 404)).to.deep.equal({ cause: 'no such container', message: err.message, response: 404 });
  });
  it('writes 64-bit integers exactly', () => {
    expect(stringifyJson({ timeNano: new Int64(1764430000123456789n), s: 'a\u0000int64:1' })).to.equal('{"timeNano":1764430000123456789,"s":"a\\u0000int64:1"}');
  });
});

describe('event messages per API', () => {
  const base = { id: 'x', attributes: {}, time: 1, timeNano: 1_000_000_000n } as const;
  it('names an image removal delete on compat and remove on libpod', () => {
    const e = { ...base, type: 'image' as const, action: 'remove' };
    expect(toEventMessage(e, 'compat')).to.include({ Action: 'delete', status: 'delete' });
    expect(toEventMessage(e, 'libpod')).to.include({ Action: 'remove' });
  });
  it('names a container exit die (exitCode) on compat and died (containerExitCode) on libpod', () => {
    const e = { ...base, type: 'container' as const, action: 'die', attributes: { exitCode: '3' } };
    const compat = toEventMessage(e, 'compat');
    expect(compat.Action).to.equal('die');
    expect(compat.Actor.Attributes.exitCode).to.equal('3');
    const libpod = toEventMessage(e, 'libpod');
    expect(libpod.Action).to.equal('died');
    expect(libpod.Actor.Attributes.containerExitCode).to.equal('3');
  });
});
