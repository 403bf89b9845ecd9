import { connect } from 'node:net';
import { AloftError } from '../../lib/errors.ts';
import { encodeSet, GET_REQUEST, parseGet, replyErrno, type UapiDeviceConfig, type UapiDeviceState } from './uapi-protocol.ts';

/** Options of {@link UapiClient}. */
export interface UapiClientOptions {
  /** A request with no full answer in this long fails (default 5000 ms). */
  timeoutMs?: number;
}

/** A reply bigger than this is not a WireGuard device's (a peer is ~300 bytes). */
const MAX_REPLY_BYTES = 64 << 20;

/**
 * Talks to one wireguard-go over its UAPI unix socket: one connection per request, so a
 * daemon restarted between requests is simply found again. `set` is one request however
 * many peers it names; wireguard-go applies it line by line, so a bad line (which
 * encodeSet refuses before sending) could otherwise leave half of it applied.
 */
export class UapiClient {
  readonly socketPath: string;
  readonly #timeoutMs: number;

  constructor(socketPath: string, options: UapiClientOptions = {}) {
    this.socketPath = socketPath;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  /** The device's listen port and peers. */
  async get(): Promise<UapiDeviceState> {
    return parseGet(await this.#request(GET_REQUEST, 'read WireGuard device'));
  }

  /** Applies `config` in one `set=1`; WIREGUARD_FAILED with the errno when refused. */
  async set(config: UapiDeviceConfig): Promise<void> {
    const text = encodeSet(config);
    const errno = replyErrno(await this.#request(text, 'configure WireGuard device'));
    if (errno !== 0) {
      throw new AloftError('WIREGUARD_FAILED', `Cannot configure WireGuard device at ${this.socketPath} as the UAPI refused the set: errno=${errno}`, {
        details: { errno, socketPath: this.socketPath },
      });
    }
  }

  #request(text: string, action: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.socketPath);
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const finish = (err: Error | null, reply?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(reply ?? '');
      };
      const fail = (why: string, cause?: unknown): void =>
        finish(new AloftError('WIREGUARD_FAILED', `Cannot ${action} at ${this.socketPath}: ${why}`, { cause, details: { socketPath: this.socketPath } }));
      const timer = setTimeout(() => fail(`no answer within ${this.#timeoutMs} ms`), this.#timeoutMs);
      socket.on('error', (err: NodeJS.ErrnoException) => fail(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? `wireguard-go is not listening (${err.code})` : err.message, err));
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size > MAX_REPLY_BYTES) return fail(`the reply passed ${MAX_REPLY_BYTES} bytes`);
        // Every reply, get's included, ends with its errno line and an empty line.
        const reply = Buffer.concat(chunks).toString('utf8');
        if (/(?:^|\n)errno=-?\d+\n\n$/.test(reply)) finish(null, reply);
      });
      socket.on('close', () => fail('the daemon closed the connection before a full answer'));
      socket.write(text);
    });
  }
}
