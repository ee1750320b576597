// Performance targets: a ratio of tspod's figure to Podman's, or a bound on tspod's own figure.
import type { SideName } from './context.js';

export type Target =
  /** tspod / Podman ≤ value */
  | { kind: 'ratio-max'; value: number }
  /** tspod / Podman ≥ value */
  | { kind: 'ratio-min'; value: number }
  /** tspod < value, in the row's unit */
  | { kind: 'below'; value: number };

export type Verdict = 'PASS' | 'FAIL' | 'n/a';

/** The targets of the brief, by name, so suites and reports agree on them. */
export const TARGETS = {
  coldStartPing: { kind: 'ratio-max', value: 1.3 },
  coldStartContainers: { kind: 'ratio-max', value: 1.5 },
  pingThroughputC16: { kind: 'ratio-min', value: 1.2 },
  pingP99C16: { kind: 'ratio-max', value: 0.5 },
  versionP50: { kind: 'below', value: 2 },
  infoP50: { kind: 'below', value: 2 },
  idleRss: { kind: 'ratio-max', value: 1.5 },
  peakRss: { kind: 'ratio-max', value: 1.0 },
  // images (issue 3)
  pullTime: { kind: 'ratio-max', value: 1.0 },
  loadThroughput: { kind: 'ratio-min', value: 1.0 },
  imageListP50: { kind: 'ratio-max', value: 0.5 },
  // containers (issue 4)
  lifecycleRate: { kind: 'ratio-min', value: 2.0 },
  containerListP50: { kind: 'ratio-max', value: 0.1 },
  logsThroughput: { kind: 'ratio-min', value: 1.0 },
} as const satisfies Record<string, Target>;

export function ratio(values: Partial<Record<SideName, number>>): number | undefined {
  const t = values.tspod;
  const p = values.podman;
  if (t === undefined || p === undefined || !Number.isFinite(t) || !Number.isFinite(p) || p === 0) return undefined;
  return t / p;
}

export function evaluate(target: Target | undefined, values: Partial<Record<SideName, number>>): Verdict | undefined {
  if (!target) return undefined;
  if (target.kind === 'below') {
    const t = values.tspod;
    return t === undefined || !Number.isFinite(t) ? 'n/a' : t < target.value ? 'PASS' : 'FAIL';
  }
  const r = ratio(values);
  if (r === undefined) return 'n/a';
  return (target.kind === 'ratio-max' ? r <= target.value : r >= target.value) ? 'PASS' : 'FAIL';
}

export function describeTarget(target: Target | undefined, unit: string): string {
  if (!target) return '';
  switch (target.kind) {
    case 'ratio-max':
      return `≤ ${target.value}×`;
    case 'ratio-min':
      return `≥ ${target.value}×`;
    case 'below':
      return `< ${target.value} ${unit}`;
  }
}
