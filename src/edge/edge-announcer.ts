import { invalidField } from '../lib/errors.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import { silentLogger, type Logger } from '../lib/log.ts';

/** What the announcer drives: the edge's bird (see bgp/anycast-announcer.ts). */
export interface Announcement {
  announce(): Promise<void>;
  withdraw(): Promise<void>;
}

/** `announcing`: the anycast routes are out; `withdrawn`: the proxy is unhealthy; `draining`: for good, the proxy is stopping. */
export type EdgeState = 'starting' | 'announcing' | 'withdrawn' | 'draining';

/** Options of {@link EdgeAnnouncer}. */
export interface EdgeAnnouncerOptions {
  announcement: Announcement;
  /** The local proxy's health: true when it answered. */
  probe: () => Promise<boolean>;
  /** Between probes. Default 1000 ms. */
  intervalMs?: number;
  /** Consecutive failed probes before withdrawing. Default 3. */
  failures?: number;
  /** Consecutive passing probes before announcing again after a withdrawal. Default 2. */
  recoveries?: number;
  /**
   * How long `drain` waits after the withdraw before it resolves, so the routers have
   * moved traffic elsewhere before the proxy stops accepting. Default 2000 ms.
   */
  withdrawDelayMs?: number;
  clock?: Clock;
  log?: Logger;
  /** Called after each state change (announce or withdraw done). */
  onChange?: (state: EdgeState) => void;
}

/**
 * Ties an edge's anycast announcement to its local proxy's health: probes the proxy
 * every `intervalMs`, announces while it answers, withdraws after `failures` probes in a
 * row fail, announces again after `recoveries` pass. `drain()` (on SIGTERM) withdraws
 * for good and waits `withdrawDelayMs` for the withdraw to reach the routers; only then
 * may the caller close the proxy, so no request arrives at a closed listener.
 */
export class EdgeAnnouncer {
  readonly #options: EdgeAnnouncerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #failures: number;
  readonly #recoveries: number;
  readonly #withdrawDelayMs: number;
  #state: EdgeState = 'starting';
  #failed = 0;
  #passed = 0;
  #timer: { cancel(): void } | undefined;
  /** The probe or change in progress: drain waits for it so a late announce cannot follow the withdraw. */
  #tick: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: EdgeAnnouncerOptions) {
    this.#intervalMs = positive('intervalMs', options.intervalMs ?? 1000);
    this.#failures = positive('failures', options.failures ?? 3);
    this.#recoveries = positive('recoveries', options.recoveries ?? 2);
    const delay = options.withdrawDelayMs ?? 2000;
    if (!Number.isFinite(delay) || delay < 0) throw invalidField('announce the edge', 'withdrawDelayMs', 'a number of ms, 0 or more', delay);
    this.#withdrawDelayMs = delay;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
  }

  get state(): EdgeState {
    return this.#state;
  }

  /** Probes once and announces or withdraws by the answer, then keeps probing. */
  async start(): Promise<void> {
    this.#tick = this.#probeOnce(true);
    await this.#tick;
    this.#schedule();
  }

  /**
   * Withdraws for good (the proxy is about to stop), then waits `withdrawDelayMs` so the
   * withdraw has reached the routers. Probing stops. Idempotent.
   */
  async drain(): Promise<void> {
    if (this.#state === 'draining') return;
    this.#stopTimer();
    await this.#tick.catch(() => undefined);
    this.#state = 'draining';
    await this.#options.announcement.withdraw();
    this.#log.info({ delayMs: this.#withdrawDelayMs }, 'edge: anycast withdrawn for the drain; waiting for it to propagate');
    this.#options.onChange?.('draining');
    await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, this.#withdrawDelayMs));
  }

  /** Stops probing and leaves the announcement as it is. */
  close(): void {
    this.#closed = true;
    this.#stopTimer();
  }

  #schedule(): void {
    if (this.#closed || this.#state === 'draining') return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#tick = this.#probeOnce(false).finally(() => this.#schedule());
    }, this.#intervalMs);
  }

  #stopTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  async #probeOnce(first: boolean): Promise<void> {
    const healthy = await this.#options.probe().catch(() => false);
    if (this.#state === 'draining' || this.#closed) return;
    if (healthy) {
      this.#failed = 0;
      this.#passed += 1;
    } else {
      this.#passed = 0;
      this.#failed += 1;
    }
    try {
      if (this.#state !== 'announcing' && healthy && (first || this.#passed >= this.#recoveries)) await this.#set('announcing');
      else if (this.#state !== 'withdrawn' && !healthy && (first || this.#failed >= this.#failures)) await this.#set('withdrawn');
    } catch (err) {
      // bird refused or is away: try again at the next probe (the state is unchanged).
      this.#log.error({ err }, 'edge: could not change the anycast announcement');
    }
  }

  async #set(state: 'announcing' | 'withdrawn'): Promise<void> {
    if (state === 'announcing') await this.#options.announcement.announce();
    else await this.#options.announcement.withdraw();
    this.#state = state;
    this.#log.warn({ state, failed: this.#failed }, `edge: anycast ${state === 'announcing' ? 'announced' : 'withdrawn'}`);
    this.#options.onChange?.(state);
  }
}

function positive(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw invalidField('announce the edge', field, 'an integer of 1 or more', value);
  return value;
}
