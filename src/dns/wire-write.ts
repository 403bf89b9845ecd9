import { AloftError } from '../lib/errors.ts';
import { expandIpv6 } from '../net/sixpn.ts';
import { RR_TYPE, type DnsMessage, type Edns, type RecordData, type ResourceRecord } from './message.ts';

/** Compression pointers hold 14 bits of offset. */
const MAX_POINTER = 0x3fff;

function unwritable(field: string, rule: string, got: string): AloftError {
  return new AloftError('DNS_MALFORMED', `Cannot write DNS message as '${field}' must be ${rule}: got ${got}`, { details: { field, rule } });
}

/**
 * Serialises a message (RFC 1035 §4), compressing repeated names (a reply's answers
 * all point back at the question's name, which keeps 40 AAAA records under 1,232
 * bytes). `edns` is written as the last additional record. Throws DNS_MALFORMED for
 * what cannot be written: labels over 63 bytes, names over 255, TXT strings over 255,
 * an extended rcode without EDNS.
 */
export function encodeMessage(message: DnsMessage): Buffer {
  const w = new WireWriter();
  const { header, edns } = message;
  if (header.rcode > 0xf && edns === undefined) throw unwritable('header.rcode', 'at most 15 without EDNS', String(header.rcode));
  w.u16(header.id);
  w.u16(
    (header.qr ? 0x8000 : 0) |
      ((header.opcode & 0xf) << 11) |
      (header.aa ? 0x0400 : 0) |
      (header.tc ? 0x0200 : 0) |
      (header.rd ? 0x0100 : 0) |
      (header.ra ? 0x0080 : 0) |
      (header.ad ? 0x0020 : 0) |
      (header.cd ? 0x0010 : 0) |
      (header.rcode & 0xf),
  );
  w.u16(message.questions.length);
  w.u16(message.answers.length);
  w.u16(message.authorities.length);
  w.u16(message.additionals.length + (edns === undefined ? 0 : 1));
  for (const q of message.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const r of message.answers) writeRecord(w, r);
  for (const r of message.authorities) writeRecord(w, r);
  for (const r of message.additionals) writeRecord(w, r);
  if (edns !== undefined) writeOpt(w, edns, header.rcode >> 4);
  return w.done();
}

function writeRecord(w: WireWriter, record: ResourceRecord): void {
  w.name(record.name);
  w.u16(record.type);
  w.u16(record.class);
  w.u32(record.ttl);
  const at = w.reserve(2);
  const start = w.length;
  writeData(w, record.data);
  w.patch16(at, w.length - start);
}

function writeData(w: WireWriter, data: RecordData): void {
  switch (data.kind) {
    case 'a': {
      const parts = data.address.split('.').map(Number);
      if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw unwritable('A.address', 'a dotted IPv4 address', JSON.stringify(data.address));
      for (const p of parts) w.u8(p);
      return;
    }
    case 'aaaa':
      w.bytes(ipv6Bytes(data.address));
      return;
    case 'txt':
      for (const s of data.strings) {
        if (s.length > 255) throw unwritable('TXT.strings', 'at most 255 bytes each', `${s.length} bytes`);
        w.u8(s.length);
        w.bytes(s);
      }
      return;
    case 'name':
      w.name(data.name);
      return;
    case 'raw':
      w.bytes(data.bytes);
      return;
  }
}

function writeOpt(w: WireWriter, edns: Edns, extendedRcode: number): void {
  w.u8(0); // the root
  w.u16(RR_TYPE.OPT);
  w.u16(edns.udpSize);
  w.u8(extendedRcode & 0xff);
  w.u8(edns.version);
  w.u16(edns.dnssecOk ? 0x8000 : 0);
  const at = w.reserve(2);
  const start = w.length;
  for (const option of edns.options) {
    w.u16(option.code);
    w.u16(option.data.length);
    w.bytes(option.data);
  }
  w.patch16(at, w.length - start);
}

/** Parsed AAAA addresses: a server answers the same few Machines' addresses over and over. */
const ipv6Cache = new Map<string, Buffer>();
const IPV6_CACHE_SIZE = 4096;

function ipv6Bytes(address: string): Buffer {
  let bytes = ipv6Cache.get(address);
  if (bytes !== undefined) return bytes;
  const groups = expandIpv6(address);
  if (groups === null) throw unwritable('AAAA.address', 'an IPv6 address', JSON.stringify(address));
  bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes?.writeUInt16BE(g, i * 2));
  if (ipv6Cache.size >= IPV6_CACHE_SIZE) ipv6Cache.clear();
  ipv6Cache.set(address, bytes);
  return bytes;
}

