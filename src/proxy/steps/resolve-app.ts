import type { Step } from '../compose.ts';
import type { ProxyContext } from '../context.ts';
import { answer } from '../answers.ts';
import { appFromHost } from '../host.ts';
import type { AppRoutes, RouteTable } from '../route-table.ts';
import type { Autostarter } from '../autoscale/autostart.ts';

/**
 * Finds the app the Host names and where its traffic can go. Answers itself when
 * there is nowhere: 404 for a host outside the domain or an unknown app, 503 with
 * Retry-After for a known app with no started Machine. With an `autostarter`, a
 * request to an app with no started Machine waits while one of its stopped or
 * suspended Machines is started (503 if that fails or takes too long), and an app
 * whose Machines are all at their soft limit gets one more started.
 */
export function resolveAppStep(options: { table: RouteTable; domain: string; autostarter?: Autostarter | undefined }): Step {
  const { table, domain, autostarter } = options;
  // Not async: a request for an app with a started Machine (most) passes on without a promise of its own.
  return (ctx, next) => {
    const app = appFromHost(ctx.host, domain);
    if (app === undefined) {
      const shown = ctx.host === undefined ? 'no Host header' : JSON.stringify(ctx.host);
      answer(ctx, 'PROXY_NO_ROUTE', `Cannot route request as 'Host' must be '<app>.${domain}': got ${shown}`);
      return Promise.resolve();
    }
    ctx.app = app;
    const found = table.lookup(app);
    if (!found.known) {
      answer(ctx, 'APP_NOT_FOUND', `no app named "${app}" (host ${JSON.stringify(ctx.host)})`);
      return Promise.resolve();
    }
    if (found.started.length === 0 && autostarter !== undefined) return autostartThenNext(ctx, next, autostarter, table);
    if (autostarter?.wakesLocal(found) === true) return wakeLocalThenNext(ctx, next, autostarter, table);
    autostarter?.scaleUpIfSaturated(app, found);
    return routeTo(ctx, next, found);
  };
}

/** Starts a Machine for the request, then passes it on (or answers 503). */
async function autostartThenNext(ctx: ProxyContext, next: () => Promise<void>, autostarter: Autostarter, table: RouteTable): Promise<void> {
  const started = await autostart(ctx, autostarter, table);
  if (started !== undefined) await routeTo(ctx, next, started);
}

/**
 * Starts the app's Machine in this edge's region for the request (the nearest with
 * autostart: Autostarter's order), then passes it on; the app's Machines elsewhere
 * still take it if that start fails or is too slow.
 */
async function wakeLocalThenNext(ctx: ProxyContext, next: () => Promise<void>, autostarter: Autostarter, table: RouteTable): Promise<void> {
  // Whatever the outcome, route by the table as it is now (a failed start is the Machine's event to read).
  await autostarter.startFor(ctx.app);
  const after = table.lookup(ctx.app);
  await routeTo(ctx, next, after.known ? after : { started: [], starting: 0, unhealthy: 0, wakeable: [] });
}

/** Passes the request on with `routes`, or answers 503 when no Machine is started. */
function routeTo(ctx: ProxyContext, next: () => Promise<void>, routes: AppRoutes): Promise<void> {
  if (routes.started.length === 0) {
    const coming = routes.starting > 0;
    const message = coming
      ? `app "${ctx.app}" has no started machine yet: ${routes.starting} starting, retry shortly`
      : `app "${ctx.app}" has no started machine`;
    answer(ctx, 'PROXY_NO_STARTED_MACHINE', message, { 'retry-after': coming ? '1' : '5' });
    return Promise.resolve();
  }
  ctx.routes = routes;
  return next();
}

/** Starts a Machine for the request and returns the app's routes then; undefined when it answered. */
async function autostart(ctx: ProxyContext, autostarter: Autostarter, table: RouteTable): Promise<AppRoutes | undefined> {
  const result = await autostarter.startFor(ctx.app);
  if (result.outcome === 'failed') {
    answer(
      ctx,
      'PROXY_AUTOSTART_FAILED',
      `Cannot route request to app "${ctx.app}" as it had no started machine and machine ${result.machineId}, started for it, did not become routable: ${result.reason}`,
      { 'retry-after': '1' },
    );
    return undefined;
  }
  // Routable now (or, for `none`, whatever there is: a start of someone else's may have landed).
  const after = table.lookup(ctx.app);
  return after.known ? after : { started: [], starting: 0, unhealthy: 0, wakeable: [] };
}
