import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ResolvedLimits } from '../guard/limits.ts';
import type { SniResolver } from '../tls/sni.ts';
import { listenOn } from './listen.ts';

export interface TlsListenerOptions {
  host: string;
  port: number;
  sni: SniResolver;
  /** The proxy's request handler (its step chain); HTTP/2 requests reach it through Node's compat API. */
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** HTTP/1.1 `Upgrade` requests (WebSockets). */
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  limits: ResolvedLimits;
  /** ALPN protocols offered, most preferred first. Default `h2`, `http/1.1`. */
  alpn?: readonly string[];
}

/** The TLS edge port (Fly's 443 with handlers `["tls", "http"]`). */
export interface TlsListener {
  listen(): Promise<number>;
  /** Stops accepting; requests in flight get `graceMs`, then connections are cut. */
  close(graceMs: number): Promise<void>;
}

/**
 * An HTTPS listener: TLS terminated here with the certificate SNI names (per app),
 * then HTTP/2 when the client's ALPN offers `h2`, else HTTP/1.1, both into the same
 * step chain as the plain port. Backends still get HTTP/1.1. HTTP/1.1 connections
 * keep the plain port's guards (header and request timeouts, header size).
 */
export function createTlsListener(options: TlsListenerOptions): TlsListener {
  const { limits } = options;
  const server: Http2SecureServer = createSecureServer(
    {
      allowHTTP1: true,
      SNICallback: options.sni.callback,
      ALPNProtocols: [...(options.alpn ?? ['h2', 'http/1.1'])],
      minVersion: 'TLSv1.2',
      // A client that never finishes its handshake is cut like one that never sends headers.
      handshakeTimeout: limits.headersTimeoutMs,
      maxSessionMemory: 10,
      // Header lists past the guard's count are refused by nghttp2 itself (+4 pseudo-headers).
      maxHeaderListPairs: limits.maxHeaders + 4,
      maxSendHeaderBlockLength: limits.maxHeaderBytes * 2,
      settings: { maxHeaderListSize: limits.maxHeaderBytes },
    },
    (req: Http2ServerRequest | IncomingMessage, res: Http2ServerResponse | ServerResponse) => {
      if ('stream' in req) adaptHttp2(req, res as Http2ServerResponse);
      options.handle(req as IncomingMessage, res as ServerResponse);
    },
  );
  // The HTTP/1.1 fallback reads these like node:http's server does.
  Object.assign(server, {
    maxHeaderSize: limits.maxHeaderBytes,
    insecureHTTPParser: false,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: limits.checkIntervalMs,
    maxHeadersCount: limits.maxHeaders + 1,
  });
  server.on('upgrade', options.upgrade);
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Handshake failures (no certificate for the name, bad clients) cost only that connection.
  server.on('tlsClientError', (_err, socket: Socket) => socket.destroy());
  let listening = false;

  return {
    async listen() {
      await listenOn(server, options.port, options.host, 'TLS port');
      listening = true;
      return (server.address() as AddressInfo).port;
    },
    async close(graceMs) {
      if (!listening) return;
      listening = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // HTTP/2 sessions: GOAWAY now, streams in flight finish.
      for (const session of sessions) session.close();
      const cut = setTimeout(() => {
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      // Idle HTTP/1.1 keep-alive connections would hold close() for their whole timeout.
      (server as unknown as { closeIdleConnections(): void }).closeIdleConnections();
      await closed;
      clearTimeout(cut);
    },
  };
}

/**
 * Makes an HTTP/2 request look like what the steps read from HTTP/1.1: `Host` from
 * `:authority`, a body marked as one, and a writeHead that drops the status message (HTTP/2 has none, and
 * Node warns on each one given).
 */
function adaptHttp2(req: Http2ServerRequest, res: Http2ServerResponse): void {
  const headers = req.headers;
  if (headers.host === undefined && typeof headers[':authority'] === 'string') headers.host = headers[':authority'];
  // HTTP/2 marks a body by not ending the stream with the headers, not by a length;
  // the steps look for Content-Length or Transfer-Encoding. (Hop-by-hop, so it is not
  // forwarded: the backend gets the body chunked.)
  if (headers['content-length'] === undefined && !req.stream.endAfterHeaders) headers['transfer-encoding'] = 'chunked';
  const writeHead = res.writeHead.bind(res) as (status: number, headers?: unknown) => Http2ServerResponse;
  (res as unknown as { writeHead: (status: number, ...rest: unknown[]) => Http2ServerResponse }).writeHead = (status, ...rest) =>
    writeHead(status, typeof rest[0] === 'string' ? rest[1] : rest[0]);
}
