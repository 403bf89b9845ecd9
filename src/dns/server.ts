import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { AloftError, invalidField } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { TokenBuckets } from '../proxy/guard/token-bucket.ts';
import type { RegionRttTable } from '../proxy/balance/region-rtt.ts';
import { DnsView, type DnsSource } from './dns-view.ts';
import { Forwarder } from './forwarder.ts';
import { QueryHandler } from './query-handler.ts';
import { InternalResolver } from './resolver.ts';
import { TcpFramer } from './tcp-framer.ts';
import { upstreamFromResolvConf, type Upstream } from './upstream.ts';

/** Fly's per-host private resolver address, which each Machine is given as its DNS server. */
export const DNS_PRIVATE_ADDRESS = 'fdaa::3';

export interface DnsServerOptions {
  /** Where apps and Machines come from (followed by watch). */
  store: DnsSource;
  /** The address to listen on (UDP and TCP): fdaa::3 on a host, loopback in tests. */
  host: string;
  /** The port (53 on a host; 0: any free one, the same for UDP and TCP). */
  port: number;
  /** This host's region: where askers the view cannot place are. */
  region: string;
  /** Region RTTs for top<N>.nearest.of (the proxy's table). */
  rtt?: RegionRttTable;
  /** TTL of `.internal` answers in seconds. Default 5. */
  ttl?: number;
  /** `_peer.internal` TXT strings per org: its WireGuard peers' names (PeerDirectory.txt, src/net/peers). */
  peers?: (org: string) => readonly string[];
  /** The app's Flycast addresses, answered as AAAA for `<app>.flycast` (FlycastDirectory.addressesOf). */
  flycast?: (app: string) => readonly string[];
  /**
   * Where other names go: an Upstream, null for nowhere (REFUSED), or undefined for the
   * first nameserver of `resolvConf` (default /etc/resolv.conf), nowhere when it has none.
   */
  upstream?: Upstream | null;
  resolvConf?: string;
  /** Default 2,000 ms. */
  forwardTimeoutMs?: number;
  /** Distinct forwarded queries in flight at once. Default 512. */
  maxInFlight?: number;
  /** Queries per second per source address (UDP beyond it is dropped, TCP REFUSED); false: none. Default 2,000/s, burst 4,000. */
  rateLimit?: { perSecond: number; burst: number } | false;
  /** Default 256. */
  maxTcpConnections?: number;
  /** A TCP connection with no query for this long is closed. Default 10,000 ms. */
  tcpIdleMs?: number;
  log?: Logger;
}

export interface RunningDnsServer {
  host: string;
  /** The UDP and TCP port. */
  port: number;
  /** Where other names are forwarded; undefined when nowhere. */
  upstream: Upstream | undefined;
  /** The live view of the store the answers come from. */
  view: DnsView;
  /** Stops listening, answers what is in flight (forwards fail as SERVFAIL), closes TCP connections, stops the watch. */
  close(): Promise<void>;
}

/**
 * Starts aloft's private DNS server: `.internal` names from a live view of the store,
 * other names forwarded upstream, over UDP and TCP on one address and port. Throws
 * ALREADY_RUNNING when the port is taken, INVALID_ARGUMENT for an address this host
 * does not have or an upstream that is this server itself, DNS_FAILED otherwise.
 */
