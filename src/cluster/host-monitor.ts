import { systemClock, type Clock } from '../lib/clock.ts';
import { invalidField, isAloftError } from '../lib/errors.ts';
import { shortId } from '../lib/ids.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { RegionRttTable } from '../proxy/balance/region-rtt.ts';
import type { Scheduler } from '../scheduler/index.ts';
import type { HostRecord } from '../store/host-store.ts';
import type { Store } from '../store/store.ts';
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from './host-heartbeat.ts';
import { replaceHostMachines, type ReplaceOutcome } from './replace-machines.ts';

/** The role one API process at a time holds to act as the monitor. */
export const HOST_MONITOR_ROLE = 'host-monitor';

export interface HostMonitorOptions {
  store: Store;
  scheduler: Scheduler;
  /** The agents' heartbeat interval. Default 2 s. */
  heartbeatIntervalMs?: number;
  /** How many intervals without a beat mark a host down. Default 3. */
  missedHeartbeats?: number;
  /** How often the monitor looks. Default: the heartbeat interval. */
  checkIntervalMs?: number;
  /** Region RTTs, for re-placing where the Machine's own region has no room. */
  rtt?: RegionRttTable;
  /** This process's name in the role lease. Default: a random one. */
  holder?: string;
  clock?: Clock;
  log?: Logger;
}

/** What one sweep did. */
export interface SweepResult {
  /** False when another process holds the monitor's role (then nothing was done). */
  acting: boolean;
  markedDown: string[];
  outcomes: ReplaceOutcome[];
}

/**
 * Watches the host registry from an API process. Each sweep it claims the monitor's
 * role (a lease in the store, so of several API processes only one acts; another takes
 * over once the holder stops renewing), marks down every up host whose last heartbeat is
 * older than `missedHeartbeats` intervals (compare-and-set on that heartbeat, so a beat
 * that lands meanwhile wins), and re-places the eligible Machines of every down host
 * (replace-machines.ts). Sweeping down hosts each time, not only at the moment they go
 * down, finishes work a crashed monitor left half-done.
 */
export class HostMonitor {
  readonly #o: HostMonitorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #holder: string;
  readonly #downAfterMs: number;
  readonly #checkMs: number;
  #timer: { cancel(): void } | undefined;
  #stopped = false;
  #sweeping: Promise<unknown> = Promise.resolve();
  /** When this monitor's last claim of the role (a store write) that came back within a sweep began. */
  #lastPromptClaimAt: number | undefined;

  constructor(options: HostMonitorOptions) {
    const interval = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    const missed = options.missedHeartbeats ?? 3;
    if (!Number.isInteger(interval) || interval < 1) throw invalidField('start the host monitor', 'heartbeatIntervalMs', 'a positive integer of ms', interval);
    if (!Number.isInteger(missed) || missed < 1) throw invalidField('start the host monitor', 'missedHeartbeats', 'a positive integer', missed);
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.log ?? silentLogger).child({ part: 'host-monitor' });
    this.#holder = options.holder ?? `monitor-${shortId(6)}`;
    this.#downAfterMs = interval * missed;
    this.#checkMs = options.checkIntervalMs ?? interval;
  }

  get holder(): string {
    return this.#holder;
  }

  start(): void {
    this.#schedule();
  }

  /** Stops sweeping and gives the role up, so another API process takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    await this.#sweeping.catch(() => undefined);
    await this.#o.store.releaseRole(HOST_MONITOR_ROLE, this.#holder).catch((err: unknown) => this.#log.warn({ err }, 'releasing the monitor role failed'));
  }

  /** One sweep now (what the timer runs); sweeps never overlap. */
  sweep(): Promise<SweepResult> {
    const run = this.#sweeping.catch(() => undefined).then(() => this.#sweepOnce());
    this.#sweeping = run;
    return run;
  }

  async #sweepOnce(): Promise<SweepResult> {
    const { store } = this.#o;
    const now = this.#clock.now();
    // The lease outlives a few sweeps, so one slow sweep does not hand the role over.
    const lease = await store.claimRole({ role: HOST_MONITOR_ROLE, holder: this.#holder, ttlMs: this.#checkMs * 3, now });
    if (!lease) return { acting: false, markedDown: [], outcomes: [] };
    // Heartbeats are writes: while the store could not take them (an etcd election, a
    // partition from its quorum) no host could beat, and that silence is nobody's fault.
    // Silence is measured up to the last moment the store is known to have taken writes
    // promptly: now, when this monitor's own claim (a write) came back within a sweep;
    // after a slow claim, only the freshest beat of any up host or edge, or the last
    // prompt claim. A stalled store then marks nobody down, while a host that died
    // amid hosts still beating (a slow call to a dead etcd member) is still found.
    const claimedPromptly = this.#clock.now() - now <= this.#checkMs;
    const up = await store.listHosts({ status: 'up' });
    const tookWritesAt = claimedPromptly ? now : Math.min(now, Math.max(this.#lastPromptClaimAt ?? -Infinity, ...up.map((h) => h.heartbeatAt)));
    if (claimedPromptly) this.#lastPromptClaimAt = now;
    const markedDown: string[] = [];
    for (const host of up) {
      const silentMs = tookWritesAt - host.heartbeatAt;
      if (silentMs <= this.#downAfterMs) continue;
      if (await this.#markDown(host, silentMs)) markedDown.push(host.id);
    }
    const outcomes: ReplaceOutcome[] = [];
    const deps = { store, scheduler: this.#o.scheduler, rtt: this.#o.rtt ?? {}, now: () => this.#clock.now(), log: this.#log };
    // Edges run no Machines: marked down (their peers drop them) but nothing is re-placed for them.
    for (const host of await store.listHosts({ status: 'down', role: 'host' })) outcomes.push(...(await replaceHostMachines(deps, host)));
    return { acting: true, markedDown, outcomes };
  }

  async #markDown(host: HostRecord, silentMs: number): Promise<boolean> {
    const reason = `no heartbeat for ${Math.round(silentMs / 1000)} s (down after ${this.#downAfterMs / 1000} s)`;
    try {
      await this.#o.store.markHostDown(host.id, { reason, expectHeartbeatAt: host.heartbeatAt });
      this.#log.warn({ host: host.id, silentMs }, 'host marked down');
      return true;
    } catch (err) {
      if (isAloftError(err, 'STORE_CONFLICT')) return false; // it beat meanwhile: alive
      throw err;
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      void this.sweep()
        .catch((err: unknown) => this.#log.error({ err }, 'host monitor sweep failed'))
        .finally(() => this.#schedule());
    }, this.#checkMs);
  }
}
