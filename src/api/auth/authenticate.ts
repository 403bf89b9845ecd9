import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { AloftError } from '../../lib/errors.ts';
import type { AuthStore } from '../../store/auth-store.ts';
import { OPERATOR, type Principal } from './principal.ts';
import { hashTokenSecret } from './secret.ts';

/**
 * Requires `Authorization: Bearer <token>` and sets the request's principal (see
 * principalResolver).
 */
export function authenticate(options: { operatorToken: string; store: AuthStore }): MiddlewareHandler {
  const resolve = principalResolver(options);
  return async (c, next) => {
    const match = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '');
    const secret = match?.[1]?.trim() ?? '';
    if (!match || secret === '') {
      throw new AloftError('UNAUTHORIZED', "Cannot authorize request as 'Authorization' must be 'Bearer <token>': got nothing");
    }
    c.set('principal', await resolve(secret));
    await next();
  };
}

/**
 * Who a token secret belongs to: the operator's token (the embedded platform's token
 * file, compared in constant time so it cannot be guessed byte by byte from timings),
 * or an org token looked up by its hash. The store is asked every time, so a revoked
 * token is refused at once. Throws UNAUTHORIZED for anything else.
 */
export function principalResolver(options: { operatorToken: string; store: AuthStore }): (secret: string) => Promise<Principal> {
  const expected = Buffer.from(options.operatorToken);
  return async (secret) => {
    const given = Buffer.from(secret);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return OPERATOR;
    const token = await options.store.findTokenByHash(hashTokenSecret(secret));
    // Wrong and revoked tokens get the same words: a revoked secret tells its finder nothing.
    if (!token || token.revokedAt !== undefined) {
      throw new AloftError('UNAUTHORIZED', 'Cannot authorize request as the bearer token must be a valid, unrevoked token: got an unknown one');
    }
    return { kind: 'token', owner: `token:${token.id}`, token };
  };
}
