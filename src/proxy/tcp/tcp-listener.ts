import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { invalidField } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { LoadTracker } from '../balance/load-tracker.ts';
import { listenOn } from '../listeners/listen.ts';
import type { ServicePort } from '../listeners/service-ports.ts';
import { pipeTunnel, tieTunnel } from '../listeners/tunnel.ts';
import type { RouteEntry } from '../route-entry.ts';
import type { RouteTable } from '../route-table.ts';
import type { SniResolver } from '../tls/sni.ts';
import { proxyHeader } from './proxy-protocol.ts';

/** After one side's FIN, how long the other may keep sending (half-close is legitimate on raw TCP). */
const TCP_LINGER_MS = 30_000;

/** A raw TCP service the edge serves: one app's service port on a listener of its own. */
export interface TcpService {
  /** The app whose Machines take the connections. */
  app: string;
  /** The service's edge port in the Machines' config (`services[].ports[].port`). */
  port: number;
  /** Where the edge listens for it. Default `port`; 0 picks a free one. */
  listenPort?: number;
}

export interface TcpListenerOptions {
  service: TcpService;
  host: string;
  table: RouteTable;
  loads: LoadTracker;
  /** Chooses the Machine for a new connection (the balancer's rule), undefined when all are full. */
  choose: (candidates: readonly RouteEntry[], socket: Socket) => RouteEntry | undefined;
  /** Certificates for ports with the `tls` handler. */
  sni: SniResolver;
  connectTimeoutMs: number;
  /** A TLS handshake must finish within this. */
  handshakeTimeoutMs: number;
  log: Logger;
}

/** A listening raw TCP service. */
export interface TcpListener {
  readonly service: TcpService;
  listen(): Promise<number>;
  close(): Promise<void>;
}

/** Throws unless `service` names an app and ports in range. */
export function checkTcpService(service: TcpService): void {
  if (typeof service.app !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(service.app)) {
    throw invalidField('start proxy', 'tcp[].app', 'an app name', service.app);
  }
  if (!Number.isInteger(service.port) || service.port < 1 || service.port > 65535) {
    throw invalidField('start proxy', 'tcp[].port', 'an integer from 1 to 65535', service.port);
  }
  const listen = service.listenPort ?? service.port;
  if (!Number.isInteger(listen) || listen < 0 || listen > 65535) {
    throw invalidField('start proxy', 'tcp[].listenPort', 'an integer from 0 to 65535', service.listenPort);
  }
}

/**
 * A raw TCP edge port (a service port with no `http` handler): each connection goes
 * to one started Machine of the app whose config has that port, chosen like requests
 * are and counted as a connection while open. The port's handlers (read from the
 * chosen Machine's config) add `tls` termination and a `proxy_proto` header (v1 or
 * v2, Fly's `proxy_proto_options.version`) before the client's bytes.
 */
export function createTcpListener(options: TcpListenerOptions): TcpListener {
  const { service, table, log } = options;
  const sockets = new Set<Socket>();
  const server: Server = createServer({ pauseOnConnect: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const routes = table.lookup(service.app);
    const candidates = routes.known ? routes.started.filter((e) => tcpPortOf(e, service.port) !== undefined) : [];
    const entry = candidates.length === 0 ? undefined : options.choose(candidates, socket);
    const port = entry === undefined ? undefined : tcpPortOf(entry, service.port);
    if (entry === undefined || port === undefined) {
      log.warn({ app: service.app, port: service.port, candidates: candidates.length }, 'proxy: no machine can take a TCP connection');
      socket.destroy();
      return;
    }
    const release = options.loads.acquire(entry, socket);
    const client: Duplex = port.handlers.includes('tls') ? terminateTls(socket, options) : socket;
    const backend = connect({ host: entry.ipv4 !== '' ? entry.ipv4 : entry.ipv6, port: port.internalPort, timeout: options.connectTimeoutMs });
    tieTunnel(client, backend, TCP_LINGER_MS, release);
    backend.once('timeout', () => backend.destroy(new Error(`connect timed out after ${options.connectTimeoutMs} ms`)));
    backend.on('error', (err) => {
      log.warn({ err, app: service.app, machine: entry.machineId }, 'proxy: TCP backend failed');
      client.destroy();
    });
    backend.once('connect', () => {
      backend.setTimeout(0);
      if (port.handlers.includes('proxy_proto')) {
        backend.write(
          proxyHeader(port.proxyProtoVersion, {
            sourceAddress: socket.remoteAddress ?? '',
            sourcePort: socket.remotePort ?? 0,
            destinationAddress: socket.localAddress ?? '',
            destinationPort: socket.localPort ?? 0,
          }),
        );
      }
      pipeTunnel(client, backend);
      socket.resume();
    });
  });
  let listening = false;
  return {
    service,
    async listen() {
      await listenOn(server, service.listenPort ?? service.port, options.host, `TCP service ${service.app}:${service.port}`);
      listening = true;
      return (server.address() as AddressInfo).port;
    },
    async close() {
      if (!listening) return;
      listening = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Raw streams have no request boundary to wait for: cut them.
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** The entry's edge port `port` when it is a TCP (not HTTP) port. */
function tcpPortOf(entry: RouteEntry, port: number): ServicePort | undefined {
  return entry.services?.find((p) => p.port === port && !p.handlers.includes('http'));
}

/** TLS on the raw socket (certificate by SNI), bounded by the handshake timeout. */
function terminateTls(socket: Socket, options: TcpListenerOptions): TLSSocket {
  const tls = new TLSSocket(socket, { isServer: true, SNICallback: options.sni.callback, minVersion: 'TLSv1.2' });
  const timer = setTimeout(() => tls.destroy(new Error('TLS handshake timed out')), options.handshakeTimeoutMs).unref();
  tls.once('secure', () => clearTimeout(timer));
  tls.once('close', () => clearTimeout(timer));
  tls.on('error', () => tls.destroy());
  return tls;
}
