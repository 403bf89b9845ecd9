import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Backend, BackendController, BackendHandler } from './backend/index.ts';
import type { ProxyContext } from './context.ts';
import type { ClientGone } from './client-gone.ts';
import type { RouteEntry } from './route-entry.ts';
import { forwardedResponseHeaders } from './forwarded-headers.ts';
import type { AttemptProgress } from './retry-policy.ts';
import { isReplayResponse } from './replay/directive.ts';

/** A fly-replay response body (the JSON form) is read up to this many bytes. */
const REPLAY_BODY_LIMIT = 64 * 1024;
/** A last body chunk up to this size is cheaper to send as a string than as a Buffer (see onResponseData). */
const SMALL_BODY = 2048;

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
  return new Promise((resolve) => {
    const attempt = new Attempt(ctx, entry, hasBody, clientGone, resolve);
    if (clientGone.gone) return attempt.settle({ outcome: 'aborted' });
    clientGone.listen(() => attempt.clientLeft());
    try {
      backend.dispatch({ origin: entry.origin, path: ctx.path, method: attempt.progress.method, headers, body: attempt.body }, attempt);
    } catch (err) {
      attempt.settle({ outcome: 'failed', error: err instanceof Error ? err : new Error(String(err)), progress: attempt.progress });
    }
  });
}

/**
 * One attempt's handler, as a class: its methods live on the prototype, so an attempt
 * costs one object rather than a closure per callback (the hot path; tsx also names
 * every named closure as it is made, an Object.defineProperty each).
 */
class Attempt implements BackendHandler {
  readonly progress: AttemptProgress;
  readonly body: Readable | null;
  readonly #ctx: ProxyContext;
  readonly #entry: RouteEntry;
  readonly #gone: ClientGone;
  readonly #resolve: (result: AttemptResult) => void;
  #controller: BackendController | undefined;
  #settled = false;
  /** The client's response was ended with the body's last chunk. */
  #ended = false;
  /** A fly-replay response being read for the replay step instead of sent on. */
  #captured: { headers: IncomingHttpHeaders; chunks: Buffer[]; size: number } | undefined;

  constructor(ctx: ProxyContext, entry: RouteEntry, hasBody: boolean, gone: ClientGone, resolve: (result: AttemptResult) => void) {
    this.#ctx = ctx;
    this.#entry = entry;
    this.#gone = gone;
    this.#resolve = resolve;
    const { req } = ctx;
    this.progress = { dispatched: false, bodyRead: false, responded: false, method: req.method ?? 'GET' };
    this.body = hasBody ? (ctx.body?.current() ?? req) : null;
  }

  /** The client left: settled first, as the backend reports the abort as an error that must not count as its failure. */
  clientLeft(): void {
    this.settle({ outcome: 'aborted' });
    this.#controller?.abort(new ClientGoneError());
  }

  settle(result: AttemptResult): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#gone.unlisten();
    this.#resolve(result);
  }

  onRequestStart(c: BackendController): void {
    this.#controller = c;
    this.progress.dispatched = true;
    // The client may have left while we were connecting.
    if (this.#settled) c.abort(new ClientGoneError());
  }

  onResponseStart(_c: BackendController, statusCode: number, responseHeaders: IncomingHttpHeaders, statusMessage: string): void {
    // 1xx (103 Early Hints…) are not passed on yet; the final response follows.
    if (statusCode < 200 || this.#settled) return;
    this.progress.responded = true;
    const ctx = this.#ctx;
    if (ctx.replay !== undefined && isReplayResponse(responseHeaders)) {
      this.#captured = { headers: responseHeaders, chunks: [], size: 0 };
      return;
    }
    ctx.machine = this.#entry;
    ctx.res.writeHead(statusCode, statusMessage, forwardedResponseHeaders(responseHeaders, ctx.requestId));
  }

  onResponseData(c: BackendController, chunk: Buffer, last?: boolean): void {
    if (this.#settled) return;
    const captured = this.#captured;
    if (captured !== undefined) {
      captured.size += chunk.length;
      if (captured.size <= REPLAY_BODY_LIMIT) captured.chunks.push(chunk);
      return;
    }
    const { res } = this.#ctx;
    if (last === true) {
      // Head and whole body in one write (Node's end(chunk) skips write()'s cork-until-next-tick).
      // A small body goes as a latin1 string (the bytes unchanged): Node then joins it to
      // the head and makes one socket write, not a corked head, body and end.
      this.#ended = true;
      if (chunk.length <= SMALL_BODY) res.end(chunk.toString('latin1'), 'latin1');
      else res.end(chunk);
      return;
    }
    if (!res.write(chunk)) {
      c.pause();
      res.once('drain', () => c.resume());
    }
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    const ctx = this.#ctx;
    const captured = this.#captured;
    if (captured !== undefined && ctx.replay !== undefined) {
      ctx.replay.asked = { entry: this.#entry, headers: captured.headers, body: Buffer.concat(captured.chunks) };
      this.settle(DONE);
      return;
    }
    if (!this.#ended) ctx.res.end();
    this.settle(DONE);
  }

  onResponseError(_c: BackendController, error: Error): void {
    if (this.#settled) return;
    const { progress } = this;
    progress.bodyRead = this.body?.readableDidRead ?? false;
    if (progress.responded && this.#captured === undefined) {
      // Half a response cannot be taken back: cut the client off so it sees a failure.
      this.#ctx.res.destroy(error);
      this.settle({ outcome: 'broken', error });
    } else {
      this.settle({ outcome: 'failed', error, progress });
    }
  }
}

const DONE: AttemptResult = Object.freeze({ outcome: 'done' });

/** True when `req` carries a body (RFC 7230 §3.3.3: Transfer-Encoding or a non-zero Content-Length). */
export function hasRequestBody(ctx: ProxyContext): boolean {
  const { headers } = ctx.req;
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}
