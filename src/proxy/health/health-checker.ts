import { systemClock, type Clock } from '../../lib/clock.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { RouteEntry } from '../route-entry.ts';
import { probe as realProbe, type HealthCheckSpec, type ProbeResult } from '../../health/index.ts';

/** Runs one check once; injectable so tests can count or hold probes. */
export type Probe = (host: string, check: HealthCheckSpec, signal: AbortSignal) => Promise<ProbeResult>;

export interface HealthCheckerOptions {
  clock?: Clock;
  log?: Logger;
  /** At most this many probes in flight at once, over all Machines. Default 16. */
  maxConcurrent?: number;
  probe?: Probe;
}

interface CheckState {
  spec: HealthCheckSpec;
  /** Undefined until the first probe finished. */
  ok: boolean | undefined;
  timer: { cancel(): void } | undefined;
}

interface Tracked {
  machineId: string;
  /** Address and checks; a change of either restarts the checks. */
  key: string;
  host: string;
  checks: CheckState[];
  healthy: boolean;
  abort: AbortController;
}

/**
 * Runs each routable Machine's service checks and says which Machines are healthy. A
 * Machine with checks is out of rotation until every check has passed once, then
 * whenever any check's latest probe failed; one with no checks is healthy (it is
 * never tracked). Probes start after the check's grace period, repeat every interval
 * (counted from the end of the last one, so a slow Machine is not probed
 * back-to-back), and wait their turn when `maxConcurrent` are in flight. Untracking
 * a Machine and close() cancel its timers and abort its probes in flight.
 */
export class HealthChecker {
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #probe: Probe;
  readonly #max: number;
  readonly #tracked = new Map<string, Tracked>();
  readonly #listeners = new Set<(machineId: string, healthy: boolean) => void>();
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];
  #closed = false;

  constructor(options: HealthCheckerOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
    this.#probe = options.probe ?? realProbe;
    this.#max = Math.max(1, options.maxConcurrent ?? 16);
  }

  /** Calls `listener` whenever a tracked Machine turns healthy or unhealthy. */
  onChange(listener: (machineId: string, healthy: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** False only for a tracked Machine whose checks are not (yet) all passing. */
  isHealthy(machineId: string): boolean {
    return this.#tracked.get(machineId)?.healthy ?? true;
  }

  /** Probes in flight now (for tests and metrics). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Starts (or keeps) checking `entry`'s Machine. Calling it again with the same
   * address and checks changes nothing, so the table may call it on every write.
   */
  track(entry: RouteEntry): void {
    if (this.#closed) return;
    if (entry.checks.length === 0) {
      this.untrack(entry.machineId);
      return;
    }
    const host = entry.ipv4 !== '' ? entry.ipv4 : entry.ipv6;
    const key = JSON.stringify([host, entry.checks]);
    const current = this.#tracked.get(entry.machineId);
    if (current?.key === key) return;
    if (current !== undefined) this.#stop(current);
    const tracked: Tracked = {
      machineId: entry.machineId,
      key,
      host,
      checks: entry.checks.map((spec) => ({ spec, ok: undefined, timer: undefined })),
      healthy: false,
      abort: new AbortController(),
    };
    this.#tracked.set(entry.machineId, tracked);
    const sinceStart = Math.max(0, this.#clock.now() - entry.startedAt);
    for (const check of tracked.checks) {
      this.#schedule(tracked, check, Math.max(0, check.spec.gracePeriodMs - sinceStart));
    }
  }

  /** Stops checking a Machine (it left the table); it reads as healthy again. */
  untrack(machineId: string): void {
    const tracked = this.#tracked.get(machineId);
    if (tracked === undefined) return;
    this.#stop(tracked);
    this.#tracked.delete(machineId);
  }

  /** Stops every check; later track() calls do nothing. */
  close(): void {
    this.#closed = true;
    for (const id of [...this.#tracked.keys()]) this.untrack(id);
    // Waiting checks belong to aborted Machines: let them run out (they probe nothing).
    for (const next of this.#waiting.splice(0)) {
      this.#inFlight += 1;
      next();
    }
    this.#listeners.clear();
  }

  #stop(tracked: Tracked): void {
    tracked.abort.abort();
    for (const check of tracked.checks) check.timer?.cancel();
  }

  #schedule(tracked: Tracked, check: CheckState, delayMs: number): void {
    check.timer = this.#clock.setTimeout(() => {
      check.timer = undefined;
      void this.#run(tracked, check);
    }, delayMs);
  }

  async #run(tracked: Tracked, check: CheckState): Promise<void> {
    const { signal } = tracked.abort;
    await this.#acquire();
    let result: ProbeResult;
    try {
      result = signal.aborted ? { ok: false, detail: 'aborted' } : await this.#probe(tracked.host, check.spec, signal);
    } catch (err) {
      result = { ok: false, detail: err instanceof Error ? err.message : String(err) };
    } finally {
      this.#release();
    }
    if (signal.aborted || this.#closed) return;
    if (check.ok !== result.ok) {
      const name = `${check.spec.type}:${check.spec.port}${check.spec.type === 'http' ? check.spec.path : ''}`;
      this.#log.info(
        { machine: tracked.machineId, check: name, detail: result.detail },
        result.ok ? 'proxy: health check passing' : 'proxy: health check failing',
      );
    }
    check.ok = result.ok;
    const healthy = tracked.checks.every((c) => c.ok === true);
    if (healthy !== tracked.healthy) {
      tracked.healthy = healthy;
      for (const listener of this.#listeners) listener(tracked.machineId, healthy);
    }
    this.#schedule(tracked, check, check.spec.intervalMs);
  }

  /** Waits for one of the `maxConcurrent` probe slots. */
  #acquire(): Promise<void> {
    if (this.#inFlight < this.#max) {
      this.#inFlight += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  /** Hands the slot straight to the next check waiting for one, else frees it. */
  #release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#inFlight -= 1;
  }
}
