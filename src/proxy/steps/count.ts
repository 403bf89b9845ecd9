import type { Step } from '../compose.ts';
import type { ProxyMetrics } from '../metrics.ts';

/**
 * Counts each request by app and status once the exchange is over. Status 0 means
 * no response started (the client went away first).
 */
export function countStep(metrics: ProxyMetrics): Step {
  return async (ctx, next) => {
    try {
      await next();
    } finally {
      metrics.countRequest(ctx.app, ctx.res.headersSent ? ctx.res.statusCode : 0);
    }
  };
}
