import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { connectionListed, isHopByHop } from './hop-by-hop.ts';

/** The `Via` token aloft adds, in both directions (RFC 7230 §5.7.1). */
export const VIA = '1.1 aloft';

/** What the edge knows about the client connection, for the headers Fly adds. */
export interface ForwardInfo {
  /** The client's address, IPv4-mapped IPv6 unwrapped. */
  clientIp: string;
  /** The edge port the client connected to. */
  port: number;
  proto: 'http' | 'https';
  /** The edge's region. */
  region: string;
  requestId: string;
  /** The Host to send: the request's authority. */
  host: string;
}

/** Headers the edge sets itself; a client sending them must not be able to spoof them. */
const OWN = new Set([
  'host',
  'expect',
  'fly-client-ip',
  'fly-forwarded-port',
  'fly-region',
  'fly-request-id',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-ssl',
  // Set only by the replay step; a client must not fake where a request was replayed from.
  'fly-replay-src',
  'fly-replay-failed',
]);

/** The client address of `req`, as Fly-Client-IP shows it. */
export function clientIp(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * The request headers to send a backend, as a flat [name, value, …] list: the
 * client's headers in their order and case, less hop-by-hop ones and ones the edge
 * owns, plus the headers Fly adds (Fly-Client-IP, Fly-Forwarded-Port, Fly-Region,
 * X-Forwarded-For (appended), X-Forwarded-Proto/-Port/-SSL, Via, Fly-Request-Id).
 * Duplicated Content-Length collapses to the first (the parser already refused
 * conflicting ones).
 */
export function forwardedRequestHeaders(req: IncomingMessage, info: ForwardInfo): string[] {
  const raw = req.rawHeaders;
  const listed = connectionListed(req.headers.connection);
  const out: string[] = ['host', info.host];
  let forwardedFor: string | undefined;
  let via: string | undefined;
  let sawLength = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    // HTTP/2 pseudo-headers (:method, :authority…) are not headers to an HTTP/1.1 backend.
    if (name.charCodeAt(0) === 58) continue;
    const lower = name.toLowerCase();
    if (OWN.has(lower) || isHopByHop(lower, listed)) continue;
    if (lower === 'x-forwarded-for') forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
    else if (lower === 'via') via = via === undefined ? value : `${via}, ${value}`;
    else if (lower === 'content-length') {
      if (sawLength) continue;
      sawLength = true;
      out.push(name, value);
    } else out.push(name, value);
  }
  const port = String(info.port);
  out.push(
    'fly-client-ip', info.clientIp,
    'fly-forwarded-port', port,
    'fly-region', info.region,
    'x-forwarded-for', forwardedFor === undefined ? info.clientIp : `${forwardedFor}, ${info.clientIp}`,
    'x-forwarded-proto', info.proto,
    'x-forwarded-port', port,
    'x-forwarded-ssl', info.proto === 'https' ? 'on' : 'off',
    'via', via === undefined ? VIA : `${via}, ${VIA}`,
    'fly-request-id', info.requestId,
  );
  return out;
}

/**
 * The response headers to send the client, as a flat list for `writeHead`: the
 * backend's, less hop-by-hop ones, with Via appended and the edge's Fly-Request-Id
 * in place of any the backend sent. (One flat list keeps Node's fast path: no
 * headers set on the response before writeHead.)
 */
export function forwardedResponseHeaders(headers: IncomingHttpHeaders, requestId: string): string[] {
  const listed = connectionListed(headers.connection);
  const out: string[] = [];
  let via: string | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || name === 'fly-request-id' || isHopByHop(name, listed)) continue;
    if (name === 'via') {
      via = Array.isArray(value) ? value.join(', ') : value;
      continue;
    }
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  out.push('via', via === undefined ? VIA : `${via}, ${VIA}`, 'fly-request-id', requestId);
  return out;
}
