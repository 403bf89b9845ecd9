import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { AloftError } from '../../lib/errors.ts';

/** One asynchronous event QEMU sent (STOP, RESUME, SHUTDOWN, MIGRATION…). */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

/** Options of {@link QmpClient.connect}. */
export interface QmpConnectOptions {
  /** How long to keep trying to connect and negotiate (the socket appears as QEMU starts). */
  timeoutMs?: number;
  /** Default time a command may take before it fails with QMP_FAILED. */
  commandTimeoutMs?: number;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: AloftError) => void;
  timer: NodeJS.Timeout;
}

const RETRY_MS = 10;

/**
 * A client of QEMU's machine protocol (QMP) over a unix socket: JSON lines, a greeting,
 * `qmp_capabilities`, then commands answered by id, with events in between. Errors
 * QEMU returns, timeouts and a closed socket all reject as QMP_FAILED. Emits 'event'
 * (QmpEvent) and 'close'.
 */
export class QmpClient extends EventEmitter {
  readonly #socket: Socket;
  readonly #pending = new Map<string, Pending>();
  readonly #commandTimeoutMs: number;
  #buffer = '';
  #nextId = 1;
  #closed = false;

  private constructor(socket: Socket, commandTimeoutMs: number) {
    super();
    this.#socket = socket;
    this.#commandTimeoutMs = commandTimeoutMs;
  }

  /**
   * Connects to `path`, retrying while the socket does not exist yet or refuses, reads
   * the greeting and negotiates capabilities.
   */
  static async connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await openSocket(path, Math.max(1, deadline - Date.now()));
        const client = new QmpClient(socket, options.commandTimeoutMs ?? 30_000);
        await client.#negotiate(Math.max(1, deadline - Date.now()));
        return client;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const retriable = code === 'ENOENT' || code === 'ECONNREFUSED';
        if (!retriable || Date.now() >= deadline) {
          throw new AloftError('QMP_FAILED', `Cannot connect to QMP socket ${path}: ${(err as Error).message}`, { cause: err, details: { path } });
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  /** Runs one QMP command and resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = this.#commandTimeoutMs): Promise<T> {
    if (this.#closed) return Promise.reject(closedError(command));
    const id = `aloft-${this.#nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new AloftError('QMP_FAILED', `Cannot run QMP command '${command}' as QEMU must answer within ${timeoutMs} ms: got no answer`, { details: { command } }));
      }, timeoutMs);
      this.#pending.set(id, { command, resolve: resolve as (value: unknown) => void, reject, timer });
      const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.#socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  /** Resolves with the next event named `name` (optionally matching `filter`), or rejects on timeout or close. */
  waitForEvent(name: string, timeoutMs: number, filter: (event: QmpEvent) => boolean = () => true): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      const onEvent = (event: QmpEvent): void => {
        if (event.event !== name || !filter(event)) return;
        done();
        resolve(event);
      };
      const onClose = (): void => {
        done();
        reject(closedError(`wait for ${name}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new AloftError('QMP_FAILED', `Cannot wait for QMP event ${name} as it must come within ${timeoutMs} ms: got none`));
      }, timeoutMs);
      this.on('event', onEvent);
      this.once('close', onClose);
    });
  }

  /** True once the socket closed (QEMU exited, or close() was called). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the socket; commands still pending reject. */
  close(): void {
    this.#socket.destroy();
    this.#onClose();
  }

  async #negotiate(timeoutMs: number): Promise<void> {
    this.#socket.setEncoding('utf8');
    const greeting = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no QMP greeting within ${timeoutMs} ms`)), timeoutMs);
      this.#socket.once('close', () => reject(new Error('the socket closed before the QMP greeting')));
      this.#socket.on('data', (chunk: string) => {
        this.#buffer += chunk;
        let newline: number;
        while ((newline = this.#buffer.indexOf('\n')) >= 0) {
          const line = this.#buffer.slice(0, newline).trim();
          this.#buffer = this.#buffer.slice(newline + 1);
          if (line === '') continue;
          const message = JSON.parse(line) as Record<string, unknown>;
          if ('QMP' in message) {
            clearTimeout(timer);
            resolve();
          } else this.#dispatch(message);
        }
      });
    });
    this.#socket.on('close', () => this.#onClose());
    this.#socket.on('error', () => this.#onClose());
    try {
      await greeting;
      await this.execute('qmp_capabilities', undefined, timeoutMs);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  #dispatch(message: Record<string, unknown>): void {
    if (typeof message['event'] === 'string') {
      this.emit('event', message as unknown as QmpEvent);
      return;
    }
    const id = message['id'];
    const pending = typeof id === 'string' ? this.#pending.get(id) : undefined;
    if (pending === undefined) return;
    this.#pending.delete(id as string);
    clearTimeout(pending.timer);
    const error = message['error'] as { class?: string; desc?: string } | undefined;
    if (error !== undefined) {
      pending.reject(
        new AloftError('QMP_FAILED', `Cannot run QMP command '${pending.command}' as QEMU refused it: ${error.class ?? 'Error'}: ${error.desc ?? ''}`, {
          details: { command: pending.command, class: error.class, desc: error.desc },
        }),
      );
    } else pending.resolve(message['return']);
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(closedError(pending.command));
    }
    this.#pending.clear();
    this.emit('close');
  }
}

function closedError(command: string): AloftError {
  return new AloftError('QMP_FAILED', `Cannot run QMP command '${command}' as the QMP socket closed (QEMU exited?)`, { details: { command } });
}

function openSocket(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
