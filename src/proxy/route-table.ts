import { isTerminal, type Machine, type MachineState } from '../model/index.ts';
import type { Change, Store } from '../store/store.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import { toAloftError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { HealthChecker } from './health/health-checker.ts';
import { toRouteEntry, type DialFamily, type RouteEntry } from './route-entry.ts';
import { servicePortsOf, type ServicePort } from './listeners/service-ports.ts';
import { AUTOSTARTABLE } from './autoscale/intents.ts';
import { autoscaleOf } from './autoscale/settings.ts';

/** Where an app's traffic can go right now. */
export interface AppRoutes {
  /**
   * Routable Machines: `started`, not cordoned, with an address and an HTTP service
   * port, and passing their health checks.
   */
  readonly started: readonly RouteEntry[];
  /** Machines in `starting`: traffic will have somewhere to go soon. */
  readonly starting: number;
  /** Started Machines left out of `started` because their health checks are failing. */
  readonly unhealthy: number;
  /**
   * Regions holding a stopped or suspended Machine of the app that the proxy may start
   * (`autostart`): where a request can wake one nearby instead of crossing to a far region.
   */
  readonly wakeable: readonly string[];
}

/** The answer to "where does app X's traffic go?". Unknown apps are a 404, not a 503. */
export type RouteLookup = { readonly known: false } | ({ readonly known: true } & AppRoutes);

/** The store surface the table reads; a subset of Store so fakes stay small. */
export type RouteSource = Pick<Store, 'revision' | 'listApps' | 'listMachines' | 'watch'>;

interface Held {
  appName: string;
  state: MachineState;
  /** Set while the Machine is `started`: when the table saw it become so. */
  startedAt: number;
  entry: RouteEntry | undefined;
  /** Its services' edge ports, whatever its state (raw TCP listeners follow these). */
  ports: readonly ServicePort[];
  region: string;
  /** Its HTTP service has `autostart`: the proxy may start it. */
  autostart: boolean;
}

type KnownRoutes = { readonly known: true } & AppRoutes;
const NO_ROUTES: KnownRoutes = Object.freeze({ known: true, started: Object.freeze([]), starting: 0, unhealthy: 0, wakeable: Object.freeze([]) });
const UNKNOWN: RouteLookup = Object.freeze({ known: false });

/**
 * The routing table: which Machines of which apps can take traffic. Loaded once from
 * the store (revision first, then the lists, then a watch from that revision, so no
 * change falls between), then kept current by applying each Change as it arrives —
 * no polling and no reload, so a Machine is routable the moment its `started` change
 * lands and gone the moment it leaves `started`.
 */
export class RouteTable {
  readonly #store: RouteSource;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #health: HealthChecker | undefined;
  readonly #dial: DialFamily;
  readonly #listeners = new Set<(appName: string) => void>();
  readonly #apps = new Set<string>();
  readonly #machines = new Map<string, Held>();
  readonly #byApp = new Map<string, Set<string>>();
  /** Per-app answers, rebuilt only for the app a change touches. */
  readonly #routes = new Map<string, KnownRoutes>();
  /** Machines being drained by autostop: still started, but given nothing new. */
  readonly #draining = new Set<string>();
  #revision = 0;
  #waiters: { revision: number; resolve: () => void }[] = [];
  #starting: Promise<void> | undefined;
  #unwatch: (() => void) | undefined;
  #stopped = false;

