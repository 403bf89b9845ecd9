import { silentLogger, type Logger } from '../lib/log.ts';
import type { HostCapacity, HostInfo, HostSource } from '../scheduler/index.ts';
import { hostRole, type HostRecord } from '../store/host-store.ts';
import type { Store } from '../store/store.ts';

/** The scheduler's view of a registered host. */
export function hostInfoOf(record: HostRecord): HostInfo {
  return { id: record.id, region: record.region, number: record.number, ipv4Subnet: record.ipv4Subnet, drivers: record.drivers };
}

/**
 * The host registry, followed live from the store's watch: the scheduler's HostSource
 * in cluster mode (hosts() is the hosts that are up now, edges left out) and, through `capacity`, the
 * totals each agent registered. Heartbeats are not published, so a record's
 * `heartbeatAt` here may be old; the HostMonitor reads the store for those.
 */
export class HostDirectory implements HostSource {
  readonly #store: Store;
  readonly #log: Logger;
  readonly #records = new Map<string, HostRecord>();
  #up: HostInfo[] = [];
  #unwatch: (() => void) | undefined;

  constructor(store: Store, options: { log?: Logger } = {}) {
    this.#store = store;
    this.#log = (options.log ?? silentLogger).child({ part: 'host-directory' });
  }

  /** Lists the registry, then follows it from the revision read before the list. */
  async start(): Promise<void> {
    const revision = await this.#store.revision();
    this.#records.clear();
    for (const record of await this.#store.listHosts()) this.#records.set(record.id, record);
    this.#refresh();
    this.#unwatch = this.#store.watch(
      (change) => {
        if (change.kind !== 'host') return;
        if (change.op === 'put') this.#records.set(change.key, change.host);
        else this.#records.delete(change.key);
        this.#refresh();
      },
      {
        fromRevision: revision,
        onError: (err) => {
          // Fell behind the change log: list again rather than keep a stale view.
          this.#log.warn({ err }, 'host registry watch lost; listing again');
          this.stop();
          void this.start().catch((e: unknown) => this.#log.error({ err: e }, 'host registry: listing again failed'));
        },
      },
    );
  }

  stop(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  hosts(): readonly HostInfo[] {
    return this.#up;
  }

  /** A host by id, up or down; never an edge (nothing may be placed on one). */
  host(id: string): HostInfo | undefined {
    const record = this.#records.get(id);
    return record && hostRole(record) === 'host' ? hostInfoOf(record) : undefined;
  }

  /** The registered record, as last published. */
  record(id: string): HostRecord | undefined {
    return this.#records.get(id);
  }

  /** Placement's measure of each host: what its agent registered. */
  get capacity(): HostCapacity {
    return {
      totals: (host) => {
        const c = this.#records.get(host.id)?.capacity;
        if (c === undefined) return Promise.resolve({ resources: { cpus: 0, memoryMb: 0, diskGb: 0, gpus: 0 } });
        return Promise.resolve({
          resources: { cpus: c.cpus, memoryMb: c.memoryMb, diskGb: c.diskGb, gpus: c.gpus.length },
          ...(c.diskAvailableGb === undefined ? {} : { diskAvailableGb: c.diskAvailableGb }),
        });
      },
    };
  }

  #refresh(): void {
    // Edges (aloft proxy on the mesh) are in the registry to peer, never to take Machines.
    this.#up = [...this.#records.values()].filter((r) => r.status === 'up' && hostRole(r) === 'host').sort((a, b) => a.id.localeCompare(b.id)).map(hostInfoOf);
  }
}
