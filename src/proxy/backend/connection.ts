import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { BackendError } from './backend-error.ts';
import { ResponseParser, type ResponseHead } from './response-parser.ts';
import type { BackendController, BackendHandler, BackendRequest, BackendTimeouts } from './types.ts';

/** What a connection tells its pool. */
export interface ConnectionOwner {
  /** The exchange ended cleanly and the connection may carry another. */
  reuse(connection: BackendConnection): void;
  /** The connection closed (for whatever reason); forget it. */
  closed(connection: BackendConnection): void;
}

const LAST_CHUNK = '0\r\n\r\n';
const CRLF = Buffer.from('\r\n');

/**
 * One keep-alive connection to a Machine, carrying one exchange at a time (no
 * pipelining: a backend that answers out of turn cannot mix two clients' responses).
 * Its socket listeners are set once, not per request, and its one idle timer is the
 * socket's own (refreshed by Node on every read and write): the headers timeout while
 * waiting for a head, the body timeout after it.
 */
export class BackendConnection {
  readonly socket: Socket;
  readonly #owner: ConnectionOwner;
  readonly #timeouts: BackendTimeouts;
  #handler: BackendHandler | undefined;
  /** One parser for the connection's life, reset per exchange; `#parsing` while one runs. */
  readonly #parser: ResponseParser;
  #parsing = false;
  #body: Readable | undefined;
  #bodyDone = true;
  /** Stops sending the request body (its listeners off). */
  #stopBody: (() => void) | undefined;
  #headSeen = false;
  #timeoutMs = -1;
  /** When it went back to the pool (for the keep-alive sweep). */
  idleSince = 0;
  /** The running exchange's controller; a finished exchange's one no longer acts. */
  #control: ExchangeControl | undefined;

