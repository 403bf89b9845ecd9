import type { Clock } from '../../lib/clock.ts';

/** How fast a bucket refills and how many requests it lets through at once. */
export interface BucketRule {
  /** Tokens added per second. */
  perSecond: number;
  /** The bucket's size: how many requests may come back to back after a quiet spell. */
  burst: number;
}

export interface TakeResult {
  allowed: boolean;
  /** When refused: whole seconds until one token is back (what `Retry-After` says). */
  retryAfterS: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (clock milliseconds). */
  at: number;
  /** When the bucket is full again if nothing takes from it: from then on it is idle. */
  fullAt: number;
}

/**
 * Token buckets by key, with bounded memory. A bucket that has refilled to its burst is
 * the same as no bucket, so it is dropped; buckets are kept in least-recently-used order
 * so the idle ones are found at the front without scanning. Above `maxKeys` the least
 * recently used bucket is dropped even if not yet full: under a flood of distinct keys
 * this forgets some limits (fails open) rather than growing without end.
 */
export class TokenBuckets {
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(clock: Clock, options: { maxKeys?: number } = {}) {
    this.#clock = clock;
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  /** Takes one token from `key`'s bucket under `rule`. */
  take(key: string, rule: BucketRule): TakeResult {
    const now = this.#clock.now();
    this.#evictIdle(now);
    const bucket = this.#buckets.get(key);
    let tokens = rule.burst;
    if (bucket) {
      tokens = Math.min(rule.burst, bucket.tokens + ((now - bucket.at) * rule.perSecond) / 1000);
      this.#buckets.delete(key); // re-inserted below: the Map's order is recency
    }
    if (tokens >= 1) {
      tokens -= 1;
      this.#put(key, { tokens, at: now, fullAt: now + ((rule.burst - tokens) * 1000) / rule.perSecond });
      return { allowed: true, retryAfterS: 0 };
    }
    this.#put(key, { tokens, at: now, fullAt: now + ((rule.burst - tokens) * 1000) / rule.perSecond });
    return { allowed: false, retryAfterS: Math.max(1, Math.ceil((1 - tokens) / rule.perSecond)) };
  }

  /** How many buckets are held now (for tests of the memory bound). */
  get size(): number {
    return this.#buckets.size;
  }

  #put(key: string, bucket: Bucket): void {
    this.#buckets.set(key, bucket);
    while (this.#buckets.size > this.#maxKeys) {
      const oldest = this.#buckets.keys().next();
      if (oldest.done) break;
      this.#buckets.delete(oldest.value);
    }
  }

  /**
   * Drops full buckets from the least recently used end. Stops at the first one still
   * refilling; bounded per call so one request never pays for a long sweep.
   */
  #evictIdle(now: number): void {
    let budget = 16;
    for (const [key, bucket] of this.#buckets) {
      if (budget-- === 0 || bucket.fullAt > now) return;
      this.#buckets.delete(key);
    }
  }
}