/** Splits presentation text into wire labels, undoing \DDD and \X escapes. */
export function nameLabels(name: string): Buffer[] {
  if (name === '' || name === '.') return [];
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  if (!text.includes('\\')) return text.split('.').map((label) => checkLabel(Buffer.from(label, 'latin1'), name));
  const labels: Buffer[] = [];
  let current: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      labels.push(checkLabel(Buffer.from(current), name));
      current = [];
    } else if (c === 0x5c) {
      const digits = text.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(digits) && Number(digits) <= 255) {
        current.push(Number(digits));
        i += 3;
      } else if (i + 1 < text.length) {
        current.push(text.charCodeAt(++i) & 0xff);
      } else {
        throw unwritable('name', 'escapes of the form \\DDD or \\X', JSON.stringify(name));
      }
    } else {
      current.push(c & 0xff);
    }
  }
  labels.push(checkLabel(Buffer.from(current), name));
  return labels;
}

function checkLabel(label: Buffer, name: string): Buffer {
  if (label.length === 0 || label.length > 63) throw unwritable('name', 'labels of 1 to 63 bytes', JSON.stringify(name));
  return label;
}

/** A growing output buffer that remembers where each name suffix was written. */
class WireWriter {
  #buf = Buffer.allocUnsafe(512);
  #at = 0;
  readonly #names = new Map<string, number>();

  get length(): number {
    return this.#at;
  }

  #room(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#at + n));
    this.#buf.copy(bigger, 0, 0, this.#at);
    this.#buf = bigger;
  }

  u8(v: number): void {
    this.#room(1);
    this.#buf[this.#at++] = v;
  }

  u16(v: number): void {
    this.#room(2);
    this.#buf.writeUInt16BE(v & 0xffff, this.#at);
    this.#at += 2;
  }

  u32(v: number): void {
    this.#room(4);
    this.#buf.writeUInt32BE(v >>> 0, this.#at);
    this.#at += 4;
  }

  bytes(b: Buffer): void {
    this.#room(b.length);
    b.copy(this.#buf, this.#at);
    this.#at += b.length;
  }

  reserve(n: number): number {
    this.#room(n);
    const at = this.#at;
    this.#at += n;
    return at;
  }

  patch16(at: number, v: number): void {
    this.#buf.writeUInt16BE(v, at);
  }

  /**
   * Writes a name, pointing back at the longest suffix already written. Suffixes
   * match byte for byte (case kept), so a client's 0x20 mixed case survives.
   */
  name(name: string): void {
    const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
    if (text === '') {
      this.u8(0);
      return;
    }
    if (text.includes('\\')) {
      this.#labels(nameLabels(text));
      return;
    }
    // The common case, without escapes: each suffix is a substring of the text.
    if (text.length > 253) throw unwritable('name', 'at most 255 bytes on the wire', `${text.length + 2} bytes`);
    let start = 0;
    while (start < text.length) {
      const pointer = this.#names.get(start === 0 ? text : text.slice(start));
      if (pointer !== undefined) {
        this.u16(0xc000 | pointer);
        return;
      }
      if (this.#at <= MAX_POINTER) this.#names.set(start === 0 ? text : text.slice(start), this.#at);
      let end = text.indexOf('.', start);
      if (end < 0) end = text.length;
      const length = end - start;
      if (length === 0 || length > 63) throw unwritable('name', 'labels of 1 to 63 bytes', JSON.stringify(name));
      this.#room(length + 1);
      this.#buf[this.#at++] = length;
      this.#at += this.#buf.write(text.slice(start, end), this.#at, 'latin1');
      start = end + 1;
    }
    this.u8(0);
  }

  /** Writes labels given as bytes (names with escapes), compressing the same way. */
  #labels(labels: Buffer[]): void {
    let wire = 1;
    for (const l of labels) wire += l.length + 1;
    if (wire > 255) throw unwritable('name', 'at most 255 bytes on the wire', `${wire} bytes`);
    for (let i = 0; i < labels.length; i++) {
      // Keyed as the escape-free path keys its names (labels joined by "."), except
      // suffixes with a "." inside a label, which that key could not tell apart.
      const suffix = labels.slice(i);
      const key = suffix.some((l) => l.includes(0x2e)) ? undefined : suffix.map((l) => l.toString('latin1')).join('.');
      const pointer = key === undefined ? undefined : this.#names.get(key);
      if (pointer !== undefined) {
        this.u16(0xc000 | pointer);
        return;
      }
      if (key !== undefined && this.#at <= MAX_POINTER) this.#names.set(key, this.#at);
      const label = labels[i] as Buffer;
      this.u8(label.length);
      this.bytes(label);
    }
    this.u8(0);
  }

  done(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#at));
  }
}
