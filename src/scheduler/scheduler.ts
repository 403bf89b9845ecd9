import { AloftError } from '../lib/errors.ts';
import { requireRegion } from '../model/regions.ts';
import type { Store } from '../store/store.ts';
import { hostLoads, unlimitedCapacity, type HostCapacity, type HostLoad } from './host-load.ts';
import { spread, type SpreadRequest } from './spread.ts';

/** A host that can run Machines, as the scheduler sees it. */
export interface HostInfo {
  id: string;
  region: string;
  /** The host's 32-bit number in 6PN addresses. */
  number: number;
  /** The host-local IPv4 subnet Machines here get addresses from (CIDR). */
  ipv4Subnet: string;
  drivers: string[];
}

/**
 * Placement: which host runs a new Machine. For now the hosts are given (the embedded
 * platform has one); cluster mode will read registered hosts from the store. `place`
 * picks any host of a region; `spread` places many at once, evenly over regions and
 * hosts and within each host's free cpus, memory, disk and GPUs (see spread.ts).
 */
export class Scheduler {
  readonly #hosts: readonly HostInfo[];
  readonly #capacity: HostCapacity;

  constructor(hosts: readonly HostInfo[], options: { capacity?: HostCapacity } = {}) {
    if (hosts.length === 0) throw new AloftError('INTERNAL', 'Cannot build a scheduler with no hosts');
    this.#hosts = hosts;
    this.#capacity = options.capacity ?? unlimitedCapacity;
  }

  hosts(): readonly HostInfo[] {
    return this.#hosts;
  }

  /** The regions that have at least one host, in host order. */
  regions(): string[] {
    return [...new Set(this.#hosts.map((h) => h.region))];
  }

  /** Picks a host in `region` (any region when not given). */
  place(request: { region?: string | undefined }): HostInfo {
    if (request.region !== undefined) requireRegion(request.region, 'place machine');
    const candidates = request.region === undefined ? this.#hosts : this.#hosts.filter((h) => h.region === request.region);
    const host = candidates[Math.floor(Math.random() * candidates.length)];
    if (!host) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot place machine as 'region' must be one of this platform's regions (${this.regions().join(', ')}): got "${request.region ?? ''}"`, {
        details: { field: 'region' },
      });
    }
    return host;
  }

  host(id: string): HostInfo | undefined {
    return this.#hosts.find((h) => h.id === id);
  }

  /** A scheduler that places everything on `host` (already chosen), measuring it as this one does. */
  pinned(host: HostInfo): Scheduler {
    return new Scheduler([host], { capacity: this.#capacity });
  }

  /** Every host with its totals and what Machines and volumes have not yet taken. */
  loads(store: Store): Promise<HostLoad[]> {
    return hostLoads(store, this.#hosts, this.#capacity);
  }

  /** Hosts for `request.count` new Machines, spread and within capacity; throws CAPACITY_EXHAUSTED. */
  async spread(store: Store, request: SpreadRequest): Promise<HostInfo[]> {
    return spread(await this.loads(store), request);
  }
}
