import { connect } from 'node:net';
import { BackendError } from './backend-error.ts';
import { BackendConnection, type ConnectionOwner } from './connection.ts';
import type { BackendHandler, BackendRequest, BackendTimeouts } from './types.ts';

/** A controller for a request that never got a connection: there is nothing to abort. */
const NOT_CONNECTED = { abort: () => {}, pause: () => {}, resume: () => {} };

/**
 * Keep-alive connections to one Machine origin. The most recently used idle connection
 * is taken first (LIFO), so under light load a few warm connections do the work and
 * the rest age out; one sweep per pool, not one timer per connection, closes those
 * idle past the keep-alive timeout (Fly pools ~4 s). There is no cap on connections:
 * the balancer's hard_limit is what bounds a Machine's load.
 */
export class OriginPool implements ConnectionOwner {
  readonly #host: string;
  readonly #port: number;
  readonly #timeouts: BackendTimeouts;
  readonly #idle: BackendConnection[] = [];
  readonly #all = new Set<BackendConnection>();
  readonly #sweep: NodeJS.Timeout;
  #closing: (() => void) | undefined;
  #closed = false;

  constructor(origin: string, timeouts: BackendTimeouts) {
    const url = new URL(origin);
    this.#host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.#port = Number(url.port || 80);
    this.#timeouts = timeouts;
    this.#sweep = setInterval(() => this.#expire(), Math.max(250, timeouts.keepAliveTimeoutMs / 2));
    this.#sweep.unref();
  }

  /** Connections open now, busy or idle (for tests and metrics). */
  get size(): number {
    return this.#all.size;
  }

  dispatch(request: BackendRequest, handler: BackendHandler): void {
    if (this.#closed) {
      handler.onResponseError(NOT_CONNECTED, new BackendError('ALOFT_BACKEND_CLOSED', `the pool to ${request.origin} is closed`));
      return;
    }
    for (let idle = this.#idle.pop(); idle !== undefined; idle = this.#idle.pop()) {
      if (!idle.socket.destroyed) {
        idle.run(request, handler);
        return;
      }
    }
    this.#connect(request, handler);
  }

  reuse(connection: BackendConnection): void {
    if (this.#closed) {
      connection.destroy();
      return;
    }
    connection.idleSince = Date.now();
    this.#idle.push(connection);
  }

  closed(connection: BackendConnection): void {
    this.#all.delete(connection);
    const at = this.#idle.indexOf(connection);
    if (at >= 0) this.#idle.splice(at, 1);
    if (this.#closed && this.#all.size === 0) this.#closing?.();
  }

  /** Closes idle connections now and busy ones as their exchanges end. */
  close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const idle of this.#idle.splice(0)) idle.destroy();
    if (this.#all.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#closing = resolve;
    });
  }

  /** Closes every connection now, busy or not. */
  destroy(): void {
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const connection of [...this.#all]) connection.destroy();
  }

  #connect(request: BackendRequest, handler: BackendHandler): void {
    const socket = connect({ host: this.#host, port: this.#port });
    const timer = setTimeout(() => {
      socket.destroy(new BackendError('UND_ERR_CONNECT_TIMEOUT', `connecting to ${request.origin} took longer than ${this.#timeouts.connectTimeoutMs} ms`));
    }, this.#timeouts.connectTimeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      handler.onResponseError(NOT_CONNECTED, err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      const connection = new BackendConnection(socket, this, this.#timeouts);
      this.#all.add(connection);
      if (this.#closed) {
        connection.destroy();
        handler.onResponseError(NOT_CONNECTED, new BackendError('ALOFT_BACKEND_CLOSED', `the pool to ${request.origin} is closed`));
        return;
      }
      connection.run(request, handler);
    });
  }

  #expire(): void {
    const oldest = Date.now() - this.#timeouts.keepAliveTimeoutMs;
    // Idle connections are in the order they came back: the expired ones are first.
    let expired = 0;
    while (expired < this.#idle.length && this.#idle[expired]!.idleSince <= oldest) expired += 1;
    for (const connection of this.#idle.splice(0, expired)) connection.destroy();
  }
}
