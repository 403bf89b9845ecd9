import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AloftError } from '../lib/errors.ts';

/** The default most bytes a request body may have: Fly's configs are far below 1 MiB. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Refuses bodies over `maxBytes` with a 413 and the house JSON error. Hono's bodyLimit
 * checks `Content-Length` first and otherwise counts the bytes as they stream in, so a
 * chunked upload is cut off at the limit instead of being buffered whole.
 */
export function apiBodyLimit(maxBytes: number = DEFAULT_BODY_LIMIT_BYTES): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new AloftError('PAYLOAD_TOO_LARGE', `Cannot read request body as it must be at most ${maxBytes} bytes: got more`, {
        details: { limit: maxBytes },
      });
    },
  });
  return async (c, next) => {
    // No route reads a GET's or HEAD's body, so there is nothing to limit. Skipping them
    // matters for speed: hono's bodyLimit reads `req.raw.body`, which makes
    // @hono/node-server build a full Web Request (and an AbortController) per request.
    // (Deciding by missing Content-Length would be wrong: HTTP/2 bodies need not have one.)
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    return limit(c, next);
  };
}
