import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { AloftError } from '../../lib/errors.ts';
import { CLASS_IN, emptyHeader, type DnsMessage } from '../message.ts';
import { encodeMessage } from '../wire-write.ts';

/** For tests and the bench: a bare DNS client over UDP and TCP, with a chosen source address. */

export interface Target {
  host: string;
  port: number;
}

/** A query for `name` and `type` (RD set); `udpSize` adds an EDNS OPT record. */
export function buildQuery(name: string, type: number, options: { id?: number; udpSize?: number } = {}): Buffer {
  const message: DnsMessage = {
    header: { ...emptyHeader(options.id ?? 0x1234), rd: true },
    questions: [{ name, type, class: CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: [],
    ...(options.udpSize === undefined ? {} : { edns: { udpSize: options.udpSize, version: 0, dnssecOk: false, options: [] } }),
  };
  return encodeMessage(message);
}

/** Sends `query` over UDP from `localAddress` (default: any) and resolves with the first reply. */
export function udpExchange(target: Target, query: Buffer, options: { localAddress?: string; timeoutMs?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(target.host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new AloftError('INTERNAL', `Cannot query ${target.host}:${target.port} over UDP as it must answer within ${options.timeoutMs ?? 2000} ms: got no reply`));
    }, options.timeoutMs ?? 2000);
    socket.once('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.bind({ port: 0, ...(options.localAddress === undefined ? {} : { address: options.localAddress }) }, () => socket.send(query, target.port, target.host));
  });
}

/**
 * Sends each query over one TCP connection (pipelined, length-prefixed) and resolves
 * with the first `expect` replies (default: one per query) in order of arrival.
 */
export function tcpExchange(target: Target, queries: Buffer[], options: { localAddress?: string; timeoutMs?: number; expect?: number } = {}): Promise<Buffer[]> {
  const expect = options.expect ?? queries.length;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port, ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) });
    const replies: Buffer[] = [];
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new AloftError('INTERNAL', `Cannot query ${target.host}:${target.port} over TCP as it must answer within ${options.timeoutMs ?? 2000} ms: got ${replies.length} of ${expect} replies`));
    }, options.timeoutMs ?? 2000);
    socket.on('connect', () => {
      for (const q of queries) {
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(q.length);
        socket.write(Buffer.concat([prefix, q]));
      }
    });
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
        replies.push(buffer.subarray(2, 2 + buffer.readUInt16BE(0)));
        buffer = buffer.subarray(2 + buffer.readUInt16BE(0));
      }
      if (replies.length >= expect) {
        clearTimeout(timer);
        socket.end();
        resolve(replies);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
