import { systemClock, type Clock } from '../../lib/clock.ts';
import { isAloftError } from '../../lib/errors.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { Machine } from '../../model/index.ts';
import { rttBetween, type RegionRttTable } from '../balance/region-rtt.ts';
import type { LoadTracker } from '../balance/load-tracker.ts';
import type { AppRoutes, RouteTable } from '../route-table.ts';
import { AUTOSTARTABLE, writeStartIntent, type AutoscaleStore } from './intents.ts';
import { autoscaleOf } from './settings.ts';

/** How a request's wait for an autostarted Machine ended. */
export type AutostartResult =
  | { readonly outcome: 'routable'; readonly machineId: string }
  | { readonly outcome: 'none' }
  | { readonly outcome: 'failed'; readonly machineId: string; readonly reason: string };

export interface AutostartOptions {
  store: AutoscaleStore;
  table: RouteTable;
  loads: LoadTracker;
  /** The edge's region: Machines nearest it are started first. */
  region: string;
  rtt?: RegionRttTable | undefined;
  /** How long a request waits for the Machine it started to be routable. Default 30 s. */
  waitMs?: number | undefined;
  clock?: Clock;
  log?: Logger;
}

/**
 * Fly's autostart: when an app has no routable Machine, or all of them are at or over
 * their soft_limit, the proxy starts one of its stopped or suspended Machines whose
 * service has `autostart` (nearest region first, a suspended one before a stopped one
 * in the same region since it resumes faster) by writing the start intent to the store,
 * as the API would. Starts are single-flight: a burst of requests for an app shares one
 * start and one wait; the wait ends when the route table says the Machine is routable
 * (started and healthy), when it lands anywhere else (failed, stopped), or at `waitMs`.
 */
export class Autostarter {
  readonly #o: AutostartOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly waitMs: number;
  /** The start in progress per app: every request that needs one shares it. */
  readonly #inflight = new Map<string, Promise<AutostartResult>>();

  constructor(options: AutostartOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
    this.waitMs = options.waitMs ?? 30_000;
  }

  /**
   * Starts a Machine of `app` (or joins the start in progress) and resolves once it is
   * routable, or with why not. `none`: the app has nothing the proxy may start.
   */
  startFor(app: string): Promise<AutostartResult> {
    let flight = this.#inflight.get(app);
    if (flight === undefined) {
      flight = this.#start(app).finally(() => this.#inflight.delete(app));
      this.#inflight.set(app, flight);
    }
    return flight;
  }

  /**
   * Whether every routable Machine of the app is at or over its soft limit: then one
   * more Machine is started in the background (the request itself still goes to a
   * running one; requests at hard_limit wait in the queue, woken when it is routable).
   */
  scaleUpIfSaturated(app: string, routes: AppRoutes): void {
    if (this.#inflight.has(app) || routes.starting > 0 || routes.started.length === 0) return;
    const { loads } = this.#o;
    if (!routes.started.every((e) => loads.load(e) >= e.concurrency.softLimit)) return;
    void this.startFor(app).then((result) => {
      if (result.outcome === 'failed') this.#log.warn({ app, ...result }, 'proxy: autostart for load failed');
    });
  }

  /**
   * Whether a request at this edge should wake a Machine in the edge's own region
   * rather than cross to another: none of the app's routable Machines is here, and a
   * stopped or suspended one with autostart is. A wait of a start (hundreds of ms, once)
   * beats every later request crossing an ocean (Fly routes to the far running one).
   */
  wakesLocal(routes: AppRoutes): boolean {
    const { region } = this.#o;
    return routes.wakeable.includes(region) && !routes.started.some((e) => e.region === region);
  }

  async #start(app: string): Promise<AutostartResult> {
    const deadline = this.#clock.now() + this.waitMs;
    let result = await this.#startOne(app, deadline);
    // Only Machines on their way down (autostop's, or a user's stop): start one once it is down.
    while (result.outcome === 'stopping') {
      if (!(await this.#waitDown(result.machineId, deadline))) {
        return { outcome: 'failed', machineId: result.machineId, reason: `it was still stopping after ${this.waitMs} ms` };
      }
      result = await this.#startOne(app, deadline);
    }
    return result;
  }

  async #startOne(app: string, deadline: number): Promise<AutostartResult | { outcome: 'stopping'; machineId: string }> {
    const { store } = this.#o;
    const machines = await store.listMachines({ appName: app });
    // A Machine already starting (the API's, or ours from an earlier burst) is awaited, not doubled.
    const starting = machines.find((m) => m.state === 'starting' && autoscaleOf(m.config).autostart);
    if (starting !== undefined) return this.#waitRoutable(starting.id, deadline);
    for (const machine of this.#candidates(machines)) {
      try {
        await writeStartIntent(store, machine);
      } catch (err) {
        // Someone else moved it first (a user's stop, another start): try the next one.
        if (isAloftError(err, 'ILLEGAL_TRANSITION') || isAloftError(err, 'STORE_CONFLICT')) continue;
        throw err;
      }
      this.#log.info({ app, machine: machine.id, from: machine.state }, 'proxy: autostart');
      return this.#waitRoutable(machine.id, deadline);
    }
    const going = machines.find((m) => (m.state === 'stopping' || m.state === 'suspending') && autoscaleOf(m.config).autostart);
    return going === undefined ? { outcome: 'none' } : { outcome: 'stopping', machineId: going.id };
  }

