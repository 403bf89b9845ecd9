import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

/** One request for a Machine: where, what, and the body to stream (null: none). */
export interface BackendRequest {
  /** `http://host:port` of the Machine's service. */
  origin: string;
  /** Origin-form target: path and query. */
  path: string;
  method: string;
  /** Flat [name, value, …] list, Host included, hop-by-hop headers already removed. */
  headers: readonly string[];
  /**
   * The body, read once. With a Content-Length in `headers` it is sent as is, else
   * with the chunked coding.
   */
  body: Readable | null;
}

/** What a handler may do to the exchange it is told about. */
export interface BackendController {
  /** Ends the exchange now: the connection is closed, `onResponseError(reason)` follows. */
  abort(reason: Error): void;
  /** Stops reading the response (the client is slow); `resume` reads on. */
  pause(): void;
  resume(): void;
}

/**
 * Told about one exchange, in order: `onRequestStart` once a connection is ready and
 * the request is about to be written (never, if connecting failed); the response's
 * head, data and end; or `onResponseError` at any point instead of what is left.
 * (The same shape as undici's DispatchHandler, so handlers read alike.)
 */
export interface BackendHandler {
  onRequestStart(controller: BackendController): void;
  onResponseStart(controller: BackendController, statusCode: number, headers: IncomingHttpHeaders, statusMessage: string): void;
  /**
   * A piece of the body. `last` is true when it ends the body (onResponseEnd follows
   * at once): a handler may end its own output with it, in one write.
   */
  onResponseData(controller: BackendController, chunk: Buffer, last?: boolean): void;
  onResponseEnd(controller: BackendController): void;
  onResponseError(controller: BackendController, error: Error): void;
}

/** The proxy's way to Machines: pooled keep-alive connections, one pool per origin. */
export interface Backend {
  dispatch(request: BackendRequest, handler: BackendHandler): void;
  /** Whether a pool for `origin` is open (for tests). */
  has(origin: string): boolean;
  /**
   * Forgets the pool of `origin`: idle connections close now, busy ones when their
   * exchange ends. Resolves once all are closed. A later request opens a fresh pool.
   */
  closeOrigin(origin: string): Promise<void>;
  /** Closes every pool the same way; dispatch fails from then on. */
  close(): Promise<void>;
}

/** Timeouts and pooling of backend connections. */
export interface BackendTimeouts {
  /** Give up connecting after this long. */
  connectTimeoutMs: number;
  /** Give up when no response head came this long after the request was sent. */
  headersTimeoutMs: number;
  /** Give up when the response body is idle this long (0: never). */
  bodyTimeoutMs: number;
  /** Close a pooled connection idle this long. */
  keepAliveTimeoutMs: number;
}
