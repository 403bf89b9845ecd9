import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { AloftError } from '../../lib/errors.ts';
import { decodeGuestMessage, encodeHostMessage, LineSplitter, type GuestMessage, type HostMessage } from '../../guest/protocol.ts';

type Reply = Extract<GuestMessage, { id: string }>;

/**
 * The host end of the guest channel (src/guest/PROTOCOL.md) on the unix socket QEMU
 * serves for the virtio-serial port. Lifecycle lines (hello, started, exit, fatal) are
 * kept in `lifecycle` and emitted as 'message'; requests with an id resolve with the
 * guest's answer to that id. Emits 'close' when QEMU (or the guest) goes away.
 */
export class GuestChannel extends EventEmitter {
  readonly lifecycle: GuestMessage[] = [];
  readonly #socket: Socket;
  readonly #waiting = new Map<string, (reply: Reply) => void>();
  #nextId = 1;
  #closed = false;

  private constructor(socket: Socket) {
    super();
    this.#socket = socket;
    const splitter = new LineSplitter();
    socket.on('data', (chunk: Buffer) => {
      for (const line of splitter.push(chunk)) this.#onMessage(decodeGuestMessage(line));
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#closed = true;
      this.emit('close');
    });
  }

  /** Connects, retrying while QEMU has not created the socket yet, up to `timeoutMs`. */
  static async connect(path: string, timeoutMs: number): Promise<GuestChannel> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        return new GuestChannel(socket);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() >= deadline) {
          throw new AloftError('RUNTIME_FAILED', `Cannot connect to the guest channel ${path}: ${(err as Error).message}`, { cause: err });
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a line that expects no answer (poweroff). */
  send(message: HostMessage): void {
    if (!this.#closed) this.#socket.write(encodeHostMessage(message));
  }

  /** Sends a request with a fresh id; resolves with the guest's answer, or rejects after `timeoutMs`. */
  request(make: (id: string) => HostMessage, timeoutMs: number): Promise<Reply> {
    const id = `h${this.#nextId++}`;
    return new Promise((resolve, reject) => {
      const onClose = (): void => {
        this.#waiting.delete(id);
        clearTimeout(timer);
        reject(new AloftError('RUNTIME_FAILED', 'Cannot reach the guest as its channel closed (the VM stopped?)'));
      };
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        this.off('close', onClose);
        reject(new AloftError('RUNTIME_FAILED', `Cannot reach the guest as it must answer within ${timeoutMs} ms: got no answer`));
      }, timeoutMs);
      this.#waiting.set(id, (reply) => {
        clearTimeout(timer);
        this.off('close', onClose);
        resolve(reply);
      });
      this.once('close', onClose);
      this.#socket.write(encodeHostMessage(make(id)));
    });
  }

  /** The first lifecycle message of one of `types` (already seen or still to come), or null on close/timeout. */
  next(types: GuestMessage['type'][], timeoutMs: number): Promise<GuestMessage | null> {
    const seen = this.lifecycle.find((m) => types.includes(m.type));
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const done = (value: GuestMessage | null): void => {
        clearTimeout(timer);
        this.off('message', onMessage);
        this.off('close', onClose);
        resolve(value);
      };
      const onMessage = (m: GuestMessage): void => {
        if (types.includes(m.type)) done(m);
      };
      const onClose = (): void => done(null);
      const timer = setTimeout(() => done(null), timeoutMs);
      this.on('message', onMessage);
      this.once('close', onClose);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #onMessage(message: GuestMessage): void {
    if ('id' in message && typeof message.id === 'string') {
      this.#waiting.get(message.id)?.(message as Reply);
      this.#waiting.delete(message.id);
      return;
    }
    this.lifecycle.push(message);
    this.emit('message', message);
  }
}
