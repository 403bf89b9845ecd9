import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { AloftError } from '../lib/errors.ts';

/**
 * Requires `Authorization: Bearer <token>`. Compared in constant time so the token
 * cannot be guessed byte by byte from response timings.
 */
export function bearerAuth(token: string): MiddlewareHandler {
  const expected = Buffer.from(token);
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const given = Buffer.from(match?.[1]?.trim() ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AloftError(
        'UNAUTHORIZED',
        match ? 'Cannot authorize request as the bearer token is wrong' : "Cannot authorize request as 'Authorization' must be 'Bearer <token>': got nothing",
      );
    }
    await next();
  };
}
