import { toAloftError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { isTerminal, type App, type Machine } from '../model/index.ts';
import { expandIpv6, formatIpv6 } from '../net/sixpn.ts';
import type { Change, Store } from '../store/store.ts';

/** What the view reads from the store; a subset of Store so tests and tools can pass less. */
export type DnsSource = Pick<Store, 'revision' | 'listApps' | 'listMachines' | 'watch'>;

/** A Machine as DNS needs it. */
export interface DnsMachine {
  id: string;
  appName: string;
  region: string;
  /** The 6PN address, RFC 5952 text; null while it has none. */
  ipv6: string | null;
  /** config.metadata.fly_process_group, else "app" (Fly's default group). */
  group: string;
  /** Started with an address: the only Machines DNS names. */
  started: boolean;
}

/** Who sent a query, as read from its 6PN source address. */
export interface Asker {
  org: string;
  network: number;
  /** The region of the asking Machine's host, when the view knows it. */
  region: string | undefined;
}

const DEFAULT_GROUP = 'app';

/**
 * The store as DNS sees it, kept current from the store's watch: apps by name, each
 * app's started Machines, every Machine's address (to place the asker) and which org
 * owns each 6PN network. Loaded as the proxy's route table is (revision, then lists,
 * then a watch from that revision, so nothing falls between); each change is applied
 * as it arrives, so an answer reflects a write as soon as the watch delivers it.
 */
export class DnsView {
  readonly #store: DnsSource;
  readonly #log: Logger;
  readonly #apps = new Map<string, App>();
  readonly #machines = new Map<string, DnsMachine>();
  readonly #started = new Map<string, Map<string, DnsMachine>>();
  readonly #byAddress = new Map<string, DnsMachine>();
  /** network → org slug → how many apps of that org sit on it. */
  readonly #networks = new Map<number, Map<string, number>>();
  /** 6PN host number → the region of the last Machine seen there. */
  readonly #hostRegions = new Map<number, string>();
  readonly #listeners = new Set<(change: Change) => void>();
  /** Answers of started() and asker(), kept until the next change (queries far outnumber changes). */
  readonly #sorted = new Map<string, DnsMachine[]>();
  readonly #askers = new Map<string, Asker | undefined>();
  #revision = 0;
  #unwatch: (() => void) | undefined;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(store: DnsSource, options: { log?: Logger } = {}) {
    this.#store = store;
    this.#log = options.log ?? silentLogger;
  }

  /** Loads the view and follows the store. Throws STORE_FAILED when the first load fails. */
  async start(): Promise<void> {
    try {
      await this.#sync();
    } catch (err) {
      throw toAloftError(err, 'STORE_FAILED');
    }
  }

  /** Stops following the store; the view keeps its last contents. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  /** The store revision the view reflects. */
  get revision(): number {
    return this.#revision;
  }

  /** Calls `listener` after each change is applied (tests wait on this, not on time). */
  onChange(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  app(name: string): App | undefined {
    return this.#apps.get(name);
  }

  /** The org's apps, by name. */
  appsOf(org: string): App[] {
    return [...this.#apps.values()].filter((a) => a.orgSlug === org).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** The app's started Machines with addresses, by id. Shared until the next change: do not modify it. */
  started(appName: string): DnsMachine[] {
    let sorted = this.#sorted.get(appName);
    if (sorted === undefined) {
      const held = this.#started.get(appName);
      sorted = held === undefined ? [] : [...held.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
      this.#sorted.set(appName, sorted);
    }
    return sorted;
  }

  /**
   * Who is asking, from the query's source address: the org that owns its 6PN
   * network (undefined for addresses outside fdaa::/16, unknown networks, or a network
   * two orgs claim, which would be a bug: better to answer nothing than the wrong org),
   * and the region of its Machine, else of its host.
   */
  asker(source: string): Asker | undefined {
    if (this.#askers.has(source)) return this.#askers.get(source);
    const asker = this.#placeAsker(source);
    // Bounded: a flood from many addresses must not grow it without end.
    if (this.#askers.size >= 10_000) this.#askers.clear();
    this.#askers.set(source, asker);
    return asker;
  }

  #placeAsker(source: string): Asker | undefined {
    const groups = expandIpv6(source);
    if (groups === null || groups[0] !== 0xfdaa) return undefined;
    const g = (i: number): number => groups[i] ?? 0;
    const network = g(1) * 0x10000 + g(2);
    const orgs = this.#networks.get(network);
    if (orgs === undefined || orgs.size !== 1) return undefined;
    const [org] = orgs.keys();
    if (org === undefined) return undefined;
    const machine = this.#byAddress.get(formatIpv6(groups));
    return { org, network, region: machine?.region ?? this.#hostRegions.get(g(3) * 0x10000 + g(4)) };
  }

  async #sync(): Promise<void> {
    // Revision first: anything written after it is replayed by the watch below.
    const revision = await this.#store.revision();
    const [apps, machines] = await Promise.all([this.#store.listApps(), this.#store.listMachines()]);
    if (this.#stopped) return;
    this.#forget();
    const listedApps = new Set(apps.map((a) => a.name));
    for (const name of [...this.#apps.keys()]) if (!listedApps.has(name)) this.#deleteApp(name);
    for (const app of apps) this.#putApp(app);
    const listed = new Set(machines.map((m) => m.id));
    for (const id of [...this.#machines.keys()]) if (!listed.has(id)) this.#deleteMachine(id);
    for (const machine of machines) this.#putMachine(machine);
    this.#revision = Math.max(this.#revision, revision);
    this.#unwatch = this.#store.watch((change) => this.#apply(change), {
      fromRevision: revision,
      onError: (error) => {
        this.#log.warn({ err: error }, 'dns: store watch fell behind; reloading');
        this.#unwatch = undefined;
        this.#resync();
      },
    });
  }

  #resync(): void {
    this.#sync().catch((err: unknown) => {
      // Keep answering from what we have; the store may be restarting.
      this.#log.error({ err }, 'dns: cannot reload from the store; retrying in 1 s');
      if (!this.#stopped) this.#retry = setTimeout(() => this.#resync(), 1000);
    });
  }

  #apply(change: Change): void {
    this.#forget();
    try {
      if (change.kind === 'app') {
        if (change.op === 'put') this.#putApp(change.app);
        else this.#deleteApp(change.key);
      } else if (change.kind === 'machine') {
        if (change.op === 'put') this.#putMachine(change.machine);
        else this.#deleteMachine(change.key);
      }
    } catch (err) {
      // One odd record must not stop the view following the store.
      this.#log.error({ err, revision: change.revision }, 'dns: cannot apply store change');
    }
    this.#revision = Math.max(this.#revision, change.revision);
    for (const listener of this.#listeners) listener(change);
  }

  /** Drops the cached answers: the data under them changed. */
  #forget(): void {
    this.#sorted.clear();
    this.#askers.clear();
  }

  #putApp(app: App): void {
    const previous = this.#apps.get(app.name);
    if (previous !== undefined) this.#countNetwork(previous, -1);
    this.#apps.set(app.name, app);
    this.#countNetwork(app, 1);
  }

  #deleteApp(name: string): void {
    const app = this.#apps.get(name);
    if (app === undefined) return;
    this.#countNetwork(app, -1);
    this.#apps.delete(name);
    // The store sends a delete per Machine too; this only guards against a missed one.
    for (const m of this.started(name)) this.#deleteMachine(m.id);
  }

  #countNetwork(app: App, delta: number): void {
    let orgs = this.#networks.get(app.network);
    if (orgs === undefined) this.#networks.set(app.network, (orgs = new Map()));
    const n = (orgs.get(app.orgSlug) ?? 0) + delta;
    if (n > 0) orgs.set(app.orgSlug, n);
    else orgs.delete(app.orgSlug);
    if (orgs.size === 0) this.#networks.delete(app.network);
  }

  #putMachine(machine: Machine): void {
    this.#deleteMachine(machine.id);
    if (isTerminal(machine.state)) return;
    const groups = machine.addresses === null ? null : expandIpv6(machine.addresses.ipv6);
    const ipv6 = groups === null ? null : formatIpv6(groups);
    const held: DnsMachine = {
      id: machine.id,
      appName: machine.appName,
      region: machine.region,
      ipv6,
      group: machine.config.metadata?.['fly_process_group'] || DEFAULT_GROUP,
      started: machine.state === 'started' && ipv6 !== null,
    };
    this.#machines.set(machine.id, held);
    if (groups !== null && ipv6 !== null) {
      this.#byAddress.set(ipv6, held);
      this.#hostRegions.set((groups[3] ?? 0) * 0x10000 + (groups[4] ?? 0), machine.region);
    }
    if (held.started) {
      let started = this.#started.get(machine.appName);
      if (started === undefined) this.#started.set(machine.appName, (started = new Map()));
      started.set(machine.id, held);
    }
  }

  #deleteMachine(id: string): void {
    const held = this.#machines.get(id);
    if (held === undefined) return;
    this.#machines.delete(id);
    if (held.ipv6 !== null && this.#byAddress.get(held.ipv6) === held) this.#byAddress.delete(held.ipv6);
    const started = this.#started.get(held.appName);
    if (started?.delete(id) && started.size === 0) this.#started.delete(held.appName);
  }
}
