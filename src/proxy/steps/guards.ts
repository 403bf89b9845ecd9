import type { Step } from '../compose.ts';
import type { ProxyContext } from '../context.ts';
import { answer } from '../answers.ts';
import { hasRequestBody } from '../exchange.ts';
import { clientIp } from '../forwarded-headers.ts';
import type { RateLimiter } from '../guard/rate-limiter.ts';

/**
 * Limits requests per client address with token buckets: over the limit, 429 with
 * Retry-After (whole seconds, at least 1) and no backend is touched. Other addresses
 * have their own buckets, so one flooding client does not slow the rest.
 */
export function rateLimitStep(limiter: RateLimiter): Step {
  return (ctx, next) => {
    const refused = limiter.refuse(clientIp(ctx.req));
    if (refused === undefined) return next();
    answer(ctx, 'PROXY_RATE_LIMITED', refused.message, { 'retry-after': String(refused.retryAfterS) });
    return Promise.resolve();
  };
}

/**
 * Refuses what Node's parser lets through but an edge must not: more header fields
 * than `maxHeaders` (431) and more than one Host (400, RFC 9112 §3.2: two Hosts can
 * route a request two ways). Both close the connection, as the parser's own refusals do.
 */
export function headerGuardStep(maxHeaders: number): Step {
  return (ctx, next) => {
    const raw = ctx.req.rawHeaders;
    const count = raw.length / 2;
    if (count > maxHeaders) {
      answer(ctx, 'PROXY_TOO_MANY_HEADERS', `Cannot accept request as its header fields must number at most ${maxHeaders}: got more`, { connection: 'close' });
      return Promise.resolve();
    }
    let hosts = 0;
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts += 1;
    if (hosts > 1) {
      answer(ctx, 'PROXY_BAD_REQUEST', `Cannot accept request as 'Host' must appear once: got ${hosts}`, { connection: 'close' });
      return Promise.resolve();
    }
    return next();
  };
}

/**
 * Cuts a request body that stops moving: while the body is still arriving, the
 * client socket may be idle at most `idleMs` (Node destroys an idle socket nobody
 * handles the timeout of). Once the body is in, the socket has no idle limit again,
 * so a slow backend answer or a long download is not cut. (Headers are bounded by
 * Node's headersTimeout and the whole request by requestTimeout.)
 */
export function bodyIdleStep(idleMs: number): Step {
  // Not async itself: a request without a body (most) passes on without a promise of its own.
  return (ctx, next) => (hasRequestBody(ctx) ? watchBody(ctx, next, idleMs) : next());
}

/** Runs the rest of the chain with the client socket's idle limit on while the body arrives. */
async function watchBody(ctx: ProxyContext, next: () => Promise<void>, idleMs: number): Promise<void> {
  const { req } = ctx;
  const socket = req.socket;
  const clear = (): void => void socket.setTimeout(0);
  socket.setTimeout(idleMs);
  req.once('end', clear);
  try {
    await next();
  } finally {
    req.off('end', clear);
    if (!socket.destroyed) clear();
  }
}
