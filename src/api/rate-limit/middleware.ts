import { createHash } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { AloftError } from '../../lib/errors.ts';
import { TokenBuckets, type BucketRule } from './token-buckets.ts';

/** The limits of the Machines API, as Fly documents them (PLATFORM.md, "Rate limits"). */
export interface RateLimitOptions {
  /** Reading one Machine (`GET …/machines/{id}` and its read-only sub-resources). Fly: 5/s, burst 10. */
  read?: BucketRule;
  /** Every other request on one Machine, per action (start, stop, update…). Fly: 1/s, burst 3. */
  action?: BucketRule;
  /** The most buckets kept at once; past it the least recently used are forgotten. */
  maxKeys?: number;
  clock?: Clock;
}

export const FLY_RATE_LIMITS = {
  read: { perSecond: 5, burst: 10 },
  action: { perSecond: 1, burst: 3 },
} as const satisfies Record<string, BucketRule>;

/** `/v1/apps/{app}/machines/{id}[/{action}[/…]]`: only requests on one Machine are limited. */
const MACHINE_PATH = /^\/v1\/apps\/[^/]+\/machines\/([^/]+)(?:\/([^/]+))?/;

/**
 * Rate limits per client, per Machine, per action, with token buckets. The client is the
 * bearer token (hashed, so the map holds no secrets) or, without one, the peer address.
 * A refused request is a 429 with `Retry-After` in seconds and the house JSON error.
 * Mount it after authentication so that refused logins spend nobody's budget.
 */
export function rateLimit(options: RateLimitOptions = {}): MiddlewareHandler {
  const read = options.read ?? FLY_RATE_LIMITS.read;
  const action = options.action ?? FLY_RATE_LIMITS.action;
  const buckets = new TokenBuckets(options.clock ?? systemClock, options.maxKeys === undefined ? {} : { maxKeys: options.maxKeys });
  return async (c, next) => {
    const match = MACHINE_PATH.exec(c.req.path);
    if (!match) return next();
    const machine = match[1]!;
    const verb = match[2] ?? '';
    const method = c.req.method;
    const rule = method === 'GET' || method === 'HEAD' ? read : action;
    const key = `${clientOf(c)}\n${machine}\n${method} ${verb}`;
    const taken = buckets.take(key, rule);
    if (taken.allowed) return next();
    c.header('Retry-After', String(taken.retryAfterS));
    throw new AloftError(
      'RATE_LIMITED',
      `Cannot ${method} ${verb || 'machine'} on machine ${machine} as requests must be at most ${rule.perSecond}/s (burst ${rule.burst}): retry after ${taken.retryAfterS}s`,
      { details: { retry_after: taken.retryAfterS } },
    );
  };
}

function clientOf(c: Context): string {
  const auth = c.req.header('authorization');
  if (auth) return createHash('sha256').update(auth).digest('base64url').slice(0, 22);
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return `ip:${incoming?.socket?.remoteAddress ?? 'unknown'}`;
}
