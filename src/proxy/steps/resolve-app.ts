import type { Step } from '../compose.ts';
import { answer } from '../answers.ts';
import { appFromHost } from '../host.ts';
import type { RouteTable } from '../route-table.ts';

/**
 * Finds the app the Host names and where its traffic can go. Answers itself when
 * there is nowhere: 404 for a host outside the domain or an unknown app, 503 with
 * Retry-After for a known app with no started Machine.
 */
export function resolveAppStep(options: { table: RouteTable; domain: string }): Step {
  const { table, domain } = options;
  return (ctx, next) => {
    const app = appFromHost(ctx.host, domain);
    if (app === undefined) {
      const shown = ctx.host === undefined ? 'no Host header' : JSON.stringify(ctx.host);
      answer(ctx, 'PROXY_NO_ROUTE', `Cannot route request as 'Host' must be '<app>.${domain}': got ${shown}`);
      return Promise.resolve();
    }
    ctx.app = app;
    const routes = table.lookup(app);
    if (!routes.known) {
      answer(ctx, 'APP_NOT_FOUND', `no app named "${app}" (host ${JSON.stringify(ctx.host)})`);
      return Promise.resolve();
    }
    if (routes.started.length === 0) {
      const coming = routes.starting > 0;
      const message = coming
        ? `app "${app}" has no started machine yet: ${routes.starting} starting, retry shortly`
        : `app "${app}" has no started machine`;
      answer(ctx, 'PROXY_NO_STARTED_MACHINE', message, { 'retry-after': coming ? '1' : '5' });
      return Promise.resolve();
    }
    ctx.routes = routes;
    return next();
  };
}