  /**
   * `health`, when given, checks each routable Machine: the table tells it which
   * Machines to track and leaves failing ones out of `started` until they pass.
   * `dial` is the address family every entry is dialled by (default `ipv4`, see DialFamily).
   */
  constructor(store: RouteSource, options: { clock?: Clock; log?: Logger; health?: HealthChecker; dial?: DialFamily } = {}) {
    this.#store = store;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
    this.#health = options.health;
    this.#dial = options.dial ?? 'ipv4';
    this.#health?.onChange((machineId) => {
      const held = this.#machines.get(machineId);
      if (held !== undefined) this.#rebuild(held.appName);
    });
  }

  /**
   * Calls `listener` with an app's name each time its routes were rebuilt (a Machine
   * came, went, changed or turned healthy or not). Returns the unsubscribe.
   */
  onChange(listener: (appName: string) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Resolves once Machine `machineId` is routable (started, healthy); at once if it is. */
  whenRoutable(machineId: string): Promise<void> {
    if (this.#routable(machineId)) return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.onChange(() => {
        if (!this.#routable(machineId)) return;
        off();
        resolve();
      });
    });
  }

  #routable(machineId: string): boolean {
    const held = this.#machines.get(machineId);
    return held !== undefined && (this.#routes.get(held.appName)?.started.some((e) => e.machineId === machineId) ?? false);
  }

  /**
   * Takes Machine `machineId` out of `started` while it stays started in the store, so
   * it gets no new requests (autostop drains it before stopping it). Until `undrain`.
   */
  drain(machineId: string): void {
    if (this.#draining.has(machineId)) return;
    this.#draining.add(machineId);
    const held = this.#machines.get(machineId);
    if (held !== undefined) this.#rebuild(held.appName);
  }

  /** Gives a drained Machine traffic again (when it was not stopped after all). */
  undrain(machineId: string): void {
    if (!this.#draining.delete(machineId)) return;
    const held = this.#machines.get(machineId);
    if (held !== undefined) this.#rebuild(held.appName);
  }

  /** Whether Machine `machineId` is being drained. */
  isDraining(machineId: string): boolean {
    return this.#draining.size > 0 && this.#draining.has(machineId);
  }

  /** The state the table last saw Machine `machineId` in; undefined once gone (or never seen). */
  stateOf(machineId: string): MachineState | undefined {
    return this.#machines.get(machineId)?.state;
  }

  /** Loads the table and starts following the store. Safe to call more than once. */
  start(): Promise<void> {
    this.#starting ??= this.#load();
    return this.#starting;
  }

  /** Stops following the store. The table keeps its last contents. */
  stop(): void {
    this.#stopped = true;
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  /** The store revision the table reflects. */
  get revision(): number {
    return this.#revision;
  }

  /** Resolves once the table has applied every change up to `revision`. */
  whenRevision(revision: number): Promise<void> {
    if (this.#revision >= revision) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ revision, resolve }));
  }

  /** Where app `appName`'s traffic can go. Names are matched exactly (lowercase). */
  lookup(appName: string): RouteLookup {
    return this.#routes.get(appName) ?? (this.#apps.has(appName) ? NO_ROUTES : UNKNOWN);
  }

  /** The entry of one Machine if it is routable now (started and healthy). */
  /** Apps with Machines the table holds. */
  appNames(): string[] {
    return [...this.#byApp.keys()];
  }

  /**
   * The edge ports any of the app's Machines declares (whatever their state: a stopped
   * Machine's port stays served, so a later autostart has a listener to wake it through).
   */
  servicePorts(appName: string): ServicePort[] {
    const out: ServicePort[] = [];
    for (const id of this.#byApp.get(appName) ?? []) out.push(...(this.#machines.get(id)?.ports ?? []));
    return out;
  }

  entry(machineId: string): RouteEntry | undefined {
    const held = this.#machines.get(machineId);
    if (held?.state !== 'started' || held.entry === undefined || this.isDraining(machineId)) return undefined;
    return this.#health?.isHealthy(machineId) === false ? undefined : held.entry;
  }

  async #load(): Promise<void> {
    try {
      await this.#sync();
    } catch (err) {
      this.#starting = undefined;
      throw toAloftError(err, 'STORE_FAILED');
    }
  }

  /**
   * Makes the table match the store, then follows it. Also how the table recovers
   * when its watch fell behind what the change log keeps: it reconciles in place, so
   * requests keep being routed on the old contents meanwhile.
   */
  async #sync(): Promise<void> {
    // Revision first: anything written after it is replayed by the watch below.
    const revision = await this.#store.revision();
    const [apps, machines] = await Promise.all([this.#store.listApps(), this.#store.listMachines()]);
    if (this.#stopped) return;
    const listedApps = new Set(apps.map((app) => app.name));
    for (const name of [...this.#apps]) if (!listedApps.has(name)) this.#deleteApp(name);
    for (const name of listedApps) this.#apps.add(name);
    const listed = new Set(machines.map((m) => m.id));
    for (const id of [...this.#machines.keys()]) if (!listed.has(id)) this.#deleteMachine(id);
    const now = this.#clock.now();
    // Machines already started count from their last write, so a proxy that boots
    // right after a start still gives them the just-started grace.
    for (const machine of machines) this.#putMachine(machine, Math.min(now, machine.updatedAt));
    this.#advance(revision);
    this.#unwatch = this.#store.watch((change) => this.#apply(change), {
      fromRevision: revision,
      onError: (error) => {
        this.#log.warn({ err: error }, 'proxy: route watch fell behind; reloading routes');
        this.#unwatch = undefined;
        this.#sync().catch((err: unknown) => this.#resyncFailed(err));
      },
    });
  }

  #resyncFailed(err: unknown): void {
    // Keep routing on what we have and try again shortly; the store may be restarting.
    this.#log.error({ err }, 'proxy: cannot reload routes from the store; retrying');
    this.#clock.setTimeout(() => {
      if (!this.#stopped) this.#sync().catch((e: unknown) => this.#resyncFailed(e));
    }, 1000);
  }

  #apply(change: Change): void {
    try {
      if (change.kind === 'app') {
        if (change.op === 'put') this.#apps.add(change.app.name);
        else this.#deleteApp(change.key);
      } else if (change.kind !== 'machine') {
        // Volumes do not route traffic.
      } else if (change.op === 'put') {
        this.#putMachine(change.machine, this.#clock.now());
      } else {
        this.#deleteMachine(change.key);
      }
    } catch (err) {
      // One bad record must not stop the table following the store.
      this.#log.error({ err, revision: change.revision }, 'proxy: cannot apply store change');
    }
    this.#advance(change.revision);
  }

  #putMachine(machine: Machine, now: number): void {
    if (isTerminal(machine.state)) {
      this.#deleteMachine(machine.id);
      return;
    }
    const previous = this.#machines.get(machine.id);
    const started = machine.state === 'started';
    // A drain lasts while the Machine is started: once it stops (or restarts) it is over.
    if (!started) this.#draining.delete(machine.id);
    const startedAt = started ? (previous?.state === 'started' ? previous.startedAt : now) : 0;
    // A cordoned Machine keeps running but gets no new traffic (Fly's cordon).
    const entry = started && machine.cordoned !== true ? toRouteEntry(machine, startedAt, this.#dial) : undefined;
    const ports = entry?.services ?? servicePortsOf(machine.config);
    this.#machines.set(machine.id, { appName: machine.appName, state: machine.state, startedAt, entry, ports, region: machine.region, autostart: autoscaleOf(machine.config).autostart });
    // Checks run only while the Machine could take traffic: `stopping` stops them.
    if (entry !== undefined) this.#health?.track(entry);
    else this.#health?.untrack(machine.id);
    let ids = this.#byApp.get(machine.appName);
    if (ids === undefined) this.#byApp.set(machine.appName, (ids = new Set()));
    ids.add(machine.id);
    this.#rebuild(machine.appName);
  }

  #deleteMachine(id: string): void {
    const held = this.#machines.get(id);
    if (held === undefined) return;
    this.#machines.delete(id);
    this.#draining.delete(id);
    this.#health?.untrack(id);
    this.#byApp.get(held.appName)?.delete(id);
    this.#rebuild(held.appName);
  }

  #deleteApp(name: string): void {
    this.#apps.delete(name);
    // The store deletes an app's machines with it; do not wait for their changes.
    for (const id of this.#byApp.get(name) ?? []) {
      this.#machines.delete(id);
      this.#health?.untrack(id);
    }
    this.#byApp.delete(name);
    this.#routes.delete(name);
    this.#changed(name);
  }

  #rebuild(appName: string): void {
    const ids = this.#byApp.get(appName);
    if (ids === undefined || ids.size === 0) {
      this.#byApp.delete(appName);
      this.#routes.delete(appName);
      this.#changed(appName);
      return;
    }
    const started: RouteEntry[] = [];
    let starting = 0;
    let unhealthy = 0;
    const wakeable = new Set<string>();
    for (const id of ids) {
      const held = this.#machines.get(id);
      if (held !== undefined && held.autostart && AUTOSTARTABLE.includes(held.state)) wakeable.add(held.region);
      if (held?.state === 'started' && held.entry !== undefined) {
        // A draining Machine is neither routable nor unhealthy: it is on its way out.
        if (this.#draining.has(id)) continue;
        if (this.#health?.isHealthy(id) === false) unhealthy += 1;
        else started.push(held.entry);
      } else if (held?.state === 'starting') starting += 1;
    }
    // Machines of an app the table has not seen created still make it known.
    this.#apps.add(appName);
    this.#routes.set(appName, Object.freeze({ known: true, started: Object.freeze(started), starting, unhealthy, wakeable: Object.freeze([...wakeable]) }));
    this.#changed(appName);
  }

  #changed(appName: string): void {
    for (const listener of this.#listeners) {
      try {
        listener(appName);
      } catch (err) {
        this.#log.error({ err, app: appName }, 'proxy: route change listener failed');
      }
    }
  }

  #advance(revision: number): void {
    if (revision <= this.#revision) return;
    this.#revision = revision;
    if (this.#waiters.length === 0) return;
    const due = this.#waiters.filter((w) => w.revision <= revision);
    this.#waiters = this.#waiters.filter((w) => w.revision > revision);
    for (const waiter of due) waiter.resolve();
  }
}
