/**
 * At most `max` probes in flight at once: a host with many Machines must not open
 * hundreds of sockets at the same tick. Waiters run in arrival order.
 */
export class ProbeSlots {
  readonly #max: number;
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  /** Probes in flight now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Runs `fn` once a slot is free, and frees the slot when it settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#inFlight < this.#max) this.#inFlight += 1;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      // Hands the slot straight to the next waiter, else frees it.
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#inFlight -= 1;
    }
  }
}
