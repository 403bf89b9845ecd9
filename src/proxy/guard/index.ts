/** The edge's guards against abusive or ambiguous clients: limits, timeouts, rate limits. */
export { httpServerOptions, resolveLimits, type ClientLimits, type RateLimit, type ResolvedLimits } from './limits.ts';
export { TokenBuckets } from './token-bucket.ts';
