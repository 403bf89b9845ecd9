import { silentLogger, type Logger } from '../lib/log.ts';
import type { Forwarder } from './forwarder.ts';
import { CLASSIC_UDP_SIZE, OPCODE_QUERY, RCODE, type DnsMessage, type Edns, type ResourceRecord } from './message.ts';
import type { InternalResolver } from './resolver.ts';
import { decodeMessage, readHeader } from './wire-read.ts';
import { encodeMessage } from './wire-write.ts';

export type Transport = 'udp' | 'tcp';

/** The UDP payload size aloft offers in its OPT record (DNS Flag Day 2020: no fragments). */
export const ADVERTISED_UDP_SIZE = 1232;

/**
 * Turns one query's bytes into the reply's bytes: decode (FORMERR when malformed,
 * nothing at all for data that is not a query, so aloft never answers answers),
 * answer `.internal` names from the resolver, forward the rest, and fit UDP replies to
 * the client's size (512 bytes, or what its EDNS OPT says, capped at 1,232): a reply
 * that does not fit is sent empty with TC set, and the client asks again over TCP.
 */
export class QueryHandler {
  readonly #resolver: InternalResolver;
  readonly #forwarder: Forwarder | undefined;
  readonly #log: Logger;

  constructor(resolver: InternalResolver, forwarder: Forwarder | undefined, options: { log?: Logger } = {}) {
    this.#resolver = resolver;
    this.#forwarder = forwarder;
    this.#log = options.log ?? silentLogger;
  }

  /** The reply to send, or undefined to send nothing. Synchronous unless forwarded. */
  handle(bytes: Buffer, source: string, transport: Transport): Buffer | undefined | Promise<Buffer | undefined> {
    const header = readHeader(bytes);
    if (header === undefined || header.qr) return undefined;
    let query: DnsMessage;
    try {
      query = decodeMessage(bytes);
    } catch {
      const reply: DnsMessage = { header: { ...header, qr: true, aa: false, tc: false, ra: this.#forwarder !== undefined, ad: false, rcode: RCODE.FORMERR }, questions: [], answers: [], authorities: [], additionals: [] };
      return encodeMessage(reply);
    }
    if (query.header.opcode !== OPCODE_QUERY) return this.#encode(query, RCODE.NOTIMP, [], transport);
    if (query.questions.length !== 1) return this.#encode(query, RCODE.FORMERR, [], transport);
    if (query.edns !== undefined && query.edns.version > 0) return this.#encode(query, RCODE.BADVERS, [], transport);
    const question = query.questions[0];
    if (question === undefined) return undefined;
    let resolution;
    try {
      resolution = this.#resolver.resolve(question, source);
    } catch (err) {
      this.#log.error({ err, name: question.name }, 'dns: resolver failed');
      return this.#encode(query, RCODE.SERVFAIL, [], transport);
    }
    if (resolution.kind === 'answer') return this.#encode(query, resolution.rcode, resolution.answers, transport, true);
    if (this.#forwarder === undefined) return this.#encode(query, RCODE.REFUSED, [], transport);
    const forwarder = this.#forwarder;
    return forwarder.forward(bytes).then(async (udpReply) => {
      // A TCP client can take the whole answer: ask the upstream over TCP for it.
      const truncated = udpReply !== undefined && ((udpReply[2] ?? 0) & 0x02) !== 0;
      const reply = transport === 'tcp' && truncated ? await forwarder.forwardTcp(bytes) : udpReply;
      if (reply === undefined) return this.#encode(query, RCODE.SERVFAIL, [], transport);
      if (transport === 'udp' && reply.length > udpLimit(query)) {
        // The upstream offered more than this client can take: truncate it here.
        return this.#encode(query, (reply[3] ?? 0) & 0xf, [], transport, false, true);
      }
      return reply;
    });
  }

  #encode(query: DnsMessage, rcode: number, answers: ResourceRecord[], transport: Transport, authoritative = false, truncated = false): Buffer | undefined {
    const edns: Edns | undefined = query.edns === undefined ? undefined : { udpSize: ADVERTISED_UDP_SIZE, version: 0, dnssecOk: false, options: [] };
    const reply: DnsMessage = {
      header: { ...query.header, qr: true, aa: authoritative && rcode !== RCODE.REFUSED, tc: truncated, ra: this.#forwarder !== undefined, ad: false, rcode },
      questions: query.questions,
      answers,
      authorities: [],
      additionals: [],
      ...(edns === undefined ? {} : { edns }),
    };
    try {
      const bytes = encodeMessage(reply);
      if (transport === 'tcp' || bytes.length <= udpLimit(query)) return bytes;
      return encodeMessage({ ...reply, header: { ...reply.header, tc: true }, answers: [] });
    } catch (err) {
      // Only a name from the wire could fail here, and those were read as valid.
      this.#log.error({ err }, 'dns: cannot encode reply');
      return undefined;
    }
  }
}

/** The largest UDP reply this client takes. */
function udpLimit(query: DnsMessage): number {
  return query.edns === undefined ? CLASSIC_UDP_SIZE : Math.max(CLASSIC_UDP_SIZE, Math.min(query.edns.udpSize, ADVERTISED_UDP_SIZE));
}
