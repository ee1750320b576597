// The host's processes by command line, for the tests' leak checks and waits.
import { readdirSync, readFileSync } from 'node:fs';

export interface Proc {
  pid: number;
  argv: string[];
}

/** Every live process whose argv satisfies `match` (processes that end meanwhile are skipped). */
export function processesWhere(match: (argv: string[]) => boolean): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (match(argv)) out.push({ pid: Number(d), argv });
  }
  return out;
}
