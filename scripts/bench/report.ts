// The printed table (and the --json document) of a run.
import { writeFileSync } from 'node:fs';
import type { Row, SideName } from './context.js';
import { describeTarget, evaluate, ratio, type Verdict } from './targets.js';

export const mb = (kb: number): number => kb / 1024;

export function kilo(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0);
}

export function ms(x: number): string {
  return `${fmtMs(x)} ms`;
}

function fmtMs(x: number): string {
  if (!Number.isFinite(x)) return '–';
  return x < 1 ? x.toFixed(3) : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0);
}

export function formatValue(x: number | undefined, unit: string): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  switch (unit) {
    case 'ms':
      return fmtMs(x);
    case 'req/s':
      return Math.round(x).toLocaleString('en-US');
    case 'MB':
      return x.toFixed(1);
    default:
      return String(Math.round(x * 1000) / 1000);
  }
}

export interface Report {
  title: string;
  header: string[];
  sides: SideName[];
  rows: Row[];
  references: { label: string; value: string }[];
  notes: string[];
  errors: string[];
}

export function verdicts(rows: Row[]): (Verdict | undefined)[] {
  return rows.map((r) => evaluate(r.target, r.values));
}

export function renderReport(rep: Report): string {
  const names: Record<SideName, string> = { tspod: 'tspod', podman: 'Podman' };
  const cols = ['Metric', 'Unit', ...rep.sides.map((s) => names[s]), ...(rep.sides.length > 1 ? ['tspod/Podman'] : []), 'Target', 'Result'];
  const vs = verdicts(rep.rows);
  const body: { section: string; cells: string[] }[] = rep.rows.map((r, i) => {
    const rt = ratio(r.values);
    return {
      section: r.section,
      cells: [
        `  ${r.metric}`,
        r.unit,
        ...rep.sides.map((s) => formatValue(r.values[s], r.unit)),
        ...(rep.sides.length > 1 ? [formatRatio(rt)] : []),
        describeTarget(r.target, r.unit),
        vs[i] ?? '',
      ],
    };
  });
  const width = cols.map((c, i) => Math.max(c.length, ...body.map((b) => b.cells[i]!.length)));
  const numeric = (i: number) => i >= 2 && i < cols.length - 2;
  const line = (cells: string[]) => cells.map((c, i) => (numeric(i) ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join('  ').trimEnd();
  const out: string[] = [rep.title, ...rep.header.map((h) => `  ${h}`), ''];
  out.push(line(cols));
  out.push(width.map((w) => '─'.repeat(w)).join('  '));
  let section = '';
  for (const b of body) {
    if (b.section !== section) {
      section = b.section;
      out.push(`${section}`);
    }
    out.push(line(b.cells));
  }
  const count = (v: Verdict) => vs.filter((x) => x === v).length;
  out.push('');
  out.push(`Targets: ${count('PASS')} PASS, ${count('FAIL')} FAIL${count('n/a') ? `, ${count('n/a')} n/a` : ''} (the benchmark informs; it does not gate)`);
  if (rep.references.length) {
    out.push('', 'Reference figures');
    const w = Math.max(...rep.references.map((r) => r.label.length));
    for (const r of rep.references) out.push(`  ${r.label.padEnd(w)}  ${r.value}`);
  }
  if (rep.notes.length) {
    out.push('', 'Notes');
    for (const n of rep.notes) out.push(...n.split('\n').map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`)));
  }
  if (rep.errors.length) {
    out.push('', 'Errors');
    for (const e of rep.errors) out.push(...e.split('\n').map((l, i) => (i === 0 ? `  ! ${l}` : `    ${l}`)));
  }
  return out.join('\n') + '\n';
}

export function writeJson(file: string, doc: unknown): void {
  writeFileSync(file, JSON.stringify(doc, (_k, v: unknown) => (v instanceof Float64Array ? Array.from(v) : v), 2) + '\n');
}

function formatRatio(r: number | undefined): string {
  if (r === undefined) return '–';
  if (r >= 100) return r.toFixed(0);
  if (r >= 0.1) return r.toFixed(2);
  return r.toPrecision(2);
}
