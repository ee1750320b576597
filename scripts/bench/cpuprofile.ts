// Node CPU profiles (--cpu-prof) summarised for the reports: self and inclusive time per bucket
// (npm package, tspod file, Node's module loader and other internals, GC) within a time window,
// and the hottest functions.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  clockAligned: boolean;
  profileStartMs: number;
  sampledMs: number;
  /** Sampled time not idle. */
  busyMs: number;
  buckets: { bucket: string; selfMs: number; inclusiveMs: number }[];
  functions: { name: string; selfMs: number }[];
}

/** Self and inclusive time per bucket (npm package, tspod file, Node internals), up to cutUs. */
export function summarizeProfile(p: CpuProfile, repoRoot: string, spawnUs: number, cutUs: number, fromUs = -Infinity): ProfileSummary {
  const rootUrl = pathToFileURL(repoRoot).href.replace(/\/?$/, '/');
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const bucketOf = (url: string, name: string): string => {
    if (!url) return name.startsWith('(') ? name : '(native: V8 builtins, JSON.parse, compile)';
    if (url.startsWith('node:internal/modules/')) return 'node: module loader (resolve, read, compile, link)';
    if (url.startsWith('node:')) return 'node: other internals';
    const rel = url.startsWith(rootUrl) ? url.slice(rootUrl.length) : url;
    const nm = rel.lastIndexOf('node_modules/');
    if (nm >= 0) {
      const parts = rel.slice(nm + 'node_modules/'.length).split('/');
      return `npm ${parts[0]!.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]}`;
    }
    return `tspod ${rel}`;
  };
  // The profiler's clock is the monotonic clock the bench's hrtime reads; if the profile does not
  // start between spawn and answer, the clocks differ and the whole profile is used.
  const aligned = p.startTime >= spawnUs && p.startTime <= cutUs;
  let idle = 0;
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const fnSelf = new Map<string, number>();
  let t = p.startTime;
  let sampled = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (aligned && t > cutUs) break;
    if (aligned && t < fromUs) continue;
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    sampled += dt;
    const leaf = byId.get(p.samples[i]!)!;
    if (leaf.callFrame.functionName === '(idle)') idle += dt;
    const b = bucketOf(leaf.callFrame.url, leaf.callFrame.functionName);
    self.set(b, (self.get(b) ?? 0) + dt);
    const fname = `${leaf.callFrame.functionName || '(anonymous)'} ${shortUrl(leaf.callFrame.url, rootUrl)}:${leaf.callFrame.lineNumber + 1}`;
    fnSelf.set(fname, (fnSelf.get(fname) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id)!;
      if (n.callFrame.functionName === '(root)') continue;
      seen.add(bucketOf(n.callFrame.url, n.callFrame.functionName));
    }
    for (const s of seen) incl.set(s, (incl.get(s) ?? 0) + dt);
  }
  const buckets = [...new Set([...self.keys(), ...incl.keys()])]
    .map((bucket) => ({ bucket, selfMs: self.get(bucket) ?? 0, inclusiveMs: incl.get(bucket) ?? 0 }))
    .sort((a, b) => b.inclusiveMs - a.inclusiveMs || b.selfMs - a.selfMs);
  const functions = [...fnSelf].map(([name, selfMs]) => ({ name, selfMs })).sort((a, b) => b.selfMs - a.selfMs);
  return { clockAligned: aligned, profileStartMs: (p.startTime - spawnUs) / 1000, sampledMs: sampled, busyMs: sampled - idle, buckets, functions: functions.slice(0, 30) };
}

function shortUrl(url: string, rootUrl: string): string {
  if (!url) return '';
  const rel = url.startsWith(rootUrl) ? url.slice(rootUrl.length) : url;
  const nm = rel.lastIndexOf('node_modules/');
  return nm >= 0 ? rel.slice(nm + 'node_modules/'.length) : rel;
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

/** Converts performance.now() of this process to the profiler's clock (µs, monotonic). */
export function profilerClockUs(perfNowMs: number): number {
  return (perfNowMs + (Number(process.hrtime.bigint()) / 1e6 - performance.now())) * 1000;
}

export function formatProfile(s: ProfileSummary, buckets: number, functions = 8): string {
  return (
    `  inclusive    self  (ms)\n` +
    s.buckets
      .slice(0, buckets)
      .map((b) => `  ${b.inclusiveMs.toFixed(1).padStart(9)} ${b.selfMs.toFixed(1).padStart(7)}  ${b.bucket}`)
      .join('\n') +
    `\n  hottest functions (self ms):\n` +
    s.functions
      .slice(0, functions)
      .map((f) => `  ${f.selfMs.toFixed(1).padStart(9)}          ${f.name}`)
      .join('\n')
  );
}
