// What the networks domain asks of the containers domain (NetworkContainerHooks): which
// containers name a network, and connect/disconnect recorded on the container (and applied to
// its namespace when it runs).
import { EngineError } from '../errors.js';
import type { NetworkContainerHooks, NetworkUser, PerNetworkRequest } from '../networks/types.js';
import type { ContainerManager } from './manager.js';

/** How the networks domain learns about containers' networks (network rm, connect, disconnect). */
export function networkHooks(m: ContainerManager): NetworkContainerHooks {
  const user = (id: string): NetworkUser => ({ id, name: m.mustGet(id).name });
  return {
    async containersUsing(networkName: string): Promise<NetworkUser[]> {
      // A container removed a moment ago may still be leaving the network in the background.
      await m.resources.settleTeardowns();
      m.store.refresh();
      return m.store.list().filter((r) => r.spec.networkRequests && networkName in r.spec.networkRequests).map((r) => ({ id: r.id, name: r.name }));
    },
    async connect(ref: string, networkName: string, opts: PerNetworkRequest): Promise<NetworkUser> {
      const { id } = m.lookup(ref);
      return m.locked(id, async () => {
        const rec = m.mustGet(id);
        if (rec.spec.netns.mode !== 'private' || !rec.spec.networkRequests) throw new EngineError('invalid-argument', `container ${rec.name} is not in bridge network mode: it cannot join networks`, undefined, 'invalid argument');
        if (networkName in rec.spec.networkRequests) throw new EngineError('conflict', `container ${rec.name} is already connected to network ${networkName}`, undefined, 'network is already connected');
        if (rec.state.status === 'running' || rec.state.status === 'paused') {
          const a = await m.networks!.connectContainerNetwork(id, networkName, opts);
          m.store.mutate(id, (r) => ({ ...r, state: { ...r.state, net: { status: { ...(r.state.net?.status ?? {}), [networkName]: a }, ports: r.state.net?.ports ?? [] } } }));
        }
        m.store.mutate(id, (r) => ({ ...r, spec: { ...r.spec, networkRequests: { ...r.spec.networkRequests, [networkName]: opts }, networks: [...r.spec.networks.filter((n) => n !== networkName), networkName] } }));
        await m.emit('connect', rec, { network: networkName });
        return user(id);
      });
    },
    async disconnect(ref: string, networkName: string, _force: boolean): Promise<NetworkUser> {
      const { id } = m.lookup(ref);
      return m.locked(id, async () => {
        const rec = m.mustGet(id);
        if (!rec.spec.networkRequests || !(networkName in rec.spec.networkRequests)) throw new EngineError('not-found', `container ${rec.name} is not connected to network ${networkName}`, undefined, 'network is not connected');
        if (rec.state.status === 'running' || rec.state.status === 'paused') {
          await m.networks!.disconnectContainerNetwork(id, networkName);
        }
        m.store.mutate(id, (r) => {
          const reqs = { ...r.spec.networkRequests };
          delete reqs[networkName];
          const status = { ...(r.state.net?.status ?? {}) };
          delete status[networkName];
          return { ...r, spec: { ...r.spec, networkRequests: reqs, networks: r.spec.networks.filter((n) => n !== networkName) }, state: { ...r.state, ...(r.state.net ? { net: { ...r.state.net, status } } : {}) } };
        });
        await m.emit('disconnect', rec, { network: networkName });
        return user(id);
      });
    },
    async removeContainers(ids: string[]): Promise<void> {
      for (const id of ids) await m.remove(id, { force: true });
    },
  };
}
