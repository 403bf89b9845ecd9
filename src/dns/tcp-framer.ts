import type { Socket } from 'node:net';

/** Queries one connection may have waiting for replies before it is read no further. */
const MAX_PENDING = 64;

/**
 * One DNS-over-TCP connection (RFC 1035 §4.2.2, RFC 7766): each message is prefixed by
 * its length in two bytes. Queries may be pipelined; their replies are written as they
 * are ready, in any order (the IDs match them up). A connection that sends nothing for
 * `idleMs` is closed, and one that has MAX_PENDING replies outstanding is not read
 * until some are written, so a client cannot queue unbounded work.
 */
export class TcpFramer {
  readonly #socket: Socket;
  readonly #onQuery: (query: Buffer) => Buffer | undefined | Promise<Buffer | undefined>;
  #buffer: Buffer = Buffer.alloc(0);
  #pending = 0;
  #ending = false;
  #drained: (() => void) | undefined;
  readonly #closed: Promise<void>;

  constructor(socket: Socket, options: { idleMs: number; onQuery: (query: Buffer) => Buffer | undefined | Promise<Buffer | undefined>; onClose: () => void }) {
    this.#socket = socket;
    this.#onQuery = options.onQuery;
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.#closed.then(options.onClose);
    socket.setNoDelay(true);
    socket.setTimeout(options.idleMs, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
  }

  /** Reads no more queries, writes the replies still owed, then closes. */
  async end(): Promise<void> {
    this.#ending = true;
    this.#socket.pause();
    if (this.#pending > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    this.#socket.end();
    // A peer that never closes its side is cut off rather than holding the shutdown.
    const timer = setTimeout(() => this.#socket.destroy(), 1000);
    await this.#closed;
    clearTimeout(timer);
  }

  #read(chunk: Buffer): void {
    if (this.#ending) return;
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 2) {
      const length = this.#buffer.readUInt16BE(0);
      if (this.#buffer.length < 2 + length) break;
      const query = this.#buffer.subarray(2, 2 + length);
      this.#buffer = this.#buffer.subarray(2 + length);
      this.#answer(query);
    }
    if (this.#pending >= MAX_PENDING) this.#socket.pause();
  }

  #answer(query: Buffer): void {
    this.#pending++;
    const reply = this.#onQuery(query);
    if (reply instanceof Promise) void reply.then((r) => this.#write(r), () => this.#write(undefined));
    else this.#write(reply);
  }

  #write(reply: Buffer | undefined): void {
    this.#pending--;
    if (reply !== undefined && !this.#socket.destroyed) {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(reply.length);
      this.#socket.write(Buffer.concat([prefix, reply]));
    }
    if (this.#pending === 0) this.#drained?.();
    if (!this.#ending && this.#pending < MAX_PENDING && this.#socket.isPaused()) this.#socket.resume();
  }
}
