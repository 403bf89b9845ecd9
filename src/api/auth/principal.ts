import type { Context } from 'hono';
import { AloftError } from '../../lib/errors.ts';
import type { App } from '../../model/index.ts';
import type { ApiToken } from '../../store/auth-store.ts';

/**
 * Who a request acts as, set by `authenticate` for every /v1 request: the platform
 * operator (the admin token file; every org) or an org's API token (its scope).
 */
export type Principal = { kind: 'operator'; owner: string } | { kind: 'token'; owner: string; token: ApiToken };

declare module 'hono' {
  interface ContextVariableMap {
    principal: Principal;
  }
}

/** The operator as a principal; `owner` is what leases it takes record as holder. */
export const OPERATOR: Principal = { kind: 'operator', owner: 'operator' };

/** The request's principal. Throws UNAUTHORIZED when no authentication ran (a wiring bug, refused rather than allowed). */
export function principalOf(c: Context): Principal {
  const principal = c.get('principal') as Principal | undefined;
  if (!principal) throw new AloftError('UNAUTHORIZED', `Cannot authorize ${c.req.method} ${c.req.path} as it must be authenticated: got no principal`);
  return principal;
}

/** True when `principal` may see `app` at all: its org, and its one app for app-scoped tokens. */
export function canSeeApp(principal: Principal, app: App): boolean {
  if (principal.kind === 'operator') return true;
  const { token } = principal;
  return app.orgSlug === token.orgSlug && (token.appName === undefined || token.appName === app.name);
}

/** The answer for an app the principal may not see: word for word the answer for a missing app, so names do not leak. */
export function hiddenApp(name: string): AloftError {
  return new AloftError('APP_NOT_FOUND', `Cannot find app "${name}": no app by that name`);
}
