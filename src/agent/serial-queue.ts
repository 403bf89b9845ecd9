/**
 * Runs work for one key at a time, coalescing requests that arrive while work runs:
 * however many changes land for a Machine during a reconcile, it is reconciled once
 * more afterwards, reading fresh state. Different keys run concurrently.
 */
export class SerialQueue {
  readonly #running = new Map<string, Promise<void>>();
  readonly #again = new Set<string>();
  readonly #work: (key: string) => Promise<void>;
  readonly #onError: (key: string, err: unknown) => void;

  constructor(work: (key: string) => Promise<void>, onError: (key: string, err: unknown) => void) {
    this.#work = work;
    this.#onError = onError;
  }

  /** Schedules work for `key`; returns a promise that settles when the key is idle. */
  schedule(key: string): Promise<void> {
    const running = this.#running.get(key);
    if (running) {
      this.#again.add(key);
      return running;
    }
    const run = (async () => {
      do {
        this.#again.delete(key);
        try {
          await this.#work(key);
        } catch (err) {
          this.#onError(key, err);
        }
      } while (this.#again.has(key));
      this.#running.delete(key);
    })();
    this.#running.set(key, run);
    return run;
  }

  /** Resolves when no key has work running. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running.values()]);
  }
}
