import type { Clock } from '../../lib/clock.ts';
import type { RateLimit } from './limits.ts';
import { TokenBuckets } from './token-bucket.ts';

/**
 * The per-address request limit, shared by every way a request comes in (the HTTP
 * chain, HTTP/1.1 upgrades), so a client cannot get around it by asking for WebSockets.
 */
export class RateLimiter {
  readonly limit: RateLimit;
  readonly #buckets: TokenBuckets;
  readonly #clock: Clock;

  constructor(limit: RateLimit, clock: Clock) {
    this.limit = limit;
    this.#buckets = new TokenBuckets(limit);
    this.#clock = clock;
  }

  /** Undefined when `ip` may go on; else the refusal: whole seconds to wait (at least 1) and why. */
  refuse(ip: string): { retryAfterS: number; message: string } | undefined {
    const waitMs = this.#buckets.take(ip, this.#clock.now());
    if (waitMs === 0) return undefined;
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    return {
      retryAfterS: seconds,
      message: `Cannot accept request as client ${ip} must make at most ${this.limit.ratePerSecond} requests/s (burst ${this.limit.burst}): retry in ${seconds}s`,
    };
  }
}
