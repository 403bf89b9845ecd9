import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteEntry } from './route-entry.ts';
import type { AppRoutes } from './route-table.ts';
import { requestTarget } from './host.ts';

/**
 * One request's state as it passes through the proxy's steps. Steps read what earlier
 * ones set (resolve-app sets `app` and `routes`; forward sets `machine`) and may add
 * their own fields as the proxy grows.
 */
export interface ProxyContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Fly-Request-Id: on the response and on the forwarded request. */
  readonly requestId: string;
  /** The authority the client asked for (absolute-form target, else Host). */
  readonly host: string | undefined;
  /** The origin-form path and query to forward. */
  readonly path: string;
  /** The edge's region (Fly-Region). */
  readonly region: string;
  /** The app the host names; '' until resolved. */
  app: string;
  /** Where the app's traffic can go, as the table said when the request came. */
  routes: AppRoutes | undefined;
  /** The Machine that took the request, once one did. */
  machine: RouteEntry | undefined;
}

/** A context for a request that just arrived. */
export function createContext(
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  region: string,
): ProxyContext {
  const { host, path } = requestTarget(req.url ?? '/', req.headers.host);
  return { req, res, requestId, host, path, region, app: '', routes: undefined, machine: undefined };
}
