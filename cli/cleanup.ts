// `tspod [--root R --runroot R] container cleanup <id>`: the exit command conmon runs when a
// container exits while no service is up (or at the moment one goes down). It records the exit
// code, unmounts the rootfs, removes the runtime state, emits `die`, and applies the restart
// policy or AutoRemove: the same code the service runs for exits it sees itself.
import { join } from 'node:path';
import { loadContainersConf } from '../engine/config/containers-conf.js';
import { cleanupContainer } from '../engine/containers/domain.js';
import { EventLog } from '../engine/events/event-log.js';
import { defaults } from './defaults.js';

export async function runCleanup(id: string, dirs: { root: string; runroot: string }): Promise<number> {
  const events = new EventLog(join(dirs.runroot, 'events', 'events.log'));
  const rootless = defaults().rootless;
  await cleanupContainer({ ...dirs, rootless, conf: loadContainersConf({ rootless }), events }, id);
  return 0;
}
