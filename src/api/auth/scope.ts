import type { MiddlewareHandler } from 'hono';
import { AloftError } from '../../lib/errors.ts';
import type { Store } from '../../store/store.ts';
import { canSeeApp, hiddenApp, principalOf } from './principal.ts';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Read-only tokens may only read: any other method is a 403. */
export const readOnlyGuard: MiddlewareHandler = async (c, next) => {
  const principal = principalOf(c);
  if (principal.kind === 'token' && principal.token.readOnly && !READS.has(c.req.method)) {
    throw new AloftError(
      'FORBIDDEN',
      `Cannot ${c.req.method} ${c.req.path} as the token must allow writes: got read-only token ${principal.token.id}`,
    );
  }
  await next();
};

/**
 * Mounted over `/v1/apps/:app/*`: an app outside the token's scope (another org, or
 * not the one app of an app-scoped token) is answered exactly as a missing app, so a
 * token cannot learn which names other orgs use.
 */
export function appScope(store: Store): MiddlewareHandler {
  return async (c, next) => {
    const principal = principalOf(c);
    if (principal.kind === 'token') {
      const name = c.req.param('app') ?? '';
      const app = await store.getApp(name);
      if (!app || !canSeeApp(principal, app)) throw hiddenApp(name);
    }
    await next();
  };
}

/** aloft's own admin routes (orgs, tokens) are the operator's alone. */
export const operatorOnly: MiddlewareHandler = async (c, next) => {
  const principal = principalOf(c);
  if (principal.kind !== 'operator') {
    throw new AloftError('FORBIDDEN', `Cannot ${c.req.method} ${c.req.path} as the token must be the operator's: got org token ${principal.token.id}`);
  }
  await next();
};

/**
 * The org a new app goes into: the one asked for, else the token's (the operator's
 * default is "personal"). Org tokens create only in their org, and app-scoped tokens
 * not at all.
 */
export function orgForNewApp(c: Parameters<MiddlewareHandler>[0], requested: string | undefined): string {
  const principal = principalOf(c);
  if (principal.kind === 'operator') return requested ?? 'personal';
  const { token } = principal;
  if (token.appName !== undefined) {
    throw new AloftError('FORBIDDEN', `Cannot create app as the token must not be scoped to one app: got token ${token.id} for app "${token.appName}"`);
  }
  if (requested !== undefined && requested !== token.orgSlug) {
    throw new AloftError('FORBIDDEN', `Cannot create app as 'org_slug' must be the token's org "${token.orgSlug}": got "${requested}"`);
  }
  return token.orgSlug;
}
