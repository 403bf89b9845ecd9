import type { Clock } from '../../lib/clock.ts';
import type { ClientGone } from '../client-gone.ts';

/** How a wait for a free Machine slot ended. */
export type SlotWait = 'woken' | 'full' | 'timeout' | 'gone' | 'closed';

/** Bounds of the queue of requests waiting for a Machine under its hard limit. */
export interface QueueLimits {
  /** Requests that may wait per app; one more is answered 503 at once. Default 100. */
  maxLength: number;
  /** How long one request may wait in all. Default 5 s. */
  maxWaitMs: number;
}

export const DEFAULT_QUEUE_LIMITS: QueueLimits = Object.freeze({ maxLength: 100, maxWaitMs: 5000 });

interface Waiter {
  /** Place in line: a waiter that waits again keeps it. */
  ticket: number;
  settle: (how: SlotWait) => void;
}

/**
 * Requests of one app waiting because every Machine it may go to is at its hard
 * limit, first come first served. `wake(app)` (a request on one of the app's
 * Machines finished) lets the first waiter try again; `wakeAll(app)` (the app's
 * routes changed) lets all of them. A woken waiter that still finds no slot waits
 * again at the front, until its deadline.
 */
export class SlotQueue {
  readonly #limits: QueueLimits;
  readonly #clock: Clock;
  readonly #queues = new Map<string, Waiter[]>();
  #tickets = 0;
  #closed = false;
  readonly #watchers: { app: string; length: number; resolve: () => void }[] = [];

  constructor(limits: QueueLimits, clock: Clock) {
    this.#limits = limits;
    this.#clock = clock;
  }

  get limits(): QueueLimits {
    return this.#limits;
  }

  /** Waiters queued for `app` now. */
  length(app: string): number {
    return this.#queues.get(app)?.length ?? 0;
  }

  /** Resolves once `length` requests of `app` are waiting (for tests and drains). */
  whenLength(app: string, length: number): Promise<void> {
    if (this.length(app) >= length) return Promise.resolve();
    return new Promise((resolve) => this.#watchers.push({ app, length, resolve }));
  }

  /** A place in line, taken when a request first has to wait. */
  ticket(): number {
    this.#tickets += 1;
    return this.#tickets;
  }

  /**
   * Waits until woken, `deadline` (clock ms) passes, or the client goes. A request
   * waiting again after a wake that found no slot passes `again`: it goes back to its
   * ticket's place and is never refused for length, as it already held that place.
   */
  wait(app: string, deadline: number, gone: ClientGone, ticket: number, again = false): Promise<SlotWait> {
    if (this.#closed) return Promise.resolve('closed');
    const queue = this.#queues.get(app) ?? [];
    if (!again && queue.length >= this.#limits.maxLength) return Promise.resolve('full');
    const left = deadline - this.#clock.now();
    if (left <= 0) return Promise.resolve('timeout');
    this.#queues.set(app, queue);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        ticket,
        settle: (how) => {
          timer.cancel();
          gone.unlisten();
          const q = this.#queues.get(app);
          const at = q?.indexOf(waiter) ?? -1;
          if (q !== undefined && at >= 0) q.splice(at, 1);
          if (q?.length === 0) this.#queues.delete(app);
          resolve(how);
        },
      };
      const timer = this.#clock.setTimeout(() => waiter.settle('timeout'), left);
      const at = queue.findIndex((w) => w.ticket > ticket);
      if (at < 0) queue.push(waiter);
      else queue.splice(at, 0, waiter);
      for (const w of this.#watchers.filter((w) => w.app === app && w.length <= queue.length)) {
        this.#watchers.splice(this.#watchers.indexOf(w), 1);
        w.resolve();
      }
      gone.listen(() => waiter.settle('gone'));
    });
  }

  /** Lets the first waiter of `app` try again. */
  wake(app: string): void {
    this.#queues.get(app)?.[0]?.settle('woken');
  }

  /** Lets every waiter of `app` try again. */
  wakeAll(app: string): void {
    for (const waiter of [...(this.#queues.get(app) ?? [])]) waiter.settle('woken');
  }

  /** Ends every wait (the proxy is closing). */
  close(): void {
    this.#closed = true;
    for (const queue of [...this.#queues.values()]) for (const waiter of [...queue]) waiter.settle('closed');
  }
}
