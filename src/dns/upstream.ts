import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { invalidField } from '../lib/errors.ts';

/** The resolver names outside `.internal` are forwarded to. */
export interface Upstream {
  /** An IPv4 or IPv6 address (no names: resolving the resolver would need a resolver). */
  host: string;
  port: number;
}

/**
 * Reads an upstream given as "ADDRESS", "ADDRESS:PORT", "[IPv6]:PORT" or a bare IPv6
 * address. Throws INVALID_ARGUMENT naming `field`.
 */
export function parseUpstream(text: string, field = 'upstream'): Upstream {
  const rule = 'an IP address with an optional port, such as "1.1.1.1", "10.0.0.2:5353" or "[fdaa::3]:53"';
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  let host = text;
  let port = '53';
  if (bracketed !== null) {
    host = bracketed[1] ?? '';
    port = bracketed[2] ?? '53';
  } else if (isIP(text) === 0) {
    const colon = text.lastIndexOf(':');
    host = text.slice(0, colon);
    port = text.slice(colon + 1);
  }
  const n = Number(port);
  if (isIP(host) === 0 || !/^\d{1,5}$/.test(port) || n < 1 || n > 65535) throw invalidField('configure DNS', field, rule, text);
  return { host, port: n };
}

/**
 * The first `nameserver` of a resolv.conf (default /etc/resolv.conf), which is where
 * the host itself sends queries; undefined when the file is missing or names none.
 * A zone suffix ("fe80::1%eth0") is kept off: Node's UDP sockets take it elsewhere.
 */
export async function upstreamFromResolvConf(path = '/etc/resolv.conf'): Promise<Upstream | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    const host = match?.[1]?.split('%')[0];
    if (host !== undefined && isIP(host) !== 0) return { host, port: 53 };
  }
  return undefined;
}
