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
