import type { IncomingHttpHeaders } from 'node:http';
import type { Backend, BackendController, BackendHandler } from './backend/index.ts';
import type { ProxyContext } from './context.ts';
import type { ClientGone } from './client-gone.ts';
import type { RouteEntry } from './route-entry.ts';
import { forwardedResponseHeaders } from './forwarded-headers.ts';
import type { AttemptProgress } from './retry-policy.ts';
import { isReplayResponse } from './replay/directive.ts';

/** A fly-replay response body (the JSON form) is read up to this many bytes. */
const REPLAY_BODY_LIMIT = 64 * 1024;

/** How one attempt to pass a request to a backend ended. */
export type AttemptResult =
  /** The backend's whole response reached the client. */
  | { readonly outcome: 'done' }
  /** It failed before any response byte; nothing was written to the client. */
  | { readonly outcome: 'failed'; readonly error: Error; readonly progress: AttemptProgress }
  /** It failed mid-response; the client connection was destroyed. */
  | { readonly outcome: 'broken'; readonly error: Error }
  /** The client went away; the backend request was aborted. */
  | { readonly outcome: 'aborted' };

/** Why a backend request was aborted when the client left. */
class ClientGoneError extends Error {
  readonly code = 'ALOFT_CLIENT_GONE';
  constructor() {
    super('the client closed the connection');
  }
}

/**
 * Sends `ctx.req` to `entry` over `backend` (pooled keep-alive connections) and
 * streams the response back, both ways without buffering and with backpressure. The
 * request body is the client's stream itself, so `bodyRead` says truthfully whether
 * any of it left: on a connect failure nothing was read and the caller may retry.
 */
export function exchange(
  backend: Backend,
  ctx: ProxyContext,
  entry: RouteEntry,
  headers: string[],
  hasBody: boolean,
  clientGone: ClientGone,
): Promise<AttemptResult> {
  const { req, res } = ctx;
  const method = req.method ?? 'GET';
  return new Promise((resolve) => {
    const progress = { dispatched: false, bodyRead: false, responded: false, method };
    let controller: BackendController | undefined;
    let settled = false;
    // A fly-replay response being read for the replay step instead of sent on.
    let captured: { headers: IncomingHttpHeaders; chunks: Buffer[]; size: number } | undefined;
    const body = hasBody ? (ctx.body?.current() ?? req) : null;
    const settle = (result: AttemptResult): void => {
      if (settled) return;
      settled = true;
      clientGone.unlisten();
      resolve(result);
    };
    const onGone = (): void => {
      // Settled first: the backend reports the abort as an error, which must not count as the backend's failure.
      settle({ outcome: 'aborted' });
      controller?.abort(new ClientGoneError());
    };
    if (clientGone.gone) return settle({ outcome: 'aborted' });
    clientGone.listen(onGone);

    const handler: BackendHandler = {
      onRequestStart(c) {
        controller = c;
        progress.dispatched = true;
        // The client may have left while we were connecting.
        if (settled) c.abort(new ClientGoneError());
      },
      onResponseStart(_c, statusCode, responseHeaders, statusMessage) {
        // 1xx (103 Early Hints…) are not passed on yet; the final response follows.
        if (statusCode < 200 || settled) return;
        progress.responded = true;
        if (ctx.replay !== undefined && isReplayResponse(responseHeaders)) {
          captured = { headers: responseHeaders, chunks: [], size: 0 };
          return;
        }
        ctx.machine = entry;
        res.writeHead(statusCode, statusMessage, forwardedResponseHeaders(responseHeaders, ctx.requestId));
      },
      onResponseData(c, chunk) {
        if (settled) return;
        if (captured !== undefined) {
          captured.size += chunk.length;
          if (captured.size <= REPLAY_BODY_LIMIT) captured.chunks.push(chunk);
          return;
        }
        if (!res.write(chunk)) {
          c.pause();
          res.once('drain', () => c.resume());
        }
      },
      onResponseEnd() {
        if (settled) return;
        if (captured !== undefined && ctx.replay !== undefined) {
          ctx.replay.asked = { entry, headers: captured.headers, body: Buffer.concat(captured.chunks) };
          settle({ outcome: 'done' });
          return;
        }
        res.end();
        settle({ outcome: 'done' });
      },
      onResponseError(_c, error) {
        if (settled) return;
        progress.bodyRead = body?.readableDidRead ?? false;
        if (progress.responded && captured === undefined) {
          // Half a response cannot be taken back: cut the client off so it sees a failure.
          res.destroy(error);
          settle({ outcome: 'broken', error });
        } else {
          settle({ outcome: 'failed', error, progress });
        }
      },
    };
    try {
      backend.dispatch(
        {
          origin: entry.origin,
          path: ctx.path,
          method,
          headers,
          body,
        },
        handler,
      );
    } catch (err) {
      settle({ outcome: 'failed', error: err instanceof Error ? err : new Error(String(err)), progress });
    }
  });
}

/** True when `req` carries a body (RFC 7230 §3.3.3: Transfer-Encoding or a non-zero Content-Length). */
export function hasRequestBody(ctx: ProxyContext): boolean {
  const { headers } = ctx.req;
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}
