import { AloftError } from '../lib/errors.ts';
import { formatIpv6 } from '../net/sixpn.ts';
import { RR_TYPE, type DnsHeader, type DnsMessage, type Edns, type Question, type RecordData, type ResourceRecord } from './message.ts';

/** The most bytes a name may take on the wire, pointers followed (RFC 1035 §3.1). */
const MAX_NAME_WIRE = 255;
const HEADER_SIZE = 12;

/** A malformed message: DNS_MALFORMED, in the house format. */
export function malformed(field: string, rule: string, got: string): AloftError {
  return new AloftError('DNS_MALFORMED', `Cannot read DNS message as '${field}' must be ${rule}: got ${got}`, { details: { field, rule } });
}

/** Reads the 12-byte header alone (to answer FORMERR with the right id); undefined when shorter. */
export function readHeader(buf: Buffer): DnsHeader | undefined {
  if (buf.length < HEADER_SIZE) return undefined;
  const flags = buf.readUInt16BE(2);
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
  };
}

/**
 * Parses a whole message. Throws DNS_MALFORMED for anything that breaks RFC 1035:
 * short data, labels over 63 bytes, names over 255, compression pointers that do not
 * point strictly backwards (which is what rules out loops), reserved label types,
 * record data that overruns, bytes left over, more than one OPT record.
 */
export function decodeMessage(buf: Buffer): DnsMessage {
  const header = readHeader(buf);
  if (header === undefined) throw malformed('header', '12 bytes', `${buf.length} bytes`);
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)] as const;
  const reader = new WireReader(buf, HEADER_SIZE);
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const name = reader.name(`question[${i}].name`);
    questions.push({ name, type: reader.u16('question.type'), class: reader.u16('question.class') });
  }
  const answers = readRecords(reader, counts[1], 'answer');
  const authorities = readRecords(reader, counts[2], 'authority');
  const additionals: ResourceRecord[] = [];
  let edns: Edns | undefined;
  for (let i = 0; i < counts[3]; i++) {
    const start = reader.offset;
    const name = reader.name(`additional[${i}].name`);
    const type = reader.u16('additional.type');
    if (type !== RR_TYPE.OPT) {
      reader.offset = start;
      additionals.push(...readRecords(reader, 1, 'additional'));
      continue;
    }
    if (edns !== undefined) throw malformed('additional', 'at most one OPT record', 'two');
    if (name !== '') throw malformed('additional.OPT.name', 'the root', JSON.stringify(name));
    const udpSize = reader.u16('OPT.class');
    const extendedRcode = reader.u8('OPT.ttl');
    const version = reader.u8('OPT.ttl');
    const flags = reader.u16('OPT.ttl');
    const length = reader.u16('OPT.rdlength');
    reader.need(length, 'OPT.rdata');
    const end = reader.offset + length;
    const options: Edns['options'] = [];
    while (reader.offset < end) {
      const code = reader.u16('OPT.option.code');
      const length = reader.u16('OPT.option.length');
      if (reader.offset + length > end) throw malformed('OPT.option.length', `within the record (${end - reader.offset} bytes left)`, String(length));
      options.push({ code, data: reader.bytes(length, 'OPT.option.data') });
    }
    header.rcode |= extendedRcode << 4;
    edns = { udpSize, version, dnssecOk: (flags & 0x8000) !== 0, options };
  }
  if (reader.offset !== buf.length) throw malformed('message', 'no bytes after its last record', `${buf.length - reader.offset} bytes`);
  return { header, questions, answers, authorities, additionals, ...(edns === undefined ? {} : { edns }) };
}

function readRecords(reader: WireReader, count: number, section: string): ResourceRecord[] {
  const records: ResourceRecord[] = [];
  for (let i = 0; i < count; i++) {
    const name = reader.name(`${section}[${i}].name`);
    const type = reader.u16(`${section}.type`);
    const klass = reader.u16(`${section}.class`);
    const ttl = reader.u32(`${section}.ttl`);
    const length = reader.u16(`${section}.rdlength`);
    reader.need(length, `${section}[${i}].rdata`);
    const end = reader.offset + length;
    records.push({ name, type, class: klass, ttl, data: readData(reader, type, end, `${section}[${i}].rdata`) });
    if (reader.offset !== end) throw malformed(`${section}[${i}].rdata`, `${length} bytes as its rdlength says`, `${reader.offset - end + length} bytes`);
  }
  return records;
}

