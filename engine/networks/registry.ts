// Creating and removing network definitions, host-wide safely: under the host-wide claims lock,
// a new network's subnets and bridge are checked against this instance's networks, other
// instances' claims, Podman's networks and the host, then the definition and its claim are
// written together. The default network is created the same way on first use and kept, so
// its subnet stays the same for as long as the root does.
import { join } from 'node:path';
import type { SubnetPool } from '../config/containers-conf.js';
import { EngineError } from '../errors.js';
import { buildNetwork, type Occupancy } from './create.js';
import { claimHolder, podmanNetworks, readClaims, removeClaim, scanHost, writeClaim, type Holder } from './host.js';
import { parseCidr, type Cidr } from './ip.js';
import { withFileLock } from './lock.js';
import type { NetworkStore } from './store.js';
import type { NetworkConfig, NetworkCreateOptions } from './types.js';

export interface RegistryOptions {
  store: NetworkStore;
  claimsDir: string;
  podmanDir: string;
  pools: SubnetPool[];
  defaultName: string;
  defaultSubnet: string;
}

export class NetworkRegistry {
  private defaultChecked = false;
  private claimsSynced = false;

  constructor(private readonly o: RegistryOptions) {}

  get defaultName(): string {
    return this.o.defaultName;
  }

  private get lockFile() {
    return join(this.o.claimsDir, '.lock');
  }

  private async occupancy(): Promise<Occupancy> {
    const [claims, podman, host, own] = await Promise.all([readClaims(this.o.claimsDir), podmanNetworks(this.o.podmanDir), scanHost(), this.o.store.list()]);
    const ownIds = new Set(own.map((n) => n.id));
    const holders: Holder[] = own.map((n) => ({
      what: `network "${n.name}"`,
      subnets: n.subnets.map((s) => parseCidr(s.subnet)).filter((c): c is Cidr => !!c),
      bridge: n.network_interface,
    }));
    for (const c of claims) if (!ownIds.has(c.id)) holders.push(claimHolder(c));
    holders.push(...podman);
    return { holders, host };
  }

  /**
   * Claims of this instance's networks are rewritten when missing: the claims directory is on a
   * tmpfs and empties at reboot while the definitions stay.
   */
  private async syncClaims(): Promise<void> {
    if (this.claimsSynced) return;
    const claims = new Set((await readClaims(this.o.claimsDir)).map((c) => c.id));
    for (const n of await this.o.store.list()) if (!claims.has(n.id)) await writeClaim(this.o.claimsDir, n, this.o.store.fileOf(n.name));
    this.claimsSynced = true;
  }

  async create(opts: NetworkCreateOptions, isDefault = false): Promise<{ network: NetworkConfig; existed: boolean }> {
    return withFileLock(this.lockFile, async () => {
      await this.syncClaims();
      const existing = opts.name ? await this.o.store.byName(opts.name) : undefined;
      if (existing) {
        if (opts.ignoreIfExists) return { network: existing, existed: true };
        throw new EngineError('conflict', `network name ${opts.name} already used: network already exists`, undefined, 'network already exists');
      }
      const names = new Set((await this.o.store.list()).map((n) => n.name));
      const network = buildNetwork(opts, {
        occupancy: await this.occupancy(),
        pools: this.o.pools,
        preferredSubnet: isDefault ? this.o.defaultSubnet : undefined,
        isDefault,
        takenNames: names,
      });
      await this.o.store.write(network);
      await writeClaim(this.o.claimsDir, network, this.o.store.fileOf(network.name));
      return { network, existed: false };
    });
  }

  async remove(n: NetworkConfig): Promise<void> {
    await withFileLock(this.lockFile, async () => {
      await this.o.store.remove(n);
      await removeClaim(this.o.claimsDir, n.id);
    });
  }

  /** The default network, created on first use. */
  async ensureDefault(): Promise<NetworkConfig> {
    const found = await this.o.store.byName(this.o.defaultName);
    if (found) {
      if (!this.defaultChecked) await withFileLock(this.lockFile, () => this.syncClaims());
      this.defaultChecked = true;
      return found;
    }
    const { network } = await this.create({ name: this.o.defaultName, driver: 'bridge', ignoreIfExists: true }, true);
    this.defaultChecked = true;
    return network;
  }

  isDefault(n: NetworkConfig): boolean {
    return n.name === this.o.defaultName;
  }
}
