import { BackendError } from './backend-error.ts';
import { OriginPool } from './origin-pool.ts';
import type { Backend, BackendHandler, BackendRequest, BackendTimeouts } from './types.ts';

export const DEFAULT_BACKEND_TIMEOUTS: BackendTimeouts = {
  connectTimeoutMs: 5000,
  headersTimeoutMs: 60_000,
  bodyTimeoutMs: 60_000,
  keepAliveTimeoutMs: 4000,
};

const ignore = (): void => {};
const NOT_CONNECTED = { abort: () => {}, pause: () => {}, resume: () => {} };

/**
 * The proxy's backend: one keep-alive pool per Machine origin, made on first use, and
 * what a general-purpose agent does not offer: closing the pool of one origin
 * (`closeOrigin`), so a Machine about to be stopped or suspended has no idle proxy
 * connection left open (a checkpoint wants quiet sockets).
 *
 * It replaces undici in the hot path: the proxy needs only HTTP/1.1 without
 * pipelining, and a client that writes each request head with one write and parses
 * responses without a general-purpose handler stack costs about a third less CPU per
 * request (bench/proxy.ts).
 */
export class BackendPools implements Backend {
  readonly #pools = new Map<string, OriginPool>();
  readonly #timeouts: BackendTimeouts;
  #closed = false;

  constructor(timeouts: Partial<BackendTimeouts> = {}) {
    this.#timeouts = { ...DEFAULT_BACKEND_TIMEOUTS, ...timeouts };
  }

  dispatch(request: BackendRequest, handler: BackendHandler): void {
    // A body's own error (the client leaving mid-body) is seen by the forward step
    // through the exchange and the client's close; it must never be an uncaught one,
    // even when no connection came to read the body.
    request.body?.on('error', ignore);
    let pool = this.#pools.get(request.origin);
    if (pool === undefined) {
      if (this.#closed) {
        handler.onResponseError(NOT_CONNECTED, new BackendError('ALOFT_BACKEND_CLOSED', 'the proxy backend pools are closed'));
        return;
      }
      pool = new OriginPool(request.origin, this.#timeouts);
      this.#pools.set(request.origin, pool);
    }
    pool.dispatch(request, handler);
  }

  has(origin: string): boolean {
    return this.#pools.has(origin);
  }

  async closeOrigin(origin: string): Promise<void> {
    const pool = this.#pools.get(origin);
    if (pool === undefined) return;
    this.#pools.delete(origin);
    await pool.close();
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  /** Closes every connection now, busy or not. */
  destroy(): void {
    this.#closed = true;
    for (const pool of this.#pools.values()) pool.destroy();
    this.#pools.clear();
  }
}
