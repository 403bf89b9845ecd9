import { AloftError } from '../lib/errors.ts';

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
 * platform has one); cluster mode will read registered hosts from the store and weigh
 * capacity, GPU kind and volume locality.
 */
export class Scheduler {
  readonly #hosts: readonly HostInfo[];

  constructor(hosts: readonly HostInfo[]) {
    if (hosts.length === 0) throw new AloftError('INTERNAL', 'Cannot build a scheduler with no hosts');
    this.#hosts = hosts;
  }

  hosts(): readonly HostInfo[] {
    return this.#hosts;
  }

  /** Picks a host in `region` (any region when not given). */
  place(request: { region?: string | undefined }): HostInfo {
    const candidates = request.region === undefined ? this.#hosts : this.#hosts.filter((h) => h.region === request.region);
    const host = candidates[Math.floor(Math.random() * candidates.length)];
    if (!host) {
      const regions = [...new Set(this.#hosts.map((h) => h.region))].join(', ');
      throw new AloftError('INVALID_ARGUMENT', `Cannot place machine as 'region' must be one of this platform's regions (${regions}): got "${request.region ?? ''}"`, {
        details: { field: 'region' },
      });
    }
    return host;
  }

  host(id: string): HostInfo | undefined {
    return this.#hosts.find((h) => h.id === id);
  }
}
