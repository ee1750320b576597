// Resource statistics of running containers: runc's cgroup stats (`runc events --stats`), host
// CPU time from /proc/stat, and interface counters from the container's network namespace.
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import type { CgroupStats, ContainerStatsSample } from './api.js';
import { delay } from './locks.js';
import type { ContainerManager } from './manager.js';
import { parseTimeNano, type ContainerRecord } from './types.js';

const CLK_TCK = 100;
const UNLIMITED = 2 ** 62;

export function emptyStats(): CgroupStats {
  return {
    readNano: 0n,
    cpuTotal: 0,
    cpuKernel: 0,
    cpuUser: 0,
    perCpu: [],
    systemCpu: 0,
    onlineCpus: 0,
    throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 },
    memoryUsage: 0,
    memoryLimit: 0,
    memoryMaxUsage: 0,
    memoryStats: {},
    pids: 0,
    pidsLimit: 0,
    blkio: [],
    networks: {},
  };
}

/** Host CPU time in ns (the sum of the first line of /proc/stat), as Docker's system_cpu_usage. */
async function systemCpuNs(): Promise<number> {
  const text = await fsp.readFile('/proc/stat', 'utf8');
  const line = text.slice(0, text.indexOf('\n'));
  const ticks = line.trim().split(/\s+/).slice(1, 8).reduce((n, v) => n + Number(v), 0);
  return (ticks * 1e9) / CLK_TCK;
}

async function netDev(pid: number): Promise<CgroupStats['networks']> {
  const out: CgroupStats['networks'] = {};
  let text: string;
  try {
    text = await fsp.readFile(`/proc/${pid}/net/dev`, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out[m[1]!] = { rxBytes: f[0]!, rxPackets: f[1]!, rxErrors: f[2]!, rxDropped: f[3]!, txBytes: f[8]!, txPackets: f[9]!, txErrors: f[10]!, txDropped: f[11]! };
  }
  return out;
}

type Raw = Record<string, any>;

export async function sampleStats(m: ContainerManager, rec: ContainerRecord): Promise<CgroupStats> {
  const s = emptyStats();
  s.readNano = BigInt(Date.now()) * 1_000_000n;
  const [raw, sys] = await Promise.all([m.runc.stats(rec.id) as Promise<Raw>, systemCpuNs()]);
  const cpu = raw.cpu?.usage ?? {};
  s.cpuTotal = cpu.total ?? 0;
  s.cpuKernel = cpu.kernel ?? 0;
  s.cpuUser = cpu.user ?? 0;
  s.perCpu = cpu.percpu ?? [];
  s.systemCpu = sys;
  s.onlineCpus = s.perCpu.length || os.cpus().length;
  const th = raw.cpu?.throttling ?? {};
  s.throttling = { periods: th.periods ?? 0, throttledPeriods: th.throttled_periods ?? 0, throttledTime: th.throttled_time ?? 0 };
  const mem = raw.memory ?? {};
  s.memoryUsage = mem.usage?.usage ?? 0;
  s.memoryMaxUsage = mem.usage?.max ?? 0;
  const limit = mem.usage?.limit ?? 0;
  s.memoryLimit = !limit || limit >= UNLIMITED ? os.totalmem() : limit;
  s.memoryStats = Object.fromEntries(Object.entries((mem.raw ?? {}) as Record<string, number>).filter(([, v]) => typeof v === 'number'));
  s.pids = raw.pids?.current ?? 0;
  s.pidsLimit = raw.pids?.limit ?? 0;
  for (const e of (raw.blkio?.ioServiceBytesRecursive ?? []) as Raw[]) s.blkio.push({ major: e.major, minor: e.minor, op: e.op, value: e.value });
  if (rec.state.pid) s.networks = await netDev(rec.state.pid);
  return s;
}

/** Samples of the given containers (all running ones when `refs` is undefined), once or every interval. */
export async function containerStats(
  m: ContainerManager,
  refs: string[] | undefined,
  o: { stream: boolean; intervalMs?: number },
  signal: AbortSignal,
): Promise<AsyncIterable<ContainerStatsSample[]>> {
  const ids = refs?.length ? refs.map((r) => m.lookup(r).id) : undefined;
  const interval = o.intervalMs ?? 1000;
  const previous = new Map<string, CgroupStats>();
  async function* samples(): AsyncGenerator<ContainerStatsSample[]> {
    for (let first = true; ; first = false) {
      if (signal.aborted) return;
      m.store.refresh();
      const recs = ids ? ids.map((id) => m.store.get(id)).filter((r): r is ContainerRecord => !!r) : m.store.list().filter((r) => r.state.status === 'running' || r.state.status === 'paused');
      if (ids && !recs.length) return;
      const out: ContainerStatsSample[] = [];
      for (const rec of recs) {
        const running = rec.state.status === 'running' || rec.state.status === 'paused' || rec.state.status === 'stopping';
        let cur = emptyStats();
        if (running) cur = await sampleStats(m, rec).catch(() => emptyStats());
        const pre = previous.get(rec.id) ?? emptyStats();
        previous.set(rec.id, cur);
        const started = parseTimeNano(rec.state.startedAt);
        out.push({ id: rec.id, name: rec.name, running, cur, pre, upSeconds: running && started ? Math.max(0, Date.now() / 1000 - Number(started / 1_000_000n) / 1000) : 0 });
      }
      // A one-shot Docker sample carries a precpu: take two samples a moment apart.
      if (first && !o.stream && out.some((s) => s.running)) {
        await delay(Math.min(interval, 100), signal);
        for (const s of out) {
          if (!s.running) continue;
          const rec = m.store.get(s.id);
          if (!rec) continue;
          s.pre = s.cur;
          s.cur = await sampleStats(m, rec).catch(() => emptyStats());
        }
      }
      yield out;
      if (!o.stream) return;
      await delay(interval, signal);
    }
  }
  return samples();
}
