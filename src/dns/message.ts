/**
 * DNS messages as aloft reads and writes them (RFC 1035 §4, EDNS0 from RFC 6891).
 * Names are presentation text without the trailing dot ("web.internal", "" for the
 * root); a label byte that is not a printable character, or is "." or "\", is written
 * as \DDD so that any name read off the wire writes back to the same bytes.
 */

/** Record types aloft knows by name; any other 16-bit type passes through as raw data. */
export const RR_TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

export const CLASS_IN = 1;

/** Response codes; BADVERS needs EDNS (its high bits live in the OPT record). */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

export const OPCODE_QUERY = 0;

/** The largest answer sent over UDP to a client that did not say (no EDNS). */
export const CLASSIC_UDP_SIZE = 512;

export interface DnsHeader {
  id: number;
  /** True for a response. */
  qr: boolean;
  opcode: number;
  /** Authoritative answer. */
  aa: boolean;
  /** Truncated: the answer did not fit; ask again over TCP. */
  tc: boolean;
  /** Recursion desired. */
  rd: boolean;
  /** Recursion available. */
  ra: boolean;
  ad: boolean;
  cd: boolean;
  /** Full response code: the header's 4 bits plus, with EDNS, the OPT record's 8 more. */
  rcode: number;
}

export interface Question {
  name: string;
  type: number;
  class: number;
}

/** Record data: the kinds aloft builds or reads, else the bytes as they came. */
export type RecordData =
  | { kind: 'a'; address: string }
  | { kind: 'aaaa'; address: string }
  | { kind: 'txt'; strings: Buffer[] }
  /** CNAME, NS, PTR: one domain name. */
  | { kind: 'name'; name: string }
  | { kind: 'raw'; bytes: Buffer };

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  /** Seconds. */
  ttl: number;
  data: RecordData;
}

/** The EDNS0 pseudo-record (OPT), kept apart from the additional section. */
export interface Edns {
  /** The largest UDP payload the sender can take. */
  udpSize: number;
  version: number;
  /** The DO bit. */
  dnssecOk: boolean;
  options: { code: number; data: Buffer }[];
}

export interface DnsMessage {
  header: DnsHeader;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  /** Without the OPT record, which is in `edns`. */
  additionals: ResourceRecord[];
  edns?: Edns;
}

/** A header with every flag off, for building messages. */
export function emptyHeader(id: number): DnsHeader {
  return { id, qr: false, opcode: OPCODE_QUERY, aa: false, tc: false, rd: false, ra: false, ad: false, cd: false, rcode: RCODE.NOERROR };
}
