// What a benchmark suite gets to work with, and what it hands back: rows of figures per side
// (tspod, Podman), reference figures and notes printed after the table, extra data for --json.
import type { Cleanup } from './cleanup.js';
import type { Side } from './services.js';
import type { Target } from './targets.js';

export type SideName = 'tspod' | 'podman';

export interface BenchOptions {
  quick: boolean;
  only?: SideName;
  json?: string;
  /** Suite names to run (all when absent). */
  suites?: string[];
  /** Load-client threads at concurrency > 1. */
  clientWorkers: number;
  /** Give the services the bench's environment instead of a minimal systemd-like one. */
  inheritEnv: boolean;
  /** Run tspod from a copy of its build taken at the start (immune to rebuilds during the run). */
  snapshot: boolean;
  /** Extra node flags for every tspod process (experiments: --max-semi-space-size=…). */
  tspodNodeFlags: string[];
}

/** How much to measure: the full plan, or a smoke run with --quick. */
export interface Plan {
  /** Starts per side and kind of cold start. */
  coldStarts: number;
  /** Interleaved rounds per side and load configuration. */
  loadRounds: number;
  loadMs: number;
  warmupMs: number;
  ceilingMs: number;
  /** Repetitions of small timing probes (node -e 0, import timings). */
  probes: number;
}

export const FULL_PLAN: Plan = { coldStarts: 10, loadRounds: 3, loadMs: 2000, warmupMs: 300, ceilingMs: 2000, probes: 5 };
export const QUICK_PLAN: Plan = { coldStarts: 3, loadRounds: 1, loadMs: 700, warmupMs: 150, ceilingMs: 700, probes: 2 };

export interface Row {
  section: string;
  metric: string;
  unit: string;
  values: Partial<Record<SideName, number>>;
  target?: Target;
  /** Figures behind the row (samples, spreads), written to --json only. */
  detail?: unknown;
}

export interface BenchContext {
  readonly options: BenchOptions;
  readonly plan: Plan;
  readonly repoRoot: string;
  /** Where tspod runs from: the checkout, or a copy of its build with --snapshot. */
  readonly tspodRoot: string;
  /** The sides being compared, tspod first; Podman is absent when not installed or --only tspod. */
  readonly sides: readonly Side[];
  readonly cleanup: Cleanup;
  /** A fresh directory under the run's temp dir (removed at the end). */
  tempDir(name: string): string;
  /** Sides in the order for iteration i: A/B, then B/A, so neither always goes first. */
  order(i: number): readonly Side[];
  /** Progress on stderr. */
  log(message: string): void;
  row(r: Row): void;
  /** A reference figure printed below the table (client ceiling, Node floor). */
  reference(label: string, value: string): void;
  /** A free-form finding printed after the references. */
  note(line: string): void;
  /** Extra data for --json, under the suite's name. */
  data(key: string, value: unknown): void;
}

export interface Suite {
  name: string;
  description: string;
  /** Runs only when this returns true (e.g. needs Podman). */
  enabled?(ctx: BenchContext): boolean;
  run(ctx: BenchContext): Promise<void>;
}
