// Container logs from conmon's k8s-file log: each F record is a line (its newline restored), P
// records are output without a newline yet. With `follow` the reader keeps going until the
// container is no longer running (then drains what conmon wrote last).
import { promises as fsp } from 'node:fs';
import { EngineError } from '../errors.js';
import { findTailOffset, readK8sLog } from '../oci/k8s-log.js';
import type { ContainerLogsOptions, ContainerLogsReport, OutputChunk } from './api.js';
import type { ContainerManager } from './manager.js';
import { isActive } from './manager.js';

const NL = Buffer.from('\n');

export async function containerLogs(m: ContainerManager, ref: string, o: ContainerLogsOptions, signal: AbortSignal): Promise<ContainerLogsReport> {
  const rec = m.lookup(ref);
  if (rec.spec.logDriver === 'none') throw new EngineError('invalid-argument', `configured logging driver does not support reading: container ${rec.id} uses the "none" log driver`);
  const file = m.layout.logPath(rec.id);
  const wantOut = o.stdout ?? true;
  const wantErr = o.stderr ?? true;
  const offset = o.tail !== undefined && o.tail >= 0 ? await findTailOffset(file, o.tail) : 0;
  const id = rec.id;
  async function* lines(): AsyncGenerator<OutputChunk> {
    // tail=0: only new output (nothing at all without follow).
    if (o.tail === 0 && !o.follow) return;
    const start = o.tail === 0 ? await fileSize(file) : offset;
    if (!o.follow && o.since === undefined && o.until === undefined && !o.timestamps) {
      yield* fastRead(file, start, wantOut, wantErr);
      return;
    }
    const entries = readK8sLog(file, {
      offset: start,
      sinceNano: o.since,
      untilNano: o.until,
      follow: o.follow,
      signal,
      pollMs: 200,
      stopWhen: () => {
        const cur = m.fresh(id);
        return !cur || !isActive(cur.state.status);
      },
    });
    for await (const e of entries) {
      if (e.stream === 'stdout' ? !wantOut : !wantErr) continue;
      yield { stream: e.stream, data: e.partial ? e.data : Buffer.concat([e.data, NL]), timeNano: e.timeNano };
    }
  }
  return { tty: rec.spec.tty, lines: lines() };
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch {
    return 0;
  }
}

const SP = 0x20;
const LF = 0x0a;

/**
 * The whole-file case (no follow, no time bounds, no timestamps): records are split in large
 * reads and each line's bytes handed out as a slice of the read buffer, its own record newline
 * included for complete (F) lines: no per-line copies or time parsing.
 */
async function* fastRead(file: string, offset: number, wantOut: boolean, wantErr: boolean): AsyncGenerator<OutputChunk> {
  let fh: import('node:fs/promises').FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch {
    return;
  }
  try {
    let pos = offset;
    let carry: Buffer = Buffer.alloc(0);
    for (;;) {
      const buf = Buffer.allocUnsafe(1 << 20);
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      const data = carry.length ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      let start = 0;
      for (let nl = data.indexOf(LF); nl >= 0; start = nl + 1, nl = data.indexOf(LF, start)) {
        const s1 = data.indexOf(SP, start);
        if (s1 < 0 || s1 > nl) continue;
        const s2 = data.indexOf(SP, s1 + 1);
        if (s2 < 0 || s2 + 2 > nl) continue;
        const isOut = s2 - s1 === 7 && data[s1 + 1] === 0x73 && data[s1 + 4] === 0x6f; // "stdout"
        const isErr = s2 - s1 === 7 && data[s1 + 4] === 0x65; // "stderr"
        if (!isOut && !isErr) continue;
        if (isOut ? !wantOut : !wantErr) continue;
        const tag = data[s2 + 1];
        const content = s2 + 3 <= nl ? s2 + 3 : nl;
        if (tag === 0x46) yield { stream: isOut ? 'stdout' : 'stderr', data: data.subarray(content, nl + 1) };
        else if (tag === 0x50) {
          if (nl > content) yield { stream: isOut ? 'stdout' : 'stderr', data: data.subarray(content, nl) };
        }
      }
      carry = start < data.length ? Buffer.from(data.subarray(start)) : Buffer.alloc(0);
    }
  } finally {
    await fh.close();
  }
}