  constructor(socket: Socket, owner: ConnectionOwner, timeouts: BackendTimeouts) {
    this.socket = socket;
    this.#owner = owner;
    this.#timeouts = timeouts;
    this.#parser = new ResponseParser('GET', {
      onHead: (head) => this.#onHead(head),
      onBody: (chunk, last) => this.#handler?.onResponseData(this.#control!, chunk, last),
      onEnd: () => this.#onResponseEnd(),
    });
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.#onData(data));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => {
      this.#fail(new BackendError('UND_ERR_SOCKET', 'the connection to the backend closed'));
      this.#owner.closed(this);
    });
    socket.on('timeout', () => this.#onTimeout());
    socket.on('drain', () => this.#body?.resume());
  }

  /** True while an exchange runs on it. */
  get busy(): boolean {
    return this.#handler !== undefined;
  }

  /** Sends `request` and reports to `handler`. The connection must be idle and open. */
  run(request: BackendRequest, handler: BackendHandler): void {
    this.#handler = handler;
    this.#headSeen = false;
    const control = new ExchangeControl(this);
    this.#control = control;
    // A response the client read slowly may have ended with the socket paused.
    if (this.socket.isPaused()) this.socket.resume();
    this.#parser.reset(request.method);
    this.#parsing = true;
    this.#setTimeout(this.#timeouts.headersTimeoutMs);
    handler.onRequestStart(control);
    if (this.#handler !== handler) return; // aborted at once
    const { body } = request;
    let chunked = false;
    let head = `${request.method} ${request.path} HTTP/1.1\r\n`;
    const headers = request.headers;
    let hasLength = false;
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i]!;
      if (name.length === 14 && name.toLowerCase() === 'content-length') hasLength = true;
      head += `${name}: ${headers[i + 1]!}\r\n`;
    }
    if (body !== null && !hasLength) {
      chunked = true;
      head += 'transfer-encoding: chunked\r\n';
    }
    this.socket.write(`${head}\r\n`, 'latin1');
    if (body !== null) this.#sendBody(body, chunked);
  }

  /** Ends the exchange `control` belongs to, if it is still the running one. */
  abortFor(control: ExchangeControl, reason: Error): void {
    if (this.#control === control && this.#handler !== undefined) this.#fail(reason);
  }

  /** Pauses or resumes reading for the exchange `control` belongs to, if it still runs. */
  flowFor(control: ExchangeControl, flowing: boolean): void {
    if (this.#control !== control || this.#handler === undefined) return;
    if (flowing) this.socket.resume();
    else this.socket.pause();
  }

  /** Closes it now (pool closing, keep-alive expiry). */
  destroy(): void {
    this.socket.destroy();
  }

  #sendBody(body: Readable, chunked: boolean): void {
    this.#body = body;
    this.#bodyDone = false;
    const onData = (chunk: Buffer | string): void => {
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (data.length === 0) return;
      const ok = this.socket.write(chunked ? Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, CRLF]) : data);
      if (!ok) body.pause();
    };
    const onEnd = (): void => {
      cleanup();
      this.#bodyDone = true;
      if (chunked) this.socket.write(LAST_CHUNK);
      // A response that came before the body was all sent could not reuse the connection.
      if (this.#parsing && this.#parser.done) this.#release();
    };
    const onError = (err: Error): void => {
      cleanup();
      this.#fail(err);
    };
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      this.#body = undefined;
      this.#stopBody = undefined;
    };
    this.#stopBody = cleanup;
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.resume();
  }

  #onHead(head: ResponseHead): void {
    if (head.statusCode < 200) return; // 1xx (100 Continue, 103 Early Hints): the final one follows
    this.#headSeen = true;
    if (!head.keepAlive) this.#keepAlive = false;
    this.#setTimeout(this.#timeouts.bodyTimeoutMs);
    this.#handler?.onResponseStart(this.#control!, head.statusCode, head.headers, head.statusMessage);
  }

  #keepAlive = true;

  #onResponseEnd(): void {
    const handler = this.#handler;
    if (handler === undefined) return;
    handler.onResponseEnd(this.#control!);
    if (this.#bodyDone) this.#release();
  }

  /** After the whole exchange: back to the pool, or closed when it cannot be reused. */
  #release(): void {
    this.#handler = undefined;
    this.#parsing = false;
    if (!this.#keepAlive || this.socket.destroyed) {
      this.socket.destroy();
      return;
    }
    this.#setTimeout(this.#timeouts.headersTimeoutMs);
    this.#owner.reuse(this);
  }

  #onData(data: Buffer): void {
    const parser = this.#parser;
    if (!this.#parsing) {
      // Bytes nobody asked for: the connection cannot be trusted with another request.
      this.socket.destroy();
      return;
    }
    try {
      parser.feed(data);
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  #onEnd(): void {
    const parser = this.#parser;
    if (!this.#parsing) return;
    this.#keepAlive = false;
    try {
      parser.end();
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  #onTimeout(): void {
    const handler = this.#handler;
    if (handler === undefined) return; // idle: the pool's sweep closes it
    const waitingForHead = !this.#headSeen;
    this.#fail(
      waitingForHead
        ? new BackendError('UND_ERR_HEADERS_TIMEOUT', `the backend sent no response head within ${this.#timeouts.headersTimeoutMs} ms`)
        : new BackendError('UND_ERR_BODY_TIMEOUT', `the backend's response body was idle for ${this.#timeouts.bodyTimeoutMs} ms`),
    );
  }

  /** Ends the running exchange with `error` (once) and closes the connection. */
  #fail(error: Error): void {
    const handler = this.#handler;
    this.#handler = undefined;
    this.#parsing = false;
    this.#stopBody?.();
    this.#keepAlive = false;
    if (!this.socket.destroyed) this.socket.destroy();
    if (handler !== undefined) handler.onResponseError(this.#control!, error);
  }

  #setTimeout(ms: number): void {
    // Re-arming the same timeout per request costs a timer-list insert for nothing.
    if (this.#timeoutMs === ms) return;
    this.#timeoutMs = ms;
    this.socket.setTimeout(ms);
  }
}

/** One exchange's handle on its connection: inert once that exchange is over. */
class ExchangeControl implements BackendController {
  readonly #connection: BackendConnection;

  constructor(connection: BackendConnection) {
    this.#connection = connection;
  }

  abort(reason: Error): void {
    this.#connection.abortFor(this, reason);
  }

  pause(): void {
    this.#connection.flowFor(this, false);
  }

  resume(): void {
    this.#connection.flowFor(this, true);
  }
}
