/**
 * When a failed backend attempt may be repeated. The rule that matters: never send a
 * request twice if the backend may have acted on it. A connect that failed sent
 * nothing; a reset before any request body byte left our side is safe only for
 * methods that are idempotent anyway (a stale keep-alive connection closing under us).
 */
export interface RetryPolicy {
  /** A Machine that became `started` this recently may still be binding its port. */
  justStartedMs: number;
  /** How long, from the first attempt, to keep retrying a just-started Machine. */
  budgetMs: number;
  /** The wait before retry number `n` (1-based) on a Machine already tried. */
  backoffMs(n: number): number;
}

/** Retries a just-started Machine for about 3 s with backoff 25, 50, 100, 200, 400, 400… ms. */
export const defaultRetryPolicy: RetryPolicy = {
  justStartedMs: 5000,
  budgetMs: 3000,
  backoffMs: (n) => Math.min(400, 25 * 2 ** (n - 1)),
};

/** What we know about how far a failed attempt got. */
export interface AttemptProgress {
  /** The request was handed to a connected socket (headers may be on the wire). */
  dispatched: boolean;
  /** Some of the client's request body was read (and so may have been sent). */
  bodyRead: boolean;
  /** The backend's response had started. */
  responded: boolean;
  method: string;
}

/** Errors that mean "the connection failed", not "the backend answered badly". */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** The `code` of an error, if it has one. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when a connection failure happened before any request byte could matter. */
export function isConnectFailure(err: unknown, progress: AttemptProgress): boolean {
  return !progress.dispatched && CONNECTION_ERRORS.has(errorCode(err) ?? '');
}

/** True when the failed attempt can be sent again (to any Machine). */
export function canRetry(err: unknown, progress: AttemptProgress): boolean {
  if (progress.responded || progress.bodyRead) return false;
  if (!CONNECTION_ERRORS.has(errorCode(err) ?? '')) return false;
  return !progress.dispatched || IDEMPOTENT.has(progress.method);
}
