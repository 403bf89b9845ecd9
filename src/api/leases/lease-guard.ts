import type { MiddlewareHandler } from 'hono';
import type { Clock } from '../../lib/clock.ts';
import { isMachineId } from '../../lib/ids.ts';
import type { LeaseStore } from '../../store/lease-store.ts';
import { machineLeased } from '../../store/store-errors-auth.ts';
import { LEASE_NONCE_HEADER } from './nonce-header.ts';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Mounted over `/v1/apps/:app/machines/:id/*` (which also matches the Machine itself):
 * while a Machine has an unexpired lease, every change to it must carry the lease's
 * nonce in `fly-machine-lease-nonce`, else 409 MACHINE_LEASED, as Fly answers
 * ("lease currently held by …"). Reads always pass, and so do the lease routes, which
 * check the nonce themselves. Being one middleware, it covers routes added later too.
 */
export function leaseGuard(store: LeaseStore, clock: Clock): MiddlewareHandler {
  return async (c, next) => {
    const id = c.req.param('id') ?? '';
    if (READS.has(c.req.method) || c.req.path.endsWith('/lease') || !isMachineId(id)) return next();
    const lease = await store.getLease(id, clock.now());
    if (lease && lease.appName === c.req.param('app') && c.req.header(LEASE_NONCE_HEADER) !== lease.nonce) {
      throw machineLeased(actionOf(c.req.method, c.req.path, id), id, lease.owner, lease.expiresAt);
    }
    return next();
  };
}

/** "stop", "destroy", "update"… for the message, from the path after the Machine id. */
function actionOf(method: string, path: string, id: string): string {
  const rest = path.slice(path.indexOf(id) + id.length).replace(/^\//, '');
  if (rest !== '') return rest;
  return method === 'DELETE' ? 'destroy' : 'update';
}
