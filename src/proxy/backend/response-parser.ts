import type { IncomingHttpHeaders } from 'node:http';
import { BackendError } from './backend-error.ts';

/** A response's status line and headers, as the backend sent them. */
export interface ResponseHead {
  statusCode: number;
  statusMessage: string;
  /** Lower-case names; `set-cookie` always a list, other repeats joined with ", ". */
  headers: IncomingHttpHeaders;
  /** Whether the connection may carry another request after this response. */
  keepAlive: boolean;
}

/** What the parser tells its owner, in order: head (1xx heads too), body chunks, end. */
export interface ResponseEvents {
  onHead(head: ResponseHead): void;
  /** `last`: this chunk ends the body (onEnd follows at once), so the owner may end its output with it. */
  onBody(chunk: Buffer, last: boolean): void;
  onEnd(): void;
}

/** Bounds on what a backend may send before its body. */
export interface ResponseLimits {
  /** Status line and headers together, in bytes. Default 64 KiB. */
  maxHeadBytes: number;
  /** Header fields. Default 256. */
  maxHeaders: number;
}

export const DEFAULT_RESPONSE_LIMITS: ResponseLimits = { maxHeadBytes: 64 * 1024, maxHeaders: 256 };

const CRLF_CRLF = Buffer.from('\r\n\r\n');
/** What is left of a chunk read to its end (no subarray made per response). */
const EMPTY = Buffer.alloc(0);
/** RFC 9110 token characters, for header names. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values: visible characters, spaces and tabs, obs-text; no CR, LF or NUL. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * `HTTP/1.x NNN[ reason]` (RFC 9112 §4), read by character rather than a capturing
 * regex; undefined when it is anything else.
 */
