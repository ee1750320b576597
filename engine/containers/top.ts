// Processes of a container, the way Docker's top does it: run the host's `ps` with the client's
// arguments (default -ef) and keep the rows whose PID belongs to the container.
import { EngineError } from '../errors.js';
import { runCommand } from '../oci/runc.js';
import type { ContainerTopReport } from './api.js';
import type { ContainerManager } from './manager.js';

export async function containerTop(m: ContainerManager, ref: string, psArgs = '-ef'): Promise<ContainerTopReport> {
  const rec = m.lookup(ref);
  if (rec.state.status !== 'running' && rec.state.status !== 'paused') {
    throw new EngineError('conflict', `container ${rec.id} is not running: container state improper`, undefined, 'container state improper');
  }
  const pids = new Set(await m.runc.ps(rec.id));
  const args = psArgs.trim() ? psArgs.trim().split(/\s+/) : ['-ef'];
  const res = await runCommand('ps', args);
  if (res.code !== 0) throw new EngineError('invalid-argument', `ps ${args.join(' ')} failed: ${res.stderr.trim() || `exit ${res.code}`}`);
  const lines = res.stdout.split('\n').filter((l) => l.trim());
  const titles = (lines.shift() ?? '').trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw new EngineError('invalid-argument', `couldn't find PID field in ps output (ps ${args.join(' ')})`);
  const processes: string[][] = [];
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    const row = fields.slice(0, titles.length - 1);
    row.push(fields.slice(titles.length - 1).join(' '));
    if (pids.has(Number(fields[pidCol]))) processes.push(row);
  }
  return { titles, processes };
}
