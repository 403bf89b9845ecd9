import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { RouteEntry } from './route-entry.ts';
import type { Steering } from './balance/steering.ts';
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
  /** The origin-form path and query to forward (a JSON fly-replay may replace it). */
  path: string;
  /** The edge's region (Fly-Region). */
  readonly region: string;
  /** The app the host names; '' until resolved. */
  app: string;
  /** Where the app's traffic can go, as the table said when the request came. */
  routes: AppRoutes | undefined;
  /** The Machine that took the request, once one did. */
  machine: RouteEntry | undefined;
  /** Set by the steer step: the request's fly-force-* / fly-prefer-* headers. */
  steering: Steering | undefined;
  /** Set by the replay step: the request body, sendable again (else the client's stream, once). */
  body: { current(): Readable } | undefined;
  /**
   * Set by the replay step: exchange watches responses for fly-replay and, instead of
   * passing one on, leaves it here for the replay step.
   */
  replay: { asked: ReplayAsked | undefined } | undefined;
  /** Set by the replay step: only Machines it accepts may take this request (a replay's target). */
  accept: ((entry: RouteEntry) => boolean) | undefined;
  /** Set by the replay step: headers added to the forwarded request (fly-replay-src…). */
  extraHeaders: string[] | undefined;
  /** Set by the replay step: how long to keep retrying unreachable Machines (a replay's timeout). */
  retryBudgetMs: number | undefined;
  /**
   * Set by the replay step: when no Machine can be reached, forward calls this instead
   * of answering 502, so a failed replay can fall back (Fly's `fallback`).
   */
  onUnreachable: ((message: string) => void) | undefined;
}

/** A backend response that asked for a replay: who sent it, its headers and (capped) body. */
export interface ReplayAsked {
  entry: RouteEntry;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A context for a request that just arrived. */
export function createContext(
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  region: string,
): ProxyContext {
  const { host, path } = requestTarget(req.url ?? '/', req.headers.host);
  return {
    req,
    res,
    requestId,
    host,
    path,
    region,
    app: '',
    routes: undefined,
    machine: undefined,
    steering: undefined,
    body: undefined,
    replay: undefined,
    accept: undefined,
    extraHeaders: undefined,
    retryBudgetMs: undefined,
    onUnreachable: undefined,
  };
}