export async function startDnsServer(options: DnsServerOptions): Promise<RunningDnsServer> {
  const log = options.log ?? silentLogger;
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) throw invalidField('start DNS', 'port', 'a port number from 0 to 65535', options.port);
  const upstream = options.upstream === null ? undefined : (options.upstream ?? (await upstreamFromResolvConf(options.resolvConf)));
  const view = new DnsView(options.store, { log });
  await view.start();
  const forwarder = upstream === undefined ? undefined : new Forwarder(upstream, { ...optional('timeoutMs', options.forwardTimeoutMs), ...optional('maxInFlight', options.maxInFlight) });
  const resolver = new InternalResolver(view, {
    region: options.region,
    ...optional('rtt', options.rtt),
    ...optional('ttl', options.ttl),
    ...optional('peers', options.peers),
    ...optional('flycast', options.flycast),
  });
  const handler = new QueryHandler(resolver, forwarder, { log });
  const limits = options.rateLimit === false ? undefined : new TokenBuckets({ ratePerSecond: options.rateLimit?.perSecond ?? 2000, burst: options.rateLimit?.burst ?? 4000 });
  const allowed = (source: string): boolean => limits === undefined || limits.take(source, performance.now()) === 0;

  let bound: { udp: UdpSocket; tcp: Server };
  try {
    bound = await bindBoth(options.host, options.port);
  } catch (err) {
    view.stop();
    throw err;
  }
  const { udp, tcp } = bound;
  const port = udp.address().port;
  if (upstream !== undefined && isSelf(upstream, options.host, port)) {
    udp.close();
    tcp.close();
    view.stop();
    throw invalidField('start DNS', 'upstream', `another resolver than this server itself (${options.host} port ${port}), or queries would loop`, `${upstream.host}:${upstream.port}`);
  }

  // A bug in answering one query must cost that query, never the server.
  const answer = (query: Buffer, source: string, transport: 'udp' | 'tcp'): Buffer | undefined | Promise<Buffer | undefined> => {
    try {
      const reply = handler.handle(query, source, transport);
      return reply instanceof Promise ? reply.catch((err: unknown) => void log.error({ err }, 'dns: query failed')) : reply;
    } catch (err) {
      log.error({ err }, 'dns: query failed');
      return undefined;
    }
  };
  udp.on('message', (msg, rinfo) => {
    if (!allowed(rinfo.address)) return;
    const reply = answer(msg, rinfo.address, 'udp');
    const send = (bytes: Buffer | undefined): void => {
      if (bytes !== undefined && !closed) udp.send(bytes, rinfo.port, rinfo.address);
    };
    if (reply instanceof Promise) void reply.then(send);
    else send(reply);
  });
  udp.on('error', (err) => log.error({ err }, 'dns: UDP socket failed'));

  const connections = new Set<TcpFramer>();
  tcp.maxConnections = options.maxTcpConnections ?? 256;
  tcp.on('connection', (socket: Socket) => {
    const source = socket.remoteAddress ?? '';
    const framer = new TcpFramer(socket, {
      idleMs: options.tcpIdleMs ?? 10_000,
      onQuery: (query) => (allowed(source) ? answer(query, source, 'tcp') : refused(query)),
      onClose: () => connections.delete(framer),
    });
    connections.add(framer);
  });
  tcp.on('error', (err) => log.error({ err }, 'dns: TCP listener failed'));
  log.info({ host: options.host, port, upstream }, 'dns: listening');

  let closed = false;
  let closing: Promise<void> | undefined;
  return {
    host: options.host,
    port,
    upstream,
    view,
    close() {
      closing ??= (async () => {
        const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()));
        forwarder?.close();
        // Let replies to forwards that just failed be written before the socket goes.
        await new Promise((resolve) => setImmediate(resolve));
        closed = true;
        udp.close();
        await Promise.all([...connections].map((c) => c.end()));
        await tcpClosed;
        view.stop();
      })();
      return closing;
    },
  };
}

/** REFUSED for a TCP query over its source's rate (UDP ones are dropped instead). */
function refused(query: Buffer): Buffer | undefined {
  if (query.length < 12 || (query[2] ?? 0) >= 0x80) return undefined;
  const out = Buffer.alloc(12);
  query.copy(out, 0, 0, 4);
  out[2] = ((query[2] ?? 0) | 0x80) & 0xf9; // QR on, AA and TC off
  out[3] = 0x05; // REFUSED
  return out;
}

/** Binds UDP and TCP to the same port; with port 0, retries until both get one. */
async function bindBoth(host: string, port: number): Promise<{ udp: UdpSocket; tcp: Server }> {
  for (let attempt = 0; ; attempt++) {
    const udp = createSocket({ type: isIPv6(host) || host === '::' ? 'udp6' : 'udp4' });
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind({ address: host, port }, () => {
          udp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      throw bindError(err, host, port);
    }
    const actual = udp.address().port;
    const tcp = createServer({ pauseOnConnect: false });
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host, port: actual }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      return { udp, tcp };
    } catch (err) {
      udp.close();
      if (port === 0 && attempt < 5 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
      throw bindError(err, host, actual);
    }
  }
}

function bindError(err: unknown, host: string, port: number): AloftError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new AloftError('ALREADY_RUNNING', `Cannot start DNS as 'port' must be free on ${host}: got ${port}, which is in use`, { cause: err, details: { field: 'port' } });
  if (code === 'EADDRNOTAVAIL' || code === 'EINVAL') {
    return invalidField('start DNS', 'host', `an address of this host (e.g. \`ip -6 addr add ${DNS_PRIVATE_ADDRESS}/128 dev aloft0\` first)`, host);
  }
  if (code === 'EACCES') return new AloftError('DNS_FAILED', `Cannot start DNS on ${host} port ${port}: ports below 1024 need root or CAP_NET_BIND_SERVICE`, { cause: err });
  return new AloftError('DNS_FAILED', `Cannot start DNS on ${host} port ${port}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** True when `upstream` is this server: the same port and its address, or any local one when listening on all. */
function isSelf(upstream: Upstream, host: string, port: number): boolean {
  if (upstream.port !== port) return false;
  if (upstream.host === host) return true;
  if (host !== '0.0.0.0' && host !== '::') return false;
  const local = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  return local.includes(upstream.host) || upstream.host === '::1' || upstream.host.startsWith('127.');
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]: V });
}
