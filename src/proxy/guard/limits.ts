import type { ServerOptions } from 'node:http';
import { AloftError } from '../../lib/errors.ts';

/** Per-client-address request rate limit (token bucket). */
export interface RateLimit {
  /** Tokens added per second: the sustained requests/s one address may make. */
  ratePerSecond: number;
  /** Bucket size: how many requests one address may make at once. */
  burst: number;
  /** Addresses tracked at most; the least recently seen is forgotten first. Default 100,000. */
  maxClients?: number;
}

/**
 * What the edge accepts from a client connection. Defaults (why):
 * - `headersTimeoutMs` 10 s: a client that has not sent its whole header block by then
 *   is a slowloris (nginx's client_header_timeout is 60 s; browsers send at once);
 * - `requestTimeoutMs` 300 s: the whole request, body included (Node's default; a
 *   100 MB upload at 3 Mbit/s fits);
 * - `bodyIdleTimeoutMs` 30 s: a body that stops moving this long is cut;
 * - `checkIntervalMs` 1 s: how often Node checks the two timeouts above (its default,
 *   30 s, would let a slowloris hold a connection for up to 40 s);
 * - `maxHeaderBytes` 16 KiB (→ 431 from Node's parser) and `maxHeaders` 100 fields
 *   (→ 431 from the guard step), as Envoy and most edges;
 * - `rateLimit` off: one address can be a whole office behind NAT, or a load test;
 *   the operator turns it on with numbers that fit (then 429 with Retry-After).
 * Request smuggling needs no setting: Node's parser (llhttp) in its strict mode, which
 * aloft never relaxes (`insecureHTTPParser: false`), refuses Content-Length with
 * Transfer-Encoding, duplicate or list Content-Length, obs-fold, bare LF and unknown
 * transfer codings with 400 and closes the connection; the guard step adds a second
 * Host (RFC 9112 §3.2).
 */
export interface ClientLimits {
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  bodyIdleTimeoutMs?: number;
  checkIntervalMs?: number;
  maxHeaderBytes?: number;
  maxHeaders?: number;
  rateLimit?: RateLimit | undefined;
}

export type ResolvedLimits = Required<Omit<ClientLimits, 'rateLimit'>> & { rateLimit: RateLimit | undefined };

function positive(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new AloftError('INVALID_ARGUMENT', `Cannot start proxy as 'limits.${field}' must be a positive whole number: got ${String(value)}`);
  }
  return value;
}

/** The limits with defaults filled in, checked. */
export function resolveLimits(limits: ClientLimits = {}): ResolvedLimits {
  const resolved: ResolvedLimits = {
    headersTimeoutMs: positive('headersTimeoutMs', limits.headersTimeoutMs ?? 10_000),
    requestTimeoutMs: positive('requestTimeoutMs', limits.requestTimeoutMs ?? 300_000),
    bodyIdleTimeoutMs: positive('bodyIdleTimeoutMs', limits.bodyIdleTimeoutMs ?? 30_000),
    checkIntervalMs: positive('checkIntervalMs', limits.checkIntervalMs ?? 1000),
    maxHeaderBytes: positive('maxHeaderBytes', limits.maxHeaderBytes ?? 16 * 1024),
    maxHeaders: positive('maxHeaders', limits.maxHeaders ?? 100),
    rateLimit: limits.rateLimit,
  };
  if (resolved.headersTimeoutMs > resolved.requestTimeoutMs) {
    throw new AloftError(
      'INVALID_ARGUMENT',
      `Cannot start proxy as 'limits.headersTimeoutMs' must be at most requestTimeoutMs (${resolved.requestTimeoutMs}): got ${resolved.headersTimeoutMs}`,
    );
  }
  const rate = resolved.rateLimit;
  if (rate !== undefined) {
    if (!(rate.ratePerSecond > 0) || !Number.isFinite(rate.ratePerSecond)) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot start proxy as 'limits.rateLimit.ratePerSecond' must be a positive number: got ${String(rate.ratePerSecond)}`);
    }
    positive('rateLimit.burst', rate.burst);
    if (rate.maxClients !== undefined) positive('rateLimit.maxClients', rate.maxClients);
  }
  return resolved;
}

/**
 * The options for `http.createServer` that enforce the limits in Node itself: parser
 * strictness, header size, header and whole-request timeouts. The header count is
 * the guard step's (Node silently drops fields past `maxHeadersCount`, so the server
 * keeps one more than the limit and the step answers 431 when it sees it).
 */
export function httpServerOptions(limits: ResolvedLimits): ServerOptions {
  return {
    insecureHTTPParser: false,
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: limits.checkIntervalMs,
  };
}
