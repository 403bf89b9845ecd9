import { systemClock, type Clock } from '../lib/clock.ts';
import { isAloftError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { HostRecord, HostRegistration } from '../store/host-store.ts';
import type { Store } from '../store/store.ts';

/** How often an agent beats by default. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 2000;

export interface HostHeartbeatOptions {
  store: Store;
  hostId: string;
  /** What to register; called at each registration, so capacity is measured afresh. */
  registration: () => Promise<HostRegistration>;
  intervalMs?: number;
  clock?: Clock;
  log?: Logger;
}

/**
 * An agent's life in the host registry: it registers at start, then beats every
 * `intervalMs`. A beat refused with HOST_DOWN (the HostMonitor gave up on this host and
 * moved its Machines) registers again, so the host takes new work once it is back.
 */
export class HostHeartbeat {
  readonly #o: HostHeartbeatOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #intervalMs: number;
  #timer: { cancel(): void } | undefined;
  #stopped = false;
  #beating: Promise<void> = Promise.resolve();

  constructor(options: HostHeartbeatOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.log ?? silentLogger).child({ part: 'heartbeat' });
    this.#intervalMs = options.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  }

  /** Registers the host (up), then schedules the beats. */
  async start(): Promise<HostRecord> {
    const record = await this.#register();
    this.#schedule();
    return record;
  }

  /** One beat now (what the timer runs); resolves when it is recorded. */
  beat(): Promise<void> {
    this.#beating = this.#beating.then(() => this.#beatOnce());
    return this.#beating;
  }

  /** Stops beating; the host stays registered and will be marked down by the monitor. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    await this.#beating;
  }

  async #register(): Promise<HostRecord> {
    const registration = await this.#o.registration();
    const record = await this.#o.store.registerHost(registration, this.#clock.now());
    this.#log.info({ host: record.id, region: record.region }, 'host registered');
    return record;
  }

  async #beatOnce(): Promise<void> {
    if (this.#stopped) return;
    const { store } = this.#o;
    try {
      await store.heartbeatHost(this.#o.hostId, this.#clock.now());
    } catch (err) {
      if (isAloftError(err, 'HOST_DOWN') || isAloftError(err, 'HOST_NOT_FOUND')) {
        this.#log.warn({ err }, 'host was marked down or removed; registering again');
        await this.#register();
        return;
      }
      // A store hiccup: the next beat tries again; missing a few is what the monitor allows for.
      this.#log.error({ err }, 'heartbeat failed');
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      void this.beat().finally(() => this.#schedule());
    }, this.#intervalMs);
  }
}
