// System-wide views and clean-up across the domains: disk usage (`system df`) and `system
// prune`. Both only combine what each domain's own engine methods do, so every rule (what is in
// use, what a filter means, which events are emitted) stays in one place.
import { EngineError } from '../errors.js';
import type { ContainersEngine } from '../containers/api.js';
import type { ImagesEngine } from '../images/api.js';
import type { NetworksEngine } from '../networks/types.js';
import type { VolumesEngine } from '../volumes/api.js';
import type { DataUsageReport, SystemPruneOptions, SystemPruneReport } from './types.js';

type Domains = Pick<ImagesEngine, 'imageList' | 'imageLayersSize' | 'imagePrune'> &
  Pick<ContainersEngine, 'containerList' | 'containerPrune'> &
  Pick<VolumesEngine, 'volumeList' | 'volumePrune'> &
  Pick<NetworksEngine, 'networkPrune'>;

export async function dataUsage(d: Domains): Promise<DataUsageReport> {
  const [layersSize, images, containers, volumes] = await Promise.all([
    d.imageLayersSize(),
    d.imageList({ all: true }),
    d.containerList({ all: true, size: true }),
    d.volumeList({ usage: true }),
  ]);
  return { layersSize, images, containers, volumes };
}

// Podman's system prune takes these filters only, and applies them to each kind of object.
const PRUNE_FILTERS = new Set(['label', 'label!', 'until']);

/**
 * Removes stopped containers, then dangling (or, with `all`, unused) images, again while a round
 * frees something (removing a container can leave its image unused), then unused networks and,
 * when asked, unused volumes.
 */
export async function systemPrune(d: Domains, o: SystemPruneOptions): Promise<SystemPruneReport> {
  const filters = o.filters ?? {};
  for (const key of Object.keys(filters)) {
    if (!PRUNE_FILTERS.has(key)) throw new EngineError('invalid-argument', `invalid filter "${key}": system prune accepts label, label! and until`, undefined, 'invalid filter');
  }
  const report: SystemPruneReport = {
    containers: { deleted: [], spaceReclaimed: 0 },
    images: { removed: [], untagged: [], spaceReclaimed: 0 },
    networks: [],
    volumes: [],
    reclaimed: 0,
  };
  // Bounded: each productive round removes at least one object.
  for (let round = 0; round < 100; round++) {
    const c = await d.containerPrune(filters);
    const i = await d.imagePrune({ all: o.all, filters });
    report.containers.deleted.push(...c.deleted);
    report.containers.spaceReclaimed += c.spaceReclaimed;
    report.images.removed.push(...i.removed);
    report.images.untagged.push(...i.untagged);
    report.images.spaceReclaimed += i.spaceReclaimed;
    if (c.deleted.length === 0 && i.removed.length === 0) break;
  }
  report.networks = await d.networkPrune(filters);
  if (o.volumes) report.volumes = await d.volumePrune({ filters });
  report.reclaimed =
    report.containers.spaceReclaimed + report.images.spaceReclaimed + report.volumes.filter((v) => !v.error).reduce((n, v) => n + v.size, 0);
  return report;
}
