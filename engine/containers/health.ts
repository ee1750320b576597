// Health checks: the configured test runs in the container (runc exec, not attached), with its
// timeout; results go into the container's state (status, failing streak, last 5 results).
import { EngineError } from '../errors.js';
import type { HealthcheckReport } from './api.js';
import type { ContainerManager } from './manager.js';
import { nowRfc3339Nano, type HealthState } from './types.js';

const DEFAULT_INTERVAL_NS = 30e9;
const DEFAULT_TIMEOUT_NS = 30e9;
const DEFAULT_RETRIES = 3;
const MAX_LOG = 5;
const MAX_OUTPUT = 4096;

function testArgs(test: string[]): string[] | undefined {
  const [kind, ...rest] = test;
  if (kind === 'CMD') return rest;
  if (kind === 'CMD-SHELL') return ['/bin/sh', '-c', rest.join(' ')];
  if (kind === 'NONE') return undefined;
  return test;
}

/** Runs the container's health check once and records the result. */
export async function runHealthcheck(m: ContainerManager, ref: string): Promise<HealthcheckReport> {
  const rec = m.lookup(ref);
  const hc = rec.spec.healthcheck;
  const args = hc && testArgs(hc.test);
  if (!hc || !args?.length) throw new EngineError('conflict', `container ${rec.id} has no defined healthcheck`, undefined, 'container has no defined healthcheck');
  if (rec.state.status !== 'running') throw new EngineError('conflict', `container ${rec.id} is not running: container state improper`, undefined, 'container state improper');
  const start = nowRfc3339Nano();
  const timeoutMs = (hc.timeout || DEFAULT_TIMEOUT_NS) / 1e6;
  let exitCode: number;
  let output: string;
  const run = m.runc.execCapture(rec.id, args, { env: rec.spec.env, cwd: rec.spec.workingDir || '/' });
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
  const res = await Promise.race([run, timer]);
  if (res === 'timeout') {
    exitCode = -1;
    output = `Health check exceeded timeout of ${Math.round(timeoutMs / 1000)}s`;
  } else {
    exitCode = res.code ?? 1;
    output = (res.stdout + res.stderr).slice(0, MAX_OUTPUT);
  }
  const end = nowRfc3339Nano();
  const retries = hc.retries || DEFAULT_RETRIES;
  const next = m.store.mutate(rec.id, (r) => {
    const h: HealthState = r.state.health ?? { status: 'starting', failingStreak: 0, log: [] };
    const log = [...h.log, { Start: start, End: end, ExitCode: exitCode, Output: output }].slice(-MAX_LOG);
    const inStartPeriod = hc.startPeriod > 0 && Date.now() - Date.parse(r.state.startedAt) < hc.startPeriod / 1e6;
    let status = h.status;
    let streak = h.failingStreak;
    if (exitCode === 0) {
      status = 'healthy';
      streak = 0;
    } else if (!inStartPeriod) {
      streak += 1;
      if (streak >= retries) status = 'unhealthy';
    }
    return { ...r, state: { ...r.state, health: { status, failingStreak: streak, log } } };
  });
  const h = next?.state.health ?? { status: 'starting' as const, failingStreak: 0, log: [] };
  if (next) await m.emit('health_status', next, { health_status: h.status });
  return { status: h.status, failingStreak: h.failingStreak, log: h.log };
}

/** The service's health-check clock: runs each running container's check when it is due. */
export function startHealthTimer(m: ContainerManager): () => void {
  const last = new Map<string, number>();
  const busy = new Set<string>();
  const tick = () => {
    const now = Date.now();
    for (const rec of m.store.list()) {
      if (rec.state.status !== 'running' || !rec.spec.healthcheck || busy.has(rec.id)) continue;
      const interval = (rec.spec.healthcheck.interval || DEFAULT_INTERVAL_NS) / 1e6;
      const started = Date.parse(rec.state.startedAt);
      const prev = Math.max(last.get(rec.id) ?? 0, started);
      if (now - prev < interval) continue;
      last.set(rec.id, now);
      busy.add(rec.id);
      void runHealthcheck(m, rec.id)
        .catch(() => {})
        .finally(() => busy.delete(rec.id));
    }
  };
  const timer = setInterval(tick, 1000);
  timer.unref();
  return () => clearInterval(timer);
}
