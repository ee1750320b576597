// What a container's run holds besides its runtime and rootfs: its volumes (mounted through
// the volumes domain at start, released at exit) and its network namespace (set up by the
// networks domain, torn down at exit: in the service in the background, and lingering for a
// moment where nobody can tell, so that a container started right after finds the bridge up).
import { promises as fsp } from 'node:fs';
import type { NetworksDomain } from '../networks/domain.js';
import { portRequestsFromDocker } from '../networks/ports.js';
import type { NetworkMode, SetupContainerNetworkReport, SetupContainerNetworkStages } from '../networks/types.js';
import type { VolumeDomain } from '../volumes/index.js';
import { resolveInRoot } from './scoped-path.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord } from './types.js';

/**
 * How long the service lets the network of an exited container linger (see networks/sandbox.ts):
 * long enough for a client to remove the container and start the next one (a `docker run` loop).
 */
export const NETWORK_LINGER_MS = lingerFromEnv(process.env.TSPOD_NETWORK_LINGER_MS) ?? 500;

/** TSPOD_NETWORK_LINGER_MS (milliseconds, 0 for none): lets a test hold the window open. */
function lingerFromEnv(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

export class RunResources {
  constructor(
    readonly store: ContainerStore,
    readonly networks: NetworksDomain | undefined,
    readonly volumes: VolumeDomain | undefined,
    /** Tear networks down in the background at exit (the service). */
    private readonly background: boolean,
    private readonly lookup: (ref: string) => ContainerRecord,
    private readonly fresh: (id: string) => ContainerRecord | undefined,
    private readonly warn: (msg: string) => void,
  ) {}

  /** Mounts the container's volumes (copying image content into new ones); destination -> host source. */
  async mountVolumes(rec: ContainerRecord, rootfs: string, user: { uid: number; gid: number }): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (!this.volumes) return out;
    for (const m of rec.spec.mounts) {
      if (m.type !== 'volume') continue;
      const content = await resolveInRoot(rootfs, m.destination);
      const exists = await fsp.stat(content).then((st) => st.isDirectory(), () => false);
      const vm = await this.volumes.volumeMountForContainer(m.source || undefined, {
        containerId: rec.id,
        ...(exists ? { imageContentDir: content } : {}),
        ...(m.nocopy ? { nocopy: true } : {}),
        chownTo: { uid: user.uid, gid: user.gid },
        destination: m.destination,
      });
      out.set(m.destination, vm.source);
    }
    return out;
  }

  /** The networks domain's view of the container's network mode. */
  private networkMode(rec: ContainerRecord): NetworkMode {
    const ns = rec.spec.netns;
    switch (ns.mode) {
      case 'host':
        return 'host';
      case 'none':
        return 'none';
      case 'container':
        return { container: this.lookup(ns.id).id };
      case 'path':
        return { ns: ns.path };
      default:
        return 'bridge';
    }
  }

  async setupNetwork(rec: ContainerRecord, stages?: SetupContainerNetworkStages): Promise<SetupContainerNetworkReport | undefined> {
    if (!this.networks) return undefined;
    const s = rec.spec;
    const exposed = Object.keys(s.exposedPorts);
    return this.networks.setupContainerNetwork({
      containerId: rec.id,
      name: rec.name,
      mode: this.networkMode(rec),
      networks: s.networkRequests ?? {},
      portMappings: portRequestsFromDocker(s.portBindings, exposed, s.publishAllPorts),
      publishAll: s.publishAllPorts,
      exposedPorts: exposed,
      ...(s.dns.length ? { dnsServers: s.dns } : {}),
    }, stages);
  }

  /** Network teardowns still running in the background (service only), by container. */
  private readonly teardowns = new Map<string, Promise<void>>();

  /** Waits for the background network teardowns, lingering ones started now (before answering who uses a network). */
  async settleTeardowns(): Promise<void> {
    await this.networks?.settleTeardowns();
    await Promise.all(this.teardowns.values());
  }

  /**
   * Network teardown and volume releases of a run (idempotent, from any process). With
   * `background` (the service, at exit) the network teardown is not waited for, and may linger:
   * it is slow when the last container leaves a bridge, and the networks domain orders it with
   * any later setup anyway, so a remove need not wait for it. The container's network facts
   * (inspect) go at once: an exited container has none.
   */
  async release(id: string, opts: { background?: boolean } = {}): Promise<void> {
    const rec = this.fresh(id);
    if (rec?.state.net) this.store.mutate(id, (r) => {
      const { net: _net, ...state } = r.state;
      void _net;
      return { ...r, state };
    });
    if (this.networks) {
      const pending = this.teardowns.get(id);
      if (!pending) {
        const background = opts.background && this.background;
        const p = this.networks.teardownContainerNetwork(id, background ? { lingerMs: NETWORK_LINGER_MS } : {}).catch((err: unknown) => this.warn(`tearing down the network of ${id}: ${(err as Error).message}`));
        if (background) {
          this.teardowns.set(id, p);
          void p.finally(() => {
            if (this.teardowns.get(id) === p) this.teardowns.delete(id);
          });
        } else await p;
      }
    }
    if (this.volumes) await this.volumes.volumeReleaseAll(id).catch((err: unknown) => this.warn(`releasing the volumes of ${id}: ${(err as Error).message}`));
  }

  /** Waits for what is still being torn down (service shutdown). */
  async close(): Promise<void> {
    await this.settleTeardowns();
  }
}
