import { isIPv4, isIPv6 } from 'node:net';

/** Both ends of a client connection, as the edge saw it. */
export interface ConnectionEnds {
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
}

/** The PROXY protocol v2 signature (12 bytes). */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** `::ffff:1.2.3.4` → `1.2.3.4`; IPv4-mapped client addresses are IPv4 clients. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** The address family both ends share, or undefined (mixed or unknown: sent as UNKNOWN/LOCAL). */
function family(ends: ConnectionEnds): { src: string; dst: string; v: 4 | 6 } | undefined {
  const src = unmapped(ends.sourceAddress);
  const dst = unmapped(ends.destinationAddress);
  if (isIPv4(src) && isIPv4(dst)) return { src, dst, v: 4 };
  if (isIPv6(src) && isIPv6(dst)) return { src, dst, v: 6 };
  return undefined;
}

/**
 * The PROXY protocol header (haproxy's proxy-protocol.txt) the edge sends a Machine
 * before the client's bytes, so the app learns the client's real address: v1 is one
 * text line, v2 the binary form (PROXY command, TCP over IPv4 or IPv6).
 */
export function proxyHeader(version: 1 | 2, ends: ConnectionEnds): Buffer {
  const fam = family(ends);
  if (version === 1) {
    if (fam === undefined) return Buffer.from('PROXY UNKNOWN\r\n');
    return Buffer.from(`PROXY TCP${fam.v} ${fam.src} ${fam.dst} ${ends.sourcePort} ${ends.destinationPort}\r\n`);
  }
  if (fam === undefined) {
    // LOCAL command, no addresses: the receiver uses the connection's own.
    return Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  }
  const addrLength = fam.v === 4 ? 12 : 36;
  const out = Buffer.alloc(16 + addrLength);
  PROXY_V2_SIGNATURE.copy(out, 0);
  out[12] = 0x21; // version 2, PROXY
  out[13] = fam.v === 4 ? 0x11 : 0x21; // AF_INET/AF_INET6, STREAM
  out.writeUInt16BE(addrLength, 14);
  const size = fam.v === 4 ? 4 : 16;
  ipBytes(fam.src, fam.v).copy(out, 16);
  ipBytes(fam.dst, fam.v).copy(out, 16 + size);
  out.writeUInt16BE(ends.sourcePort, 16 + 2 * size);
  out.writeUInt16BE(ends.destinationPort, 18 + 2 * size);
  return out;
}

/** An address's network-order bytes. */
function ipBytes(address: string, v: 4 | 6): Buffer {
  if (v === 4) return Buffer.from(address.split('.').map(Number));
  // Expand "::" then write eight 16-bit groups; an embedded IPv4 tail becomes two groups.
  let text = address;
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail !== null) {
    const [a, b, c, d] = tail[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -tail[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left, right] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const head = left === '' ? [] : left.split(':');
  const rest = right === undefined || right === '' ? [] : right.split(':');
  const groups = right === undefined ? head : [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
