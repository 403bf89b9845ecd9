import { HTTPException } from 'hono/http-exception';
import { AloftError, toAloftError, type ErrorCode } from '../lib/errors.ts';

/** Hono's own client-error statuses, as catalogue codes. */
const BY_STATUS: Record<number, ErrorCode> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED',
};

/**
 * Turns whatever a handler threw into an AloftError. Hono's HTTPExceptions (thrown by
 * its middleware and body readers) keep their 4xx meaning instead of becoming a 500:
 * a client's mistake is never reported as aloft's fault.
 */
export function apiError(err: unknown): AloftError {
  if (err instanceof HTTPException && err.status < 500) {
    const code = BY_STATUS[err.status] ?? 'INVALID_ARGUMENT';
    return new AloftError(code, `Cannot serve request: ${err.message || `HTTP ${err.status}`}`, { cause: err });
  }
  return toAloftError(err);
}
