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
 * Where the scheduler's hosts come from: a fixed list (tests, declared hosts), or the
 * host registry followed live (cluster/host-directory.ts), where `hosts()` is the hosts
 * that are up now and `host(id)` finds any registered one, down ones too (a volume's
 * home is still its home while its host is down).
 */
export interface HostSource {
  hosts(): readonly HostInfo[];
  host(id: string): HostInfo | undefined;
}

/** A source that never changes. */
export function fixedHosts(hosts: readonly HostInfo[]): HostSource {
  return { hosts: () => hosts, host: (id) => hosts.find((h) => h.id === id) };
}

/**
 * Placement: which host runs a new Machine. The hosts are a fixed list or the live
 * registry (see HostSource); placement only ever picks hosts that are up. `place`
 * picks any host of a region; `spread` places many at once, evenly over regions and
 * hosts and within each host's free cpus, memory, disk and GPUs (see spread.ts).
 */
export class Scheduler {
  readonly #source: HostSource;
  readonly #capacity: HostCapacity;

  constructor(hosts: readonly HostInfo[] | HostSource, options: { capacity?: HostCapacity } = {}) {
    if (isHostList(hosts)) {
      if (hosts.length === 0) throw new AloftError('INTERNAL', 'Cannot build a scheduler with no hosts');
      this.#source = fixedHosts(hosts);
    } else {
      this.#source = hosts;
    }
    this.#capacity = options.capacity ?? unlimitedCapacity;
  }

  /** The hosts placement may use now (with a registry: those that are up). */
  hosts(): readonly HostInfo[] {
    return this.#source.hosts();
  }

  /** The regions that have at least one host, in host order. */
  regions(): string[] {
    return [...new Set(this.hosts().map((h) => h.region))];
  }

  /** Picks a host in `region` (any region when not given). */
  place(request: { region?: string | undefined }): HostInfo {
    if (request.region !== undefined) requireRegion(request.region, 'place machine');
    const all = this.hosts();
    if (all.length === 0) throw noHosts('place machine');
    const candidates = request.region === undefined ? all : all.filter((h) => h.region === request.region);
    const host = candidates[Math.floor(Math.random() * candidates.length)];
    if (!host) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot place machine as 'region' must be one of this platform's regions (${this.regions().join(', ')}): got "${request.region ?? ''}"`, {
        details: { field: 'region' },
      });
    }
    return host;
  }

  /** Any known host by id, up or not. */
  host(id: string): HostInfo | undefined {
    return this.#source.host(id);
  }

  /** A scheduler that places everything on `host` (already chosen), measuring it as this one does. */
  pinned(host: HostInfo): Scheduler {
    return new Scheduler([host], { capacity: this.#capacity });
  }

  /** Every host with its totals and what Machines and volumes have not yet taken. */
  loads(store: Store): Promise<HostLoad[]> {
    return hostLoads(store, this.hosts(), this.#capacity);
  }

  /** Hosts for `request.count` new Machines, spread and within capacity; throws CAPACITY_EXHAUSTED (NO_HOSTS when none is up). */
  async spread(store: Store, request: SpreadRequest): Promise<HostInfo[]> {
    if (this.hosts().length === 0) throw noHosts(`place ${request.what ?? 'machines'}`);
    return spread(await this.loads(store), request);
  }
}

function isHostList(hosts: readonly HostInfo[] | HostSource): hosts is readonly HostInfo[] {
  return Array.isArray(hosts);
}

function noHosts(action: string): AloftError {
  return new AloftError('NO_HOSTS', `Cannot ${action} as at least one host must be up: got none (start an 'aloft agent', or wait for a down host's agent to register again)`);
}
