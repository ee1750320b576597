// Prints how many operations of each spec tspod implements, from the handler tables.
import { compatHandlers } from '../handlers/compat/index.js';
import { libpodHandlers } from '../handlers/libpod/index.js';
import { NOT_IMPLEMENTED } from '../handlers/types.js';

const verbose = process.argv.includes('--list');
for (const [name, table] of [['Docker v1.40 (compat)', compatHandlers], ['Libpod v5.1.0', libpodHandlers]] as const) {
  const entries = Object.entries(table as Record<string, unknown>);
  const missing = entries.filter(([, h]) => h === NOT_IMPLEMENTED).map(([id]) => id).sort();
  const done = entries.length - missing.length;
  console.log(`${name}: ${done}/${entries.length} operations implemented (${((100 * done) / entries.length).toFixed(0)}%)`);
  if (verbose) for (const id of missing) console.log(`  501 ${id}`);
}