function readData(reader: WireReader, type: number, end: number, field: string): RecordData {
  const length = end - reader.offset;
  switch (type) {
    case RR_TYPE.A: {
      if (length !== 4) throw malformed(field, '4 bytes for an A record', `${length} bytes`);
      const b = reader.bytes(4, field);
      return { kind: 'a', address: `${b[0]}.${b[1]}.${b[2]}.${b[3]}` };
    }
    case RR_TYPE.AAAA: {
      if (length !== 16) throw malformed(field, '16 bytes for an AAAA record', `${length} bytes`);
      const b = reader.bytes(16, field);
      const groups: number[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
      return { kind: 'aaaa', address: formatIpv6(groups) };
    }
    case RR_TYPE.TXT: {
      const strings: Buffer[] = [];
      while (reader.offset < end) {
        const n = reader.u8(field);
        if (reader.offset + n > end) throw malformed(field, 'character-strings within the record', `a ${n}-byte string with ${end - reader.offset} bytes left`);
        strings.push(reader.bytes(n, field));
      }
      return { kind: 'txt', strings };
    }
    case RR_TYPE.CNAME:
    case RR_TYPE.NS:
    case RR_TYPE.PTR:
      return { kind: 'name', name: reader.name(field) };
    default:
      // Kept as bytes: a name compressed inside (MX, SOA, SRV…) would point into this
      // message, so aloft never re-serialises raw data of those types (it relays bytes).
      return { kind: 'raw', bytes: reader.bytes(length, field) };
  }
}

/** A cursor over a message that throws DNS_MALFORMED instead of reading past the end. */
class WireReader {
  readonly #buf: Buffer;
  offset: number;

  constructor(buf: Buffer, offset: number) {
    this.#buf = buf;
    this.offset = offset;
  }

  need(n: number, field: string): void {
    if (this.offset + n > this.#buf.length) throw malformed(field, `${n} more bytes`, `${this.#buf.length - this.offset}`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.#buf[this.offset++] ?? 0;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.#buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.#buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    // A copy: records outlive the datagram buffer, which Node may reuse.
    const out = Buffer.from(this.#buf.subarray(this.offset, this.offset + n));
    this.offset += n;
    return out;
  }

  /**
   * A name, following compression pointers. Each pointer must point before every byte
   * of the name read so far, so the jumps go strictly backwards and the walk ends.
   */
  name(field: string): string {
    const buf = this.#buf;
    let pos = this.offset;
    let lowest = pos;
    let jumped = false;
    let wire = 0;
    let text = '';
    for (;;) {
      if (pos >= buf.length) throw malformed(field, 'a name that ends within the message', 'the end of the data');
      const len = buf[pos] ?? 0;
      const kind = len & 0xc0;
      if (kind === 0xc0) {
        if (pos + 1 >= buf.length) throw malformed(field, 'a 2-byte compression pointer', 'the end of the data');
        const target = ((len & 0x3f) << 8) | (buf[pos + 1] ?? 0);
        if (target >= lowest) throw malformed(field, 'a compression pointer to an offset before the name', `${target} at ${pos}`);
        if (!jumped) this.offset = pos + 2;
        jumped = true;
        pos = lowest = target;
        continue;
      }
      if (kind !== 0) throw malformed(field, 'labels of types 00 or 11 (RFC 1035)', `0x${len.toString(16)}`);
      wire += len + 1;
      if (wire > MAX_NAME_WIRE) throw malformed(field, `at most ${MAX_NAME_WIRE} bytes`, `${wire} bytes`);
      if (len === 0) {
        if (!jumped) this.offset = pos + 1;
        return text;
      }
      if (pos + 1 + len > buf.length) throw malformed(field, 'labels within the message', `a ${len}-byte label at ${pos}`);
      if (text.length > 0) text += '.';
      text += labelText(buf, pos + 1, pos + 1 + len);
      pos += len + 1;
    }
  }
}

/** A label in presentation form: printable ASCII as is, "." "\" and the rest as \DDD. */
function labelText(buf: Buffer, start: number, end: number): string {
  let plain = true;
  for (let i = start; i < end; i++) {
    const c = buf[i] ?? 0;
    if (c <= 0x20 || c >= 0x7f || c === 0x2e || c === 0x5c) {
      plain = false;
      break;
    }
  }
  if (plain) return buf.toString('latin1', start, end);
  let out = '';
  for (let i = start; i < end; i++) {
    const c = buf[i] ?? 0;
    out += c <= 0x20 || c >= 0x7f || c === 0x2e || c === 0x5c ? `\\${String(c).padStart(3, '0')}` : String.fromCharCode(c);
  }
  return out;
}

/**
 * Where the first question of a well-formed query ends (header, name, type, class), so
 * a reply's echoed question can be compared byte for byte. Undefined when it overruns.
 */
export function questionEnd(buf: Buffer): number | undefined {
  let pos = HEADER_SIZE;
  for (;;) {
    const len = buf[pos];
    if (len === undefined) return undefined;
    if ((len & 0xc0) === 0xc0) {
      pos += 2;
      break;
    }
    pos += len + 1;
    if (len === 0) break;
  }
  return pos + 4 <= buf.length ? pos + 4 : undefined;
}
