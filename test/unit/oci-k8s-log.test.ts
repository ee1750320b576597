import { expect } from 'chai';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  K8sLogParser,
  findTailOffset,
  formatRfc3339Nano,
  joinPartialRecords,
  parseK8sLogLine,
  parseRfc3339Nano,
  readK8sLog,
  type K8sLogEntry,
} from '../../engine/oci/k8s-log.js';

const rec = (ts: string, stream: string, tag: string, text: string) => `${ts} ${stream} ${tag} ${text}\n`;
const T1 = '2024-03-25T13:20:42.999999999+01:00';
const T2 = '2024-03-25T12:20:43.000000001+00:00';
const T3 = '2024-03-25T12:20:44.5Z';

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const texts = (es: K8sLogEntry[]) => es.map((e) => `${e.stream}:${e.partial ? 'P' : 'F'}:${e.data.toString()}`);

describe('oci k8s-file log', () => {
  let dir: string;
  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tspod-k8slog-'));
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('parses RFC 3339 timestamps to nanoseconds', () => {
    expect(parseRfc3339Nano(T1)).to.equal(1711369242999999999n);
    expect(parseRfc3339Nano(T2)).to.equal(1711369243000000001n);
    expect(parseRfc3339Nano(T3)).to.equal(1711369244500000000n);
    expect(parseRfc3339Nano('2024-03-25T12:20:44-0130')).to.equal(1711369244000000000n + 90n * 60n * 1_000_000_000n);
    expect(parseRfc3339Nano('yesterday')).to.equal(undefined);
    expect(formatRfc3339Nano(1711369243000000001n)).to.equal('2024-03-25T12:20:43.000000001+00:00');
  });

  it('parses records', () => {
    const e = parseK8sLogLine(Buffer.from(`${T1} stdout F hello world`))!;
    expect(e.stream).to.equal('stdout');
    expect(e.partial).to.equal(false);
    expect(e.data.toString()).to.equal('hello world');
    expect(e.timestamp).to.equal(T1);
    expect(parseK8sLogLine(Buffer.from(`${T1} stderr P   spaced`))!.data.toString()).to.equal('  spaced');
    expect(parseK8sLogLine(Buffer.from(`${T1} stdout F `))!.data.length).to.equal(0);
    expect(parseK8sLogLine(Buffer.from(`${T1} stdout F`))!.data.length).to.equal(0);
    expect(parseK8sLogLine(Buffer.from(`${T1} stdin F x`))).to.equal(undefined);
    expect(parseK8sLogLine(Buffer.from(`${T1} stdout X x`))).to.equal(undefined);
    expect(parseK8sLogLine(Buffer.from(`garbage`))).to.equal(undefined);
    const bin = parseK8sLogLine(Buffer.concat([Buffer.from(`${T1} stdout F `), Buffer.from([0xff, 0x00, 0x80])]))!;
    expect([...bin.data]).to.deep.equal([0xff, 0x00, 0x80]);
  });

  it('parses a stream split at any byte, tracking offsets', () => {
    const text = rec(T1, 'stdout', 'F', 'one') + 'not a record\n' + rec(T2, 'stderr', 'P', 'tw') + rec(T2, 'stderr', 'F', 'o');
    const bytes = Buffer.from(text);
    for (let split = 0; split <= bytes.length; split++) {
      const p = new K8sLogParser();
      const es = [...p.push(bytes.subarray(0, split)), ...p.push(bytes.subarray(split))];
      expect(texts(es)).to.deep.equal(['stdout:F:one', 'stderr:P:tw', 'stderr:F:o']);
      expect(es[es.length - 1]!.offset).to.equal(bytes.length);
      expect(p.offset).to.equal(bytes.length);
    }
    const p = new K8sLogParser(100);
    const es = p.push(Buffer.from(rec(T1, 'stdout', 'F', 'x') + `${T1} stdout F incompl`));
    expect(es[0]!.offset).to.equal(100 + rec(T1, 'stdout', 'F', 'x').length);
    expect(p.buffered).to.be.greaterThan(0);
  });

  it('reads from an offset, with since/until, and joins partial records', async () => {
    const f = path.join(dir, 'a.log');
    await fsp.writeFile(
      f,
      rec(T1, 'stdout', 'F', 'a') + rec(T2, 'stdout', 'P', 'b1') + rec(T2, 'stderr', 'F', 'e') + rec(T2, 'stdout', 'F', 'b2') + rec(T3, 'stdout', 'P', 'c'),
    );
    const es = await all(readK8sLog(f));
    expect(texts(es)).to.deep.equal(['stdout:F:a', 'stdout:P:b1', 'stderr:F:e', 'stdout:F:b2', 'stdout:P:c']);
    const rest = await all(readK8sLog(f, { offset: es[1]!.offset }));
    expect(texts(rest)).to.deep.equal(['stderr:F:e', 'stdout:F:b2', 'stdout:P:c']);
    expect(texts(await all(readK8sLog(f, { sinceNano: parseRfc3339Nano(T2) })))).to.have.length(4);
    expect(texts(await all(readK8sLog(f, { untilNano: parseRfc3339Nano(T1) })))).to.deep.equal(['stdout:F:a']);
    const joined = await all(joinPartialRecords(readK8sLog(f)));
    expect(texts(joined)).to.deep.equal(['stdout:F:a', 'stderr:F:e', 'stdout:F:b1b2', 'stdout:P:c']);
    expect(await all(readK8sLog(path.join(dir, 'missing.log')))).to.deep.equal([]);
  });

  it('finds where the last N lines start', async () => {
    const f = path.join(dir, 'tail.log');
    const lines = [
      rec(T1, 'stdout', 'F', 'l1'),
      rec(T1, 'stdout', 'P', 'l2a'),
      rec(T1, 'stdout', 'F', 'l2b'),
      rec(T2, 'stderr', 'F', 'l3'),
      rec(T3, 'stdout', 'F', 'l4'),
    ];
    await fsp.writeFile(f, lines.join('') + `${T3} stdout F unterminated`);
    const off = (k: number) => lines.slice(0, k).join('').length;
    expect(await findTailOffset(f, 0)).to.equal(off(5));
    expect(await findTailOffset(f, 1)).to.equal(off(4));
    expect(await findTailOffset(f, 2)).to.equal(off(3));
    expect(await findTailOffset(f, 3)).to.equal(off(1)); // l2 includes its P record
    expect(await findTailOffset(f, 4)).to.equal(0);
    expect(await findTailOffset(f, 100)).to.equal(0);
    expect(await findTailOffset(path.join(dir, 'nope'), 3)).to.equal(0);
    // Records spanning read chunks: many long lines.
    const big = path.join(dir, 'big.log');
    const many = Array.from({ length: 3000 }, (_, i) => rec(T1, 'stdout', 'F', `${i}-${'x'.repeat(i % 97)}`));
    await fsp.writeFile(big, many.join(''));
    const o = await findTailOffset(big, 10);
    expect(texts(await all(readK8sLog(big, { offset: o })))[0]).to.match(/^stdout:F:2990-/);
  });

  it('follows a growing file, across rotation, until stopWhen', async () => {
    const f = path.join(dir, 'follow.log');
    await fsp.writeFile(f, rec(T1, 'stdout', 'F', 'first'));
    let stop = false;
    const got: string[] = [];
    const reader = (async () => {
      for await (const e of readK8sLog(f, { follow: true, stopWhen: () => stop, pollMs: 50 })) got.push(e.data.toString());
    })();
    const waitFor = async (k: number) => {
      const deadline = Date.now() + 3000;
      while (got.length < k && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    await waitFor(1);
    await fsp.appendFile(f, `${T2} stdout F sec`);
    await new Promise((r) => setTimeout(r, 80));
    await fsp.appendFile(f, 'ond\n');
    await waitFor(2);
    // conmon's rotation: a new file renamed over the old one.
    await fsp.writeFile(f + '.tmp', rec(T3, 'stderr', 'F', 'rotated'));
    await fsp.rename(f + '.tmp', f);
    await waitFor(3);
    await fsp.appendFile(f, rec(T3, 'stdout', 'F', 'last'));
    stop = true;
    await reader;
    expect(got).to.deep.equal(['first', 'second', 'rotated', 'last']);
  });

  it('stops following on abort', async () => {
    const f = path.join(dir, 'abort.log');
    await fsp.writeFile(f, rec(T1, 'stdout', 'F', 'x'));
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 100);
    const es = await all(readK8sLog(f, { follow: true, signal: ac.signal, pollMs: 5000 }));
    expect(es).to.have.length(1);
    expect(Date.now() - t0).to.be.lessThan(2000);
  });
});
