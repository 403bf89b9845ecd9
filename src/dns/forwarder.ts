import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import type { Upstream } from './upstream.ts';
import { questionEnd } from './wire-read.ts';

export interface ForwarderOptions {
  /** How long to wait for the upstream's reply. Default 2,000 ms. */
  timeoutMs?: number;
  /** Distinct queries waiting on the upstream at once; beyond it, fail at once. Default 512. */
  maxInFlight?: number;
}

/**
 * Sends queries for names outside `.internal` to the upstream resolver over UDP and
 * relays its reply byte for byte (so record types aloft does not parse, compressed
 * names inside them, EDNS options and DNSSEC data all pass through untouched).
 *
 * Each upstream query gets its own socket (a fresh source port) and a random ID, and a
 * reply counts only when it comes from the upstream's address and port with that ID
 * and the same question bytes: a blind spoofer has to guess both.
 *
 * Identical queries (the same bytes after the ID) share one upstream query while it is
 * in flight. That saves the upstream work, and it is also the loop guard: if the
 * upstream sends a forwarded query back here, it is identical to the one in flight, so
 * it joins it instead of going out again; the loop stops after one round and every
 * waiter gets a failure (SERVFAIL) at the timeout.
 */
export class Forwarder {
  readonly #upstream: Upstream;
  readonly #timeoutMs: number;
  readonly #maxInFlight: number;
  readonly #inFlight = new Map<string, Promise<Buffer | undefined>>();
  readonly #aborts = new Set<() => void>();
  #tcpInFlight = 0;
  #closed = false;

  constructor(upstream: Upstream, options: ForwarderOptions = {}) {
    this.#upstream = upstream;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#maxInFlight = options.maxInFlight ?? 512;
  }

  get upstream(): Upstream {
    return this.#upstream;
  }

  /** Distinct queries waiting on the upstream now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * The upstream's reply to `query` (the client's bytes), with the client's ID put back;
   * undefined when it timed out, failed, was not a valid reply, too many were in
   * flight, or the forwarder is closed.
   */
  async forward(query: Buffer): Promise<Buffer | undefined> {
    if (this.#closed || query.length < 12) return undefined;
    const key = query.toString('latin1', 2);
    let pending = this.#inFlight.get(key);
    if (pending === undefined) {
      if (this.#inFlight.size >= this.#maxInFlight) return undefined;
      pending = this.#ask(query);
      this.#inFlight.set(key, pending);
      void pending.finally(() => this.#inFlight.delete(key));
    }
    const reply = await pending;
    if (reply === undefined) return undefined;
    const out = Buffer.from(reply);
    out.writeUInt16BE(query.readUInt16BE(0), 0);
    return out;
  }

  /**
   * Asks the upstream over TCP: for a client that came over TCP when the UDP reply was
   * truncated. Not shared between clients (a rare path); same checks, same timeout.
   */
  async forwardTcp(query: Buffer): Promise<Buffer | undefined> {
    if (this.#closed || query.length < 12 || this.#inFlight.size + this.#tcpInFlight >= this.#maxInFlight) return undefined;
    this.#tcpInFlight++;
    try {
      const reply = await this.#askTcp(query);
      if (reply === undefined) return undefined;
      reply.writeUInt16BE(query.readUInt16BE(0), 0);
      return reply;
    } finally {
      this.#tcpInFlight--;
    }
  }

  /** Fails every query in flight and refuses new ones. */
  close(): void {
    this.#closed = true;
    for (const abort of [...this.#aborts]) abort();
  }

  #askTcp(query: Buffer): Promise<Buffer | undefined> {
    const end = questionEnd(query);
    if (end === undefined) return Promise.resolve(undefined);
    const out = Buffer.alloc(query.length + 2);
    out.writeUInt16BE(query.length, 0);
    query.copy(out, 2);
    const id = randomInt(0x10000);
    out.writeUInt16BE(id, 2);
    return new Promise((resolve) => {
      const socket = connect({ host: this.#upstream.host, port: this.#upstream.port });
      let buffer = Buffer.alloc(0);
      const finish = (reply: Buffer | undefined): void => {
        clearTimeout(timer);
        this.#aborts.delete(abort);
        socket.destroy();
        resolve(reply);
      };
      const abort = (): void => finish(undefined);
      const timer = setTimeout(abort, this.#timeoutMs);
      this.#aborts.add(abort);
      socket.on('error', abort);
      socket.on('close', abort);
      socket.on('connect', () => socket.write(out));
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        if (buffer.length < 2 || buffer.length < 2 + buffer.readUInt16BE(0)) return;
        const msg = Buffer.from(buffer.subarray(2, 2 + buffer.readUInt16BE(0)));
        const valid = msg.length >= end && msg.readUInt16BE(0) === id && (msg[2] ?? 0) >= 0x80 && msg.compare(out, 14, end + 2, 12, end) === 0;
        finish(valid ? msg : undefined);
      });
    });
  }

  #ask(query: Buffer): Promise<Buffer | undefined> {
    const end = questionEnd(query);
    if (end === undefined) return Promise.resolve(undefined);
    const out = Buffer.from(query);
    const id = randomInt(0x10000);
    out.writeUInt16BE(id, 0);
    const { host, port } = this.#upstream;
    return new Promise((resolve) => {
      let socket: Socket | undefined;
      const finish = (reply: Buffer | undefined): void => {
        clearTimeout(timer);
        this.#aborts.delete(abort);
        socket?.close();
        socket = undefined;
        resolve(reply);
      };
      const abort = (): void => finish(undefined);
      const timer = setTimeout(abort, this.#timeoutMs);
      this.#aborts.add(abort);
      socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
      socket.on('error', abort);
      socket.on('message', (msg, rinfo) => {
        if (rinfo.address !== host || rinfo.port !== port) return;
        if (msg.length < end || msg.readUInt16BE(0) !== id || (msg[2] ?? 0) < 0x80) return;
        if (msg.compare(out, 12, end, 12, end) !== 0) return;
        finish(msg);
      });
      socket.send(out, port, host, (err) => {
        if (err) abort();
      });
    });
  }
}
