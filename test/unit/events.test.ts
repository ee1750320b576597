import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EngineError } from '../../engine/errors.js';
import { EventLog, formatEventLine, type EventInput } from '../../engine/events/event-log.js';
import { compileFilters, matchesFilters } from '../../engine/events/filters.js';
import { eventClockNs, parseEventTime } from '../../engine/events/time.js';
import type { EngineEvent, EventQuery } from '../../engine/events/types.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MS = 1_000_000n;
const EVENT_LOG_MODULE = new URL('../../engine/events/event-log.js', import.meta.url).href;

async function collect(it: AsyncIterable<EngineEvent>): Promise<EngineEvent[]> {
  const out: EngineEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

/** Appends from another Node process, like conmon's cleanup processes do. */
async function appendFromChild(path: string, event: EventInput): Promise<void> {
  const code =
    `const { EventLog } = await import(${JSON.stringify(EVENT_LOG_MODULE)});` +
    `await new EventLog(${JSON.stringify(path)}).append(${JSON.stringify(event)});`;
  await run(process.execPath, ['--input-type=module', '-e', code]);
}

/** Resolves with the next value, or rejects after `ms`. */
async function nextWithin<T>(it: AsyncIterator<T>, ms: number): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([it.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function resourceCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}
const openFds = () => readdirSync('/proc/self/fd').length;

const ev = (over: Partial<EngineEvent> = {}): EngineEvent => ({
  type: 'container',
  action: 'start',
  id: 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2',
  name: 'web',
  image: 'docker.io/library/alpine:latest',
  attributes: { app: 'shop', tier: 'front' },
  time: 0,
  timeNano: 0n,
  ...over,
});

describe('events: parseEventTime', () => {
  const now = Date.UTC(2026, 10, 29, 15, 0, 0); // ms

  it('parses Unix seconds, with or without a nanosecond fraction', () => {
    expect(parseEventTime('1700000000')).to.equal(1_700_000_000_000_000_000n);
    expect(parseEventTime('1700000000.123456789')).to.equal(1_700_000_000_123_456_789n);
    expect(parseEventTime('1700000000.5')).to.equal(1_700_000_000_500_000_000n);
    expect(parseEventTime('0')).to.equal(0n);
  });

  it('parses RFC 3339 timestamps with zones, offsets and fractions', () => {
    const base = BigInt(Date.UTC(2026, 10, 29, 15, 0, 0)) * MS;
    expect(parseEventTime('2026-11-29T15:00:00Z')).to.equal(base);
    expect(parseEventTime('2026-11-29T15:00:00.000000123Z')).to.equal(base + 123n);
    expect(parseEventTime('2026-11-29T16:30:00+01:30')).to.equal(base);
    expect(parseEventTime('2026-11-29T10:00:00-05:00')).to.equal(base);
    expect(parseEventTime('2026-11-29T15:00:00.25+00:00')).to.equal(base + 250n * MS);
  });

  it('reads timestamps without a zone as local time', () => {
    expect(parseEventTime('2026-11-29T15:00:00')).to.equal(BigInt(new Date(2026, 10, 29, 15).getTime()) * MS);
    expect(parseEventTime('2026-11-29')).to.equal(BigInt(new Date(2026, 10, 29).getTime()) * MS);
  });

  it('takes Go durations as that long before now', () => {
    const nowNs = BigInt(now) * MS;
    expect(parseEventTime('10m', now)).to.equal(nowNs - 600n * 1000n * MS);
    expect(parseEventTime('1h30m', now)).to.equal(nowNs - 5400n * 1000n * MS);
    expect(parseEventTime('90s', now)).to.equal(nowNs - 90n * 1000n * MS);
    expect(parseEventTime('1.5h', now)).to.equal(nowNs - 5400n * 1000n * MS);
    expect(parseEventTime('250ms', now)).to.equal(nowNs - 250n * MS);
  });

  for (const bad of ['', 'yesterday', '10x', '2026-13-01', '2026-02-30T00:00:00Z', '1h 30m', '-5']) {
    it(`rejects ${JSON.stringify(bad)} with invalid-argument`, () => {
      expect(() => parseEventTime(bad, now))
        .to.throw(EngineError)
        .that.satisfies((e: EngineError) => e.kind === 'invalid-argument' && e.message.includes('invalid time'));
    });
  }

  it('stamps events with a strictly increasing clock close to the wall clock', () => {
    const a = eventClockNs();
    const b = eventClockNs();
    expect(b > a).to.equal(true);
    const wall = BigInt(Date.now()) * MS;
    expect(Number(b - wall) / 1e6).to.be.within(-20, 20);
  });
});

describe('events: filters', () => {
  const image = ev({ type: 'image', action: 'pull', id: 'sha256:feedbeef00', name: 'quay.io/x/tool:1.0', image: undefined });

  it('ANDs keys and ORs values', () => {
    expect(matchesFilters(ev(), {})).to.equal(true);
    expect(matchesFilters(ev(), { type: ['container'], event: ['stop', 'start'] })).to.equal(true);
    expect(matchesFilters(ev(), { type: ['container'], event: ['stop'] })).to.equal(false);
    expect(matchesFilters(ev(), { type: ['image', 'volume'] })).to.equal(false);
    expect(matchesFilters(ev(), { event: [] })).to.equal(true);
  });

  it('matches Docker actions that carry a suffix by their bare name', () => {
    const exec = ev({ action: 'exec_start: sh -c true' });
    expect(matchesFilters(exec, { event: ['exec_start'] })).to.equal(true);
    expect(matchesFilters(exec, { event: ['exec'] })).to.equal(false);
  });

  it('matches containers by name or ID prefix', () => {
    expect(matchesFilters(ev(), { container: ['web'] })).to.equal(true);
    expect(matchesFilters(ev(), { container: ['a1b2c3'] })).to.equal(true);
    expect(matchesFilters(ev(), { container: ['we'] })).to.equal(false);
    expect(matchesFilters(ev(), { container: ['db', 'a1b2'] })).to.equal(true);
    expect(matchesFilters(ev({ type: 'volume', name: 'web', id: 'web' }), { container: ['web'] })).to.equal(false);
  });

  it('matches images by reference (short names, tags) and image events by ID', () => {
    for (const v of ['alpine', 'alpine:latest', 'library/alpine', 'docker.io/library/alpine:latest']) {
      expect(matchesFilters(ev(), { image: [v] }), v).to.equal(true);
    }
    expect(matchesFilters(ev(), { image: ['pine'] })).to.equal(false);
    expect(matchesFilters(ev(), { image: ['alpine:3.20'] })).to.equal(false);
    expect(matchesFilters(image, { image: ['feedbeef'] })).to.equal(true);
    expect(matchesFilters(image, { image: ['sha256:feedbeef00'] })).to.equal(true);
    expect(matchesFilters(image, { image: ['tool'] })).to.equal(true);
    // a container's ID is not an image ID
    expect(matchesFilters(ev(), { image: ['a1b2'] })).to.equal(false);
  });

  it('matches volumes, networks and pods by name or ID prefix, only for their type', () => {
    const vol = ev({ type: 'volume', id: 'data', name: 'data', image: undefined });
    const net = ev({ type: 'network', id: '0123abcd', name: 'podman', image: undefined });
    const pod = ev({ type: 'pod', id: 'beef0123', name: 'shop', image: undefined });
    expect(matchesFilters(vol, { volume: ['data'] })).to.equal(true);
    expect(matchesFilters(net, { network: ['podman'] })).to.equal(true);
    expect(matchesFilters(net, { network: ['0123'] })).to.equal(true);
    expect(matchesFilters(pod, { pod: ['shop'] })).to.equal(true);
    expect(matchesFilters(pod, { pod: ['beef'] })).to.equal(true);
    expect(matchesFilters(pod, { volume: ['shop'] })).to.equal(false);
  });

  it('matches labels by key or key=value', () => {
    expect(matchesFilters(ev(), { label: ['app'] })).to.equal(true);
    expect(matchesFilters(ev(), { label: ['app=shop'] })).to.equal(true);
    expect(matchesFilters(ev(), { label: ['app=blog'] })).to.equal(false);
    expect(matchesFilters(ev(), { label: ['app=blog', 'tier=front'] })).to.equal(true);
    expect(matchesFilters(ev(), { label: ['missing'] })).to.equal(false);
  });

  it('rejects unknown filter keys, naming them', () => {
    expect(() => matchesFilters(ev(), { since: ['1'] }))
      .to.throw(EngineError, /"since"/)
      .with.property('kind', 'invalid-argument');
    expect(() => compileFilters({ colour: ['red'] })).to.throw(EngineError, /"colour"/);
  });

  it('never pre-rejects a stored line that matches', () => {
    const cases: Array<[EngineEvent, Record<string, string[]>]> = [
      [ev(), { container: ['a1b2'], image: ['alpine'], label: ['app=shop'], event: ['start'] }],
      [image, { image: ['sha256:feedbeef'] }],
      [ev({ name: 'wé"b' }), { container: ['wé"b'] }],
    ];
    for (const [event, filters] of cases) {
      const compiled = compileFilters(filters);
      expect(compiled.match(event)).to.equal(true);
      expect(compiled.mightMatch(formatEventLine(event))).to.equal(true);
    }
    expect(compileFilters({ container: ['db'] }).mightMatch(formatEventLine(ev()))).to.equal(false);
  });
});

describe('events: EventLog', function () {
  this.timeout(10_000);
  let dir: string;
  let path: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tspod-events-'));
    path = join(dir, 'events', 'events.log');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const history = (log: EventLog, q: Partial<EventQuery> = {}) =>
    collect(log.stream({ since: 0n, filters: {}, follow: false, ...q }, new AbortController().signal));

  it('appends one JSON line per event, in a 0700 directory, timeNano as a string', async () => {
    const log = new EventLog(path);
    const a = await log.append({ type: 'container', action: 'create', id: 'c1', name: 'web', attributes: {} });
    const b = await log.append({ type: 'container', action: 'start', id: 'c1', attributes: { x: '1' } });
    expect(statSync(join(dir, 'events')).mode & 0o777).to.equal(0o700);
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines).to.have.length(3);
    expect(lines[2]).to.equal('');
    expect(JSON.parse(lines[0]).timeNano).to.equal(String(a.timeNano));
    expect(b.timeNano > a.timeNano).to.equal(true);
    expect(a.time).to.equal(Number(a.timeNano / 1_000_000_000n));
    expect(Math.abs(a.time - Date.now() / 1000)).to.be.below(5);
    const read = await history(log);
    expect(read).to.deep.equal([a, b]);
  });

  it('keeps a given timeNano', async () => {
    const log = new EventLog(path);
    const e = await log.append({ type: 'image', action: 'pull', id: 'i', attributes: {}, timeNano: 1_700_000_000_123_456_789n });
    expect(e.time).to.equal(1_700_000_000);
    expect((await history(log))[0].timeNano).to.equal(1_700_000_000_123_456_789n);
  });

  it('reads history within since..until (inclusive), and none without since', async () => {
    const log = new EventLog(path);
    for (let i = 1; i <= 5; i++) {
      await log.append({ type: 'container', action: `a${i}`, id: 'c', attributes: {}, timeNano: BigInt(i) * 1000n });
    }
    const actions = (es: EngineEvent[]) => es.map((e) => e.action);
    expect(actions(await history(log))).to.deep.equal(['a1', 'a2', 'a3', 'a4', 'a5']);
    expect(actions(await history(log, { since: 2000n, until: 4000n }))).to.deep.equal(['a2', 'a3', 'a4']);
    expect(actions(await history(log, { since: 2001n }))).to.deep.equal(['a3', 'a4', 'a5']);
    expect(actions(await history(log, { since: undefined }))).to.deep.equal([]);
    expect(actions(await history(log, { filters: { event: ['a1', 'a5'] } }))).to.deep.equal(['a1', 'a5']);
  });

  it('handles a missing log file', async () => {
    expect(await history(new EventLog(path))).to.deep.equal([]);
  });

  it('skips corrupt and partial lines, and recovers an event glued to a torn write', async () => {
    const log = new EventLog(path);
    await log.append({ type: 'container', action: 'one', id: 'c', attributes: {} });
    const good = formatEventLine(ev({ action: 'two', timeNano: eventClockNs() }));
    appendFileSync(path, 'not json\n{"timeNano":"12",\n{"timeNano":"x","type":1}\n\n');
    appendFileSync(path, good.slice(0, 30)); // a writer died mid-line...
    appendFileSync(path, good); // ...and the next append is glued to its fragment
    appendFileSync(path, '{"timeNano":"5","type":"container"'); // trailing partial line
    const read = await history(log);
    expect(read.map((e) => e.action)).to.deep.equal(['one', 'two']);
  });

  it('throws on unknown filter keys before streaming', () => {
    const log = new EventLog(path);
    expect(() => log.stream({ filters: { bogus: ['x'] }, follow: true }, new AbortController().signal))
      .to.throw(EngineError, /"bogus"/)
      .with.property('kind', 'invalid-argument');
  });

  it('follows appends from this process at once', async () => {
    const log = new EventLog(path, { pollIntervalMs: 60_000 });
    const ac = new AbortController();
    const it = log.stream({ filters: { event: ['go'] }, follow: true }, ac.signal)[Symbol.asyncIterator]();
    const first = it.next();
    await sleep(20);
    await log.append({ type: 'container', action: 'skip', id: 'c', attributes: {} });
    const t0 = Date.now();
    await log.append({ type: 'container', action: 'go', id: 'c', attributes: {} });
    const { value } = await first;
    expect(value?.action).to.equal('go');
    expect(Date.now() - t0).to.be.below(500);
    ac.abort();
    expect((await it.next()).done).to.equal(true);
  });

  it('follows appends made by another process, into a file created after the stream began', async () => {
    // The poll is slowed down so the event must come through fs.watch.
    const log = new EventLog(path, { pollIntervalMs: 60_000 });
    const ac = new AbortController();
    const it = log.stream({ filters: { type: ['container'] }, follow: true }, ac.signal)[Symbol.asyncIterator]();
    const first = nextWithin(it, 8000);
    await sleep(50);
    await appendFromChild(path, { type: 'container', action: 'died', id: 'c9', name: 'other', attributes: { exitCode: '3' } });
    const { value } = await first;
    expect(value).to.include({ action: 'died', id: 'c9', name: 'other' });
    expect(value?.attributes).to.deep.equal({ exitCode: '3' });

    // And again, now that the file exists and is being read from an offset.
    const second = nextWithin(it, 8000);
    await appendFromChild(path, { type: 'container', action: 'cleanup', id: 'c9', attributes: {} });
    expect((await second).value?.action).to.equal('cleanup');
    ac.abort();
    expect((await it.next()).done).to.equal(true);
  });

  it('streams history then live events, and ends when the abort signal fires, leaving no handles', async () => {
    const log = new EventLog(path);
    const old = await log.append({ type: 'volume', action: 'create', id: 'v', name: 'v', attributes: {} });
    await sleep(20);
    const before = resourceCounts();
    const fdsBefore = openFds();
    const ac = new AbortController();
    const seen: EngineEvent[] = [];
    const done = (async () => {
      for await (const e of log.stream({ since: old.timeNano, filters: {}, follow: true }, ac.signal)) seen.push(e);
    })();
    await sleep(50);
    // While following, a watcher and a poll timer are held (so the check below means something).
    const during = resourceCounts();
    expect(during.FSEventWrap ?? 0).to.equal((before.FSEventWrap ?? 0) + 1);
    expect(during.Timeout ?? 0).to.be.above(before.Timeout ?? 0);
    await log.append({ type: 'volume', action: 'remove', id: 'v', name: 'v', attributes: {} });
    await sleep(50);
    ac.abort();
    await done;
    expect(seen.map((e) => e.action)).to.deep.equal(['create', 'remove']);
    await sleep(20);
    const after = resourceCounts();
    expect(after.FSEventWrap ?? 0).to.equal(before.FSEventWrap ?? 0);
    expect(after.Timeout ?? 0).to.equal(before.Timeout ?? 0);
    expect(openFds()).to.equal(fdsBefore);
  });

  it('releases everything when the consumer stops early', async () => {
    const log = new EventLog(path);
    await log.append({ type: 'container', action: 'x', id: 'c', attributes: {} });
    await sleep(20);
    const before = resourceCounts();
    const fdsBefore = openFds();
    for await (const e of log.stream({ since: 0n, filters: {}, follow: true }, new AbortController().signal)) {
      expect(e.action).to.equal('x');
      break;
    }
    await sleep(20);
    expect(resourceCounts()).to.deep.equal(before);
    expect(openFds()).to.equal(fdsBefore);
  });

  it('ends on time when until is in the future, even without events', async () => {
    const log = new EventLog(path);
    await sleep(20); // let earlier fs requests settle before counting
    const before = resourceCounts();
    const t0 = Date.now();
    const until = BigInt(t0 + 300) * MS;
    const stream = log.stream({ since: BigInt(t0 - 1000) * MS, until, filters: {}, follow: true }, new AbortController().signal);
    const collecting = collect(stream);
    await sleep(100);
    await log.append({ type: 'container', action: 'inside', id: 'c', attributes: {} });
    const got = await collecting;
    const elapsed = Date.now() - t0;
    expect(got.map((e) => e.action)).to.deep.equal(['inside']);
    expect(elapsed).to.be.within(290, 1000);
    await sleep(20);
    expect(resourceCounts()).to.deep.equal(before);
  });

  it('does not follow when until has passed, and ends after the history', async () => {
    const log = new EventLog(path);
    await log.append({ type: 'container', action: 'x', id: 'c', attributes: {}, timeNano: 10n });
    const t0 = Date.now();
    const got = await collect(log.stream({ since: 0n, until: 20n, filters: {}, follow: true }, new AbortController().signal));
    expect(got).to.have.length(1);
    expect(Date.now() - t0).to.be.below(200);
  });

  it('ends at once on an already aborted signal', async () => {
    const ac = new AbortController();
    ac.abort();
    expect(await collect(new EventLog(path).stream({ since: 0n, filters: {}, follow: true }, ac.signal))).to.deep.equal([]);
  });

  it('reads 100k events with a filter quickly', async () => {
    const log = new EventLog(path);
    await log.append({ type: 'system', action: 'refresh', id: 'x', attributes: {} }); // creates the directory
    const lines: string[] = [];
    const base = eventClockNs();
    for (let i = 0; i < 100_000; i++) {
      const id = (i % 100).toString(16).padStart(2, '0') + 'c0ffee'.repeat(10) + 'ab';
      lines.push(formatEventLine(ev({ id, name: `ctr-${i % 100}`, action: i % 2 ? 'start' : 'died', timeNano: base + BigInt(i) })));
    }
    writeFileSync(path, lines.join(''), { flag: 'a' });

    let t0 = performance.now();
    const filtered = await history(log, { filters: { container: ['ctr-42'], event: ['died'] } });
    const filteredMs = performance.now() - t0;
    t0 = performance.now();
    const all = await history(log, { filters: { type: ['container'] } });
    const allMs = performance.now() - t0;
    expect(filtered).to.have.length(1000);
    expect(all).to.have.length(100_000);
    console.log(`      100k events: filtered ${filteredMs.toFixed(0)} ms, all ${allMs.toFixed(0)} ms`);
    expect(filteredMs).to.be.below(1500);
  });
});