  /** Resolves true once the table sees `machineId` stopped or suspended, false at the deadline (or if it went away). */
  #waitDown(machineId: string, deadline: number): Promise<boolean> {
    const { table } = this.#o;
    return new Promise((resolve) => {
      const check = (): void => {
        const state = table.stateOf(machineId);
        if (state === 'stopping' || state === 'suspending') return;
        off();
        timer.cancel();
        resolve(state === 'stopped' || state === 'suspended');
      };
      const off = table.onChange(check);
      const timer = this.#clock.setTimeout(() => {
        off();
        resolve(false);
      }, Math.max(0, deadline - this.#clock.now()));
      check();
    });
  }

  /** Startable Machines with autostart, nearest region first, suspended before stopped. */
  #candidates(machines: readonly Machine[]): Machine[] {
    const { region, rtt = {} } = this.#o;
    return machines
      .filter((m) => AUTOSTARTABLE.includes(m.state) && autoscaleOf(m.config).autostart)
      .map((m) => ({ m, d: rttBetween(rtt, region, m.region), s: m.state === 'suspended' ? 0 : 1, r: Math.random() }))
      .sort((a, b) => a.d - b.d || a.s - b.s || a.r - b.r)
      .map((c) => c.m);
  }

  /** Resolves when the table routes `machineId`, or it lands elsewhere, or the wait is over. */
  #waitRoutable(machineId: string, deadline: number): Promise<AutostartResult> {
    const { table } = this.#o;
    return new Promise((resolve) => {
      let seenStarting = false;
      const check = (): boolean => {
        if (table.entry(machineId) !== undefined) return finish({ outcome: 'routable', machineId });
        const state = table.stateOf(machineId);
        if (state === 'starting' || state === 'started') seenStarting = true;
        // `started` but not routable yet: health checks pending. Anything else after
        // starting means the start failed (failed, stopped, destroyed).
        if (seenStarting && state !== 'starting' && state !== 'started') {
          return finish({ outcome: 'failed', machineId, reason: `it went ${state ?? 'away'} instead of started` });
        }
        return false;
      };
      const finish = (result: AutostartResult): true => {
        off();
        timer.cancel();
        resolve(result);
        return true;
      };
      const off = table.onChange(() => void check());
      const timer = this.#clock.setTimeout(
        () => finish({ outcome: 'failed', machineId, reason: `it was not started and healthy within ${this.waitMs} ms` }),
        Math.max(0, deadline - this.#clock.now()),
      );
      check();
    });
  }
}