function readStatusLine(line: string): { http10: boolean; code: number; message: string } | undefined {
  if (line.length < 12 || !line.startsWith('HTTP/1.') || line.charCodeAt(8) !== 32) return undefined;
  const minor = line.charCodeAt(7);
  const d0 = line.charCodeAt(9) - 48;
  const d1 = line.charCodeAt(10) - 48;
  const d2 = line.charCodeAt(11) - 48;
  if ((minor !== 48 && minor !== 49) || d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return undefined;
  let message = '';
  if (line.length > 12) {
    if (line.charCodeAt(12) !== 32) return undefined;
    message = line.slice(13);
    if (!FIELD_VALUE.test(message)) return undefined;
  }
  return { http10: minor === 48, code: d0 * 100 + d1 * 10 + d2, message };
}

type Framing =
  | { kind: 'length'; left: number }
  | { kind: 'chunked' }
  | { kind: 'close' }
  | { kind: 'none' };

/**
 * An incremental HTTP/1.1 response parser for the proxy's backend connections, strict
 * where a lenient parser would let one response be read two ways: bare LF line ends,
 * obs-fold, spaces before the colon, Transfer-Encoding other than a final `chunked`,
 * Content-Length with Transfer-Encoding or with differing values — all refused with
 * a BackendError, after which the connection is never reused. Framing per RFC 9112
 * §6.3: no body for HEAD, 1xx, 204 and 304; chunked; Content-Length; else read to close.
 */
export class ResponseParser {
  readonly #events: ResponseEvents;
  readonly #limits: ResponseLimits;
  #head: boolean;
  #pending: Buffer | undefined;
  #framing: Framing | undefined;
  #chunks: ChunkedState | undefined;
  #done = false;

  constructor(method: string, events: ResponseEvents, limits: ResponseLimits = DEFAULT_RESPONSE_LIMITS) {
    this.#head = method === 'HEAD';
    this.#events = events;
    this.#limits = limits;
  }

  /**
   * Readies it for the next response on the same connection, to a request of
   * `method` (one parser per connection, not one per request: the hot path).
   */
  reset(method: string): void {
    this.#head = method === 'HEAD';
    this.#pending = undefined;
    this.#framing = undefined;
    this.#chunks = undefined;
    this.#done = false;
  }

  /** True once the whole response (not a 1xx) was read. */
  get done(): boolean {
    return this.#done;
  }

  /** True while the body is framed by the connection's close (so EOF ends it). */
  get readsToClose(): boolean {
    return this.#framing?.kind === 'close';
  }

  /** Feeds bytes read from the socket. Bytes after the response's end are an error (no pipelining). */
  feed(data: Buffer): void {
    let chunk = data;
    while (chunk.length > 0) {
      if (this.#done) throw new BackendError('ALOFT_BACKEND_PROTOCOL', 'the backend sent bytes after its response ended');
      if (this.#framing === undefined) {
        const rest = this.#readHead(chunk);
        if (rest === undefined) return;
        chunk = rest;
        continue;
      }
      chunk = this.#readBody(chunk, this.#framing);
    }
  }

  /** The connection closed: ends a close-delimited body, else the response was cut short. */
  end(): void {
    if (this.#done) return;
    if (this.#framing?.kind === 'close') {
      this.#finish();
      return;
    }
    throw new BackendError('UND_ERR_SOCKET', this.#framing === undefined ? 'the backend closed the connection before answering' : 'the backend closed the connection mid-response');
  }

  #readHead(chunk: Buffer): Buffer | undefined {
    const buffer = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    const end = buffer.indexOf(CRLF_CRLF);
    if (end < 0) {
      if (buffer.length > this.#limits.maxHeadBytes) throw this.#protocol(`its headers must be at most ${this.#limits.maxHeadBytes} bytes`);
      this.#pending = buffer;
      return undefined;
    }
    if (end + 4 > this.#limits.maxHeadBytes) throw this.#protocol(`its headers must be at most ${this.#limits.maxHeadBytes} bytes`);
    this.#pending = undefined;
    const head = this.#parseHead(buffer.toString('latin1', 0, end));
    this.#events.onHead(head.head);
    if (head.head.statusCode < 200) return buffer.subarray(end + 4); // 1xx: the real response follows
    this.#framing = head.framing;
    if (head.framing.kind === 'none' || (head.framing.kind === 'length' && head.framing.left === 0)) this.#finish();
    return buffer.subarray(end + 4);
  }

  #parseHead(text: string): { head: ResponseHead; framing: Framing } {
    // Walked with indexOf rather than split and one regex per line: this runs per response.
    let eol = text.indexOf('\r\n');
    if (eol < 0) eol = text.length;
    const statusLine = text.slice(0, eol);
    const status = readStatusLine(statusLine);
    if (status === undefined) throw this.#protocol(`its status line must be "HTTP/1.x NNN reason": got ${JSON.stringify(statusLine.slice(0, 80))}`);
    const headers: IncomingHttpHeaders = {};
    const store = headers as Record<string, string | string[]>;
    let lengths: string | undefined;
    let encoding: string | undefined;
    let connection = '';
    let fields = 0;
    for (let at = eol + 2; at <= text.length; at = eol + 2) {
      eol = text.indexOf('\r\n', at);
      if (eol < 0) eol = text.length;
      fields += 1;
      if (fields > this.#limits.maxHeaders) throw this.#protocol(`it must send at most ${this.#limits.maxHeaders} header fields`);
      const line = text.slice(at, eol);
      if (line.includes('\n')) throw this.#protocol('its lines must end with CRLF: got a bare LF');
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      if (!TOKEN.test(name)) throw this.#protocol(`a header line must be "name: value" with a token name: got ${JSON.stringify(line.slice(0, 80))}`);
      const value = line.slice(colon + 1).trim();
      if (!FIELD_VALUE.test(value)) throw this.#protocol(`header ${name} must hold no control characters`);
      const lower = name.toLowerCase();
      if (lower === 'content-length') lengths = lengths === undefined ? value : `${lengths},${value}`;
      else if (lower === 'transfer-encoding') encoding = encoding === undefined ? value : `${encoding},${value}`;
      else if (lower === 'connection') connection += `,${value.toLowerCase()}`;
      const previous = store[lower];
      if (previous === undefined) store[lower] = lower === 'set-cookie' ? [value] : value;
      else if (Array.isArray(previous)) previous.push(value);
      else store[lower] = `${previous}, ${value}`;
    }
    // Most responses send no Connection header: nothing to split then.
    const tokens = connection === '' ? [] : connection.split(',').map((t) => t.trim());
    const keepAlive = status.http10 ? tokens.includes('keep-alive') : !tokens.includes('close');
    return { head: { statusCode: status.code, statusMessage: status.message, headers, keepAlive }, framing: this.#framingOf(status.code, lengths, encoding) };
  }

  #framingOf(status: number, lengths: string | undefined, encoding: string | undefined): Framing {
    if (this.#head || status < 200 || status === 204 || status === 304) return { kind: 'none' };
    if (encoding !== undefined) {
      if (lengths !== undefined) throw this.#protocol('it must not send both Content-Length and Transfer-Encoding');
      const codings = encoding.split(',').map((c) => c.trim().toLowerCase());
      if (codings.at(-1) !== 'chunked' || codings.slice(0, -1).includes('chunked')) {
        throw this.#protocol(`its Transfer-Encoding must end in one "chunked": got ${JSON.stringify(encoding)}`);
      }
      return { kind: 'chunked' };
    }
    if (lengths !== undefined) {
      // One plain value (the usual case) needs no splitting.
      if (/^\d{1,15}$/.test(lengths)) return { kind: 'length', left: Number(lengths) };
      const values = new Set(lengths.split(',').map((v) => v.trim()));
      const [only] = values;
      if (values.size !== 1 || only === undefined || !/^\d{1,15}$/.test(only)) {
        throw this.#protocol(`its Content-Length must be one decimal number: got ${JSON.stringify(lengths)}`);
      }
      return { kind: 'length', left: Number(only) };
    }
    return { kind: 'close' };
  }

  #readBody(chunk: Buffer, framing: Framing): Buffer {
    switch (framing.kind) {
      case 'length': {
        const take = Math.min(framing.left, chunk.length);
        framing.left -= take;
        this.#events.onBody(take === chunk.length ? chunk : chunk.subarray(0, take), framing.left === 0);
        if (framing.left === 0) this.#finish();
        return take === chunk.length ? EMPTY : chunk.subarray(take);
      }
      case 'close':
        this.#events.onBody(chunk, false);
        return EMPTY;
      case 'chunked': {
        const chunks = (this.#chunks ??= new ChunkedState());
        const rest = chunks.feed(chunk, (data) => this.#events.onBody(data, false), (why) => this.#protocol(why));
        if (chunks.finished) this.#finish();
        return rest;
      }
      case 'none':
        return chunk; // #finish already ran; feed() refuses what follows
    }
  }

  #finish(): void {
    this.#done = true;
    this.#events.onEnd();
  }

  #protocol(rule: string): BackendError {
    return new BackendError('ALOFT_BACKEND_PROTOCOL', `the backend's response is malformed: ${rule}`);
  }
}

/**
 * The chunked transfer coding (RFC 9112 §7.1), decoded incrementally: size line
 * (hex, extensions ignored), data, CRLF, …, a zero-size chunk, trailers (dropped),
 * CRLF. Lines are bounded so a backend cannot make us buffer without end.
 */
class ChunkedState {
  #state: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';
  #left = 0;
  #line = '';
  finished = false;

  feed(chunk: Buffer, onData: (data: Buffer) => void, fail: (why: string) => Error): Buffer {
    let at = 0;
    while (at < chunk.length && !this.finished) {
      if (this.#state === 'data') {
        const take = Math.min(this.#left, chunk.length - at);
        onData(chunk.subarray(at, at + take));
        at += take;
        this.#left -= take;
        if (this.#left === 0) this.#state = 'data-crlf';
        continue;
      }
      const lf = chunk.indexOf(10, at);
      const end = lf < 0 ? chunk.length : lf + 1;
      this.#line += chunk.toString('latin1', at, end);
      at = end;
      if (this.#line.length > 4096) throw fail('its chunk lines must be at most 4096 bytes');
      if (lf < 0) continue;
      if (!this.#line.endsWith('\r\n')) throw fail('its chunk lines must end with CRLF: got a bare LF');
      const line = this.#line.slice(0, -2);
      this.#line = '';
      if (this.#state === 'data-crlf') {
        if (line !== '') throw fail('each chunk must end with CRLF');
        this.#state = 'size';
      } else if (this.#state === 'size') {
        const size = /^([0-9a-fA-F]{1,12})(?:[ \t]*;.*)?$/.exec(line);
        if (size === null) throw fail(`its chunk size must be hexadecimal: got ${JSON.stringify(line.slice(0, 40))}`);
        this.#left = parseInt(size[1]!, 16);
        this.#state = this.#left === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        this.finished = true;
      }
    }
    return chunk.subarray(at);
  }
}
