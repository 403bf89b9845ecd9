/** One address's bucket: tokens left and when it was last filled. */
interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets keyed by client address: each holds up to `burst` tokens and gains
 * `ratePerSecond` a second; a request takes one. Buckets are filled lazily when
 * touched (no timers), and the map forgets the least recently seen address past
 * `maxClients`, so a flood from many addresses cannot grow it without bound (a
 * forgotten address starts again with a full bucket, which only errs toward serving).
 */
export class TokenBuckets {
  readonly #rate: number;
  readonly #burst: number;
  readonly #max: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: { ratePerSecond: number; burst: number; maxClients?: number | undefined }) {
    this.#rate = options.ratePerSecond / 1000;
    this.#burst = options.burst;
    this.#max = options.maxClients ?? 100_000;
  }

  /** Addresses tracked now. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes a token for `key` at `now` (ms): 0 when allowed, else ms until one is free. */
  take(key: string, now: number): number {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.#burst, at: now };
      if (this.#buckets.size >= this.#max) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
    } else {
      // Re-insert: Map order is then least recently seen first.
      this.#buckets.delete(key);
      bucket.tokens = Math.min(this.#burst, bucket.tokens + Math.max(0, now - bucket.at) * this.#rate);
      bucket.at = now;
    }
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.#rate);
  }
}
