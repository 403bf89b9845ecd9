import { systemClock, type Clock } from '../../lib/clock.ts';
import { isAloftError } from '../../lib/errors.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { Machine } from '../../model/index.ts';
import type { LoadTracker } from '../balance/load-tracker.ts';
import type { RouteEntry } from '../route-entry.ts';
import type { RouteTable } from '../route-table.ts';
import { isBusy } from './busy.ts';
import { writeStopIntent, type AutoscaleStore } from './intents.ts';
import { autoscaleOf, type AutoscaleSettings } from './settings.ts';

type Timer = ReturnType<Clock['setTimeout']>;

export interface AutostopOptions {
  store: AutoscaleStore;
  table: RouteTable;
  loads: LoadTracker;
  /** Closes the proxy's pooled connections to a Machine's origin. */
  closeOrigin: (origin: string) => Promise<void>;
  /** How often each app and region is looked at; also how long a Machine must be idle. Default 5 min. */
  intervalMs?: number | undefined;
  /** How long a drained Machine's requests in flight may take to finish. Default 10 s. */
  drainMs?: number | undefined;
  clock?: Clock;
  log?: Logger;
}

/** What one autostop pass did to one Machine (for logs and tests). */
export interface AutostopEvent {
  machineId: string;
  app: string;
  region: string;
  /** `stop`/`suspend`: the intent was written; `busy`: it said so; `kept`: a request came while draining. */
  action: 'stop' | 'suspend' | 'busy' | 'kept';
}

/**
 * Fly's autostop, per app and region, every `intervalMs`: with more than one Machine
 * running, excess = running − (Machines at or over soft_limit + 1); with one, excess is
 * 1 when it has no load. When excess ≥ 1 and more than `min_machines_running` would
 * stay (aloft counts that per region: see settings.ts), one Machine with autostop on,
 * no load and no request for an interval is chosen. It may say it is busy
 * (settings.ts's busy endpoint); otherwise it is drained — taken out of the route
 * table, its requests in flight let finish (bounded), the proxy's pooled connections
 * to it closed so a runtime checkpoint sees quiet sockets — and its stop or suspend
 * intent is written to the store with an event from the proxy; the agent does the rest.
 */
export class Autostopper {
  readonly #o: AutostopOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly intervalMs: number;
  readonly #drainMs: number;
  /** When each Machine last had a request end (or a client connection close). */
  readonly #lastActive = new Map<string, number>();
  readonly #listeners = new Set<(event: AutostopEvent) => void>();
  readonly #offRelease: () => void;
  #timer: Timer | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(options: AutostopOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
    this.intervalMs = options.intervalMs ?? 300_000;
    this.#drainMs = options.drainMs ?? 10_000;
    this.#offRelease = options.loads.onRelease((entry) => this.#lastActive.set(entry.machineId, this.#clock.now()));
  }

  /** Runs a pass every interval until `close`. */
  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const schedule = (): void => {
      this.#timer = this.#clock.setTimeout(() => {
        this.#running = this.runOnce()
          .catch((err: unknown) => this.#log.error({ err }, 'proxy: autostop pass failed'))
          .finally(() => {
            this.#running = undefined;
            if (!this.#closed) schedule();
          });
      }, this.intervalMs);
    };
    schedule();
  }

  /** Calls `listener` for each Machine a pass acted on. Returns the unsubscribe. */
  onEvent(listener: (event: AutostopEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** One pass over every app and region: at most one Machine stopped or suspended per group. */
  async runOnce(): Promise<void> {
    const machines = await this.#o.store.listMachines({});
    const groups = new Map<string, Machine[]>();
    for (const m of machines) {
      if (m.state !== 'started') continue;
      const key = `${m.appName}\u0000${m.region}`;
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [m]);
      else group.push(m);
    }
    // Groups are independent; each is small. One at a time keeps the store calm.
    for (const group of groups.values()) {
      if (this.#closed) return;
      await this.#pass(group);
    }
  }

  async #pass(group: readonly Machine[]): Promise<void> {
    const { table, loads } = this.#o;
    // Only what the table routes counts as running (a draining or unhealthy one does not take load).
    const running = group
      .map((m) => ({ m, entry: table.entry(m.id), settings: autoscaleOf(m.config) }))
      .filter((r): r is { m: Machine; entry: RouteEntry; settings: AutoscaleSettings } => r.entry !== undefined);
    if (running.length === 0) return;
    const overSoft = running.filter((r) => loads.load(r.entry) >= r.entry.concurrency.softLimit).length;
    const excess = running.length === 1 ? (loads.load(running[0]!.entry) === 0 ? 1 : 0) : running.length - (overSoft + 1);
    if (excess < 1) return;
    const min = Math.max(...running.map((r) => r.settings.minMachinesRunning));
    if (running.length - 1 < min) return;
    const now = this.#clock.now();
    const idle = running.filter(
      (r) =>
        r.settings.autostop !== 'off' &&
        loads.requests(r.m.id) === 0 &&
        loads.load(r.entry) === 0 &&
        now - Math.max(r.entry.startedAt, this.#lastActive.get(r.m.id) ?? 0) >= this.intervalMs,
    );
    for (const candidate of idle) {
      const { m, entry, settings } = candidate;
      if (settings.busyPath !== undefined && (await isBusy(entry, settings.busyPath))) {
        this.#emit({ machineId: m.id, app: m.appName, region: m.region, action: 'busy' });
        continue;
      }
      await this.#drainAndStop(m, entry, settings.autostop === 'suspend' ? 'suspend' : 'stop');
      return;
    }
  }

  async #drainAndStop(m: Machine, entry: RouteEntry, how: 'stop' | 'suspend'): Promise<void> {
    const { table, loads, store, closeOrigin } = this.#o;
    table.drain(m.id);
    let stopped = false;
    try {
      const quiet = await this.#waitIdle(m.id);
      if (!quiet) {
        this.#emit({ machineId: m.id, app: m.appName, region: m.region, action: 'kept' });
        return;
      }
      await closeOrigin(entry.origin);
      // A request may have been chosen just before the drain: it would show as load.
      if (loads.requests(m.id) > 0) {
        this.#emit({ machineId: m.id, app: m.appName, region: m.region, action: 'kept' });
        return;
      }
      try {
        await writeStopIntent(store, m.id, how);
        stopped = true;
      } catch (err) {
        // The user or the agent moved it meanwhile: nothing to do.
        if (!isAloftError(err, 'ILLEGAL_TRANSITION') && !isAloftError(err, 'STORE_CONFLICT')) throw err;
        return;
      }
      this.#lastActive.delete(m.id);
      this.#log.info({ app: m.appName, machine: m.id, region: m.region, how }, 'proxy: autostop');
      this.#emit({ machineId: m.id, app: m.appName, region: m.region, action: how });
    } finally {
      // A stopped Machine leaves `started`, which ends its drain in the table by itself.
      if (!stopped) table.undrain(m.id);
    }
  }

  /** Resolves true once the Machine has no request in flight, false if the drain time ran out. */
  #waitIdle(machineId: string): Promise<boolean> {
    const { loads } = this.#o;
    if (loads.requests(machineId) === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const off = loads.onRelease((entry) => {
        if (entry.machineId !== machineId || loads.requests(machineId) > 0) return;
        off();
        timer.cancel();
        resolve(true);
      });
      const timer = this.#clock.setTimeout(() => {
        off();
        resolve(false);
      }, this.#drainMs);
    });
  }

  #emit(event: AutostopEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  /** Stops the passes; waits for one in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#offRelease();
    await this.#running;
  }
}
