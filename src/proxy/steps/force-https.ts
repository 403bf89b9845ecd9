import type { TLSSocket } from 'node:tls';
import type { Step } from '../compose.ts';

/**
 * Fly's `force_https`: a plain-HTTP request for an app whose HTTP service port says
 * `force_https = true` gets a 301 to the same host, path and query over https (on
 * `httpsPort`, left out of the URL when it is 443). Runs after the app is resolved.
 */
export function forceHttpsStep(httpsPort: () => number | undefined): Step {
  return (ctx, next) => {
    const started = ctx.routes?.started;
    if ((ctx.req.socket as TLSSocket).encrypted || started === undefined || !started.some((e) => e.forceHttps === true)) {
      return next();
    }
    const port = httpsPort();
    if (port === undefined) return next();
    const host = (ctx.host ?? '').replace(/:\d+$/, '');
    const location = `https://${host}${port === 443 ? '' : `:${port}`}${ctx.path.startsWith('/') ? ctx.path : '/'}`;
    const { res } = ctx;
    res.statusCode = 301;
    res.setHeader('location', location);
    res.setHeader('content-length', '0');
    res.setHeader('fly-request-id', ctx.requestId);
    res.end();
    return Promise.resolve();
  };
}
