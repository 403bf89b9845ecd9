import { createSocket, type RemoteInfo } from 'node:dgram';
import { createServer } from 'node:net';
import { CLASS_IN, RR_TYPE, type DnsMessage } from '../message.ts';
import { decodeMessage } from '../wire-read.ts';
import { encodeMessage } from '../wire-write.ts';

/** How the fake upstream treats each query it gets. */
export type UpstreamMode =
  /**
   * Answers A queries with 192.0.2.<n> for n = 1…`count`, other types with no data;
   * over UDP a reply bigger than the client takes goes out empty with TC, as a real
   * server's would, and TCP (same port) gets all of it.
   */
  | { kind: 'answer'; count?: number }
  /** Never answers (a dead upstream). */
  | { kind: 'silent' }
  /** Relays each query to `target` and its reply back: a misconfiguration that makes a loop. */
  | { kind: 'relay'; target: { host: string; port: number } };

/** A resolver on 127.0.0.1 for forwarding tests: records what it was asked. */
export interface FakeUpstream {
  host: string;
  port: number;
  mode: UpstreamMode;
  /** Every query it received, decoded. */
  readonly queries: DnsMessage[];
  /** How many of them came over TCP. */
  tcpQueries: number;
  close(): Promise<void>;
}

export async function startFakeUpstream(mode: UpstreamMode): Promise<FakeUpstream> {
  let socket = createSocket('udp4');
  const relay = createSocket('udp4');
  const waiting = new Map<number, RemoteInfo>();
  const upstream: FakeUpstream = {
    host: '127.0.0.1',
    port: 0,
    mode,
    queries: [],
    tcpQueries: 0,
    close: async () => {
      await Promise.all([new Promise<void>((r) => socket.close(() => r())), new Promise<void>((r) => relay.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
    },
  };
  const onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    const query = decodeMessage(msg);
    upstream.queries.push(query);
    const current = upstream.mode;
    if (current.kind === 'silent') return;
    if (current.kind === 'relay') {
      waiting.set(query.header.id, rinfo);
      relay.send(msg, current.target.port, current.target.host);
      return;
    }
    const reply = answer(query, current.count ?? 1);
    const limit = query.edns?.udpSize ?? 512;
    const bytes = reply.length <= limit ? reply : encodeMessage({ ...query, header: { ...query.header, qr: true, ra: true, tc: true } });
    socket.send(bytes, rinfo.port, rinfo.address);
  };
  socket.on('message', onMessage);
  const tcp = createServer((conn) => {
    let buffer = Buffer.alloc(0);
    conn.on('error', () => conn.destroy());
    conn.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
        const query = decodeMessage(buffer.subarray(2, 2 + buffer.readUInt16BE(0)));
        buffer = buffer.subarray(2 + buffer.readUInt16BE(0));
        upstream.queries.push(query);
        upstream.tcpQueries++;
        const current = upstream.mode;
        if (current.kind !== 'answer') continue;
        const reply = answer(query, current.count ?? 1);
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(reply.length);
        conn.write(Buffer.concat([prefix, reply]));
      }
    });
  });
  relay.on('message', (msg) => {
    const to = waiting.get(msg.readUInt16BE(0));
    if (to !== undefined) socket.send(msg, to.port, to.address);
  });
  await new Promise<void>((resolve) => relay.bind(0, '127.0.0.1', () => resolve()));
  // UDP and TCP on one port number: the UDP port is free by construction, the same TCP
  // port may not be (another process's), so try again with another until both bind.
  for (let attempt = 1; ; attempt++) {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    upstream.port = socket.address().port;
    const bound = await new Promise<boolean>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => (err.code === 'EADDRINUSE' && attempt < 20 ? resolve(false) : reject(err));
      tcp.once('error', onError);
      tcp.listen(upstream.port, '127.0.0.1', () => {
        tcp.off('error', onError);
        resolve(true);
      });
    }).catch(async (err: unknown) => {
      socket.close();
      relay.close();
      throw err;
    });
    if (bound) return upstream;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    socket = createSocket('udp4');
    socket.on('message', onMessage);
  }
}

/** The reply to `query`: `count` A records for an A question, else no data. */
function answer(query: DnsMessage, count: number): Buffer {
  const question = query.questions[0];
  const answers =
    question?.type === RR_TYPE.A
      ? Array.from({ length: count }, (_, i) => ({ name: question.name, type: RR_TYPE.A, class: CLASS_IN, ttl: 30, data: { kind: 'a' as const, address: `192.0.2.${i + 1}` } }))
      : [];
  return encodeMessage({ ...query, header: { ...query.header, qr: true, ra: true }, answers });
}
