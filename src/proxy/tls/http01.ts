import type { Step } from '../compose.ts';

const PREFIX = '/.well-known/acme-challenge/';

/**
 * The HTTP-01 challenges an ACME order is waiting on: token → key authorization.
 * The issuer sets them; the plain HTTP port answers them (http01Step).
 */
export class Http01Challenges {
  readonly #tokens = new Map<string, string>();

  set(token: string, keyAuthorization: string): void {
    this.#tokens.set(token, keyAuthorization);
  }

  delete(token: string): void {
    this.#tokens.delete(token);
  }

  get(token: string): string | undefined {
    return this.#tokens.get(token);
  }

  get size(): number {
    return this.#tokens.size;
  }
}

/**
 * Answers `GET /.well-known/acme-challenge/<token>` for a pending challenge with its
 * key authorization, on any host, before routing (and before force_https: a CA
 * validating HTTP-01 starts on plain HTTP). Other requests pass on.
 */
export function http01Step(challenges: Http01Challenges): Step {
  return (ctx, next) => {
    if (challenges.size === 0 || !ctx.path.startsWith(PREFIX) || (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD')) return next();
    const keyAuthorization = challenges.get(ctx.path.slice(PREFIX.length));
    if (keyAuthorization === undefined) return next();
    const { res } = ctx;
    res.statusCode = 200;
    res.setHeader('content-type', 'text/plain');
    res.setHeader('content-length', Buffer.byteLength(keyAuthorization));
    res.end(ctx.req.method === 'HEAD' ? undefined : keyAuthorization);
    return Promise.resolve();
  };
}
