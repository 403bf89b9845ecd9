import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { invalidField } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { Balancer } from '../balance/balancer.ts';
import type { RateLimiter } from '../guard/rate-limiter.ts';
import type { ResolvedLimits } from '../guard/limits.ts';
import { appFromHost } from '../host.ts';
import type { Picker } from '../picker.ts';
import type { RouteTable } from '../route-table.ts';
import { checkTcpService, createTcpListener, type TcpListener, type TcpService } from '../tcp/tcp-listener.ts';
import { DirCertStore, MemoryCertStore, type CertStore } from '../tls/cert-store.ts';
import { SniResolver } from '../tls/sni.ts';
import type { AcmeIssuer } from '../tls/acme.ts';
import { Http01Challenges, http01Step } from '../tls/http01.ts';
import type { Step } from '../compose.ts';
import { createTlsListener } from './tls-listener.ts';
import { upgradeHandler } from './upgrade.ts';

/** The TLS edge port: Fly's 443 with handlers `["tls", "http"]`, for every app. */
export interface TlsOptions {
  /** Port to listen on; 0 picks a free one. Default 443. */
  port?: number;
  /** Address to listen on. Default the proxy's `host`. */
  host?: string;
  /** Where certificates come from: a store, or a directory (`<name>.crt`/`<name>.key`). Default in memory. */
  certs?: CertStore | string;
  /** Make a self-signed certificate for `<app>.<domain>` of a known app with none stored. Default true. */
  selfSigned?: boolean;
  /** The port clients reach it on, for force_https redirects (behind a port forward). Default the bound port. */
  publicPort?: number;
  /** ALPN protocols offered. Default `h2`, `http/1.1`. */
  alpn?: string[];
  /** An ACME CA for `issueCertificate` (HTTP-01 answered on the plain port). Off unless given. */
  acme?: { directoryUrl: string; email?: string };
}

/** What the edge listeners bound besides the plain HTTP port. */
export interface EdgePorts {
  /** The TLS port, when `tls` was given. */
  tlsPort?: number;
  /** Each raw TCP service's bound port, keyed `<app>:<service port>`. */
  tcpPorts?: Record<string, number>;
}

export interface EdgeListenerOptions {
  host: string;
  domain: string;
  region: string;
  table: RouteTable;
  balancer: Balancer;
  picker: Picker;
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  limits: ResolvedLimits;
  /** The per-address limit the HTTP chain applies, for upgrades too (none when off). */
  rateLimiter?: RateLimiter | undefined;
  nextRequestId: () => string;
  connectTimeoutMs: number;
  log: Logger;
  tls: TlsOptions | undefined;
  tcp: readonly TcpService[] | undefined;
}

/** The listeners beside the plain HTTP port, and the upgrade handler every HTTP/1.1 server uses. */
export interface EdgeListeners {
  /** For `server.on('upgrade')`: WebSockets and other HTTP/1.1 upgrades. */
  readonly upgrade: ReturnType<typeof upgradeHandler>;
  /** A listener for one app's raw TCP service port (for TCP services found in Machine configs). */
  tcpListenerFor(service: TcpService): TcpListener;
  /** Steps for the plain chain before routing (ACME HTTP-01 answers). */
  readonly beforeRouting: readonly Step[];
  /** Gets `name` a certificate from the ACME CA and serves it from the next handshake; needs `tls.acme`. */
  issueCertificate(name: string): Promise<void>;
  /** Where force_https sends clients; undefined while no TLS port listens. */
  httpsPort(): number | undefined;
  /** Binds the TLS port and TCP services; on any failure closes what it bound and throws. */
  listen(): Promise<EdgePorts>;
  close(graceMs: number): Promise<void>;
}

/**
 * Builds the edge's other listeners from the proxy's options: the TLS port (SNI
 * certificates, HTTP/2 by ALPN, into the same step chain) and one raw TCP listener per
 * configured service. Validates their options up front, as createProxy does its own.
 */
export function createEdgeListeners(options: EdgeListenerOptions): EdgeListeners {
  const { table, domain, balancer, limits, log } = options;
  const tlsPort = options.tls?.port ?? 443;
  if (options.tls !== undefined && (!Number.isInteger(tlsPort) || tlsPort < 0 || tlsPort > 65535)) {
    throw invalidField('start proxy', 'tls.port', 'an integer from 0 to 65535', tlsPort);
  }
  const tcp = options.tcp ?? [];
  for (const service of tcp) checkTcpService(service);
  const upgrade = upgradeHandler({
    table,
    domain,
    region: options.region,
    picker: options.picker,
    loads: balancer.loads,
    nextRequestId: options.nextRequestId,
    connectTimeoutMs: options.connectTimeoutMs,
    rateLimiter: options.rateLimiter,
    log,
  });
  const certs = options.tls?.certs;
  const store = typeof certs === 'string' ? new DirCertStore(certs) : (certs ?? new MemoryCertStore());
  const sni = new SniResolver({
    store,
    allowSelfSigned: (name) => {
      if (options.tls?.selfSigned === false) return false;
      const app = appFromHost(name, domain);
      return app !== undefined && table.lookup(app).known;
    },
    log,
  });
  const tlsListener =
    options.tls === undefined
      ? undefined
      : createTlsListener({
          host: options.tls.host ?? options.host,
          port: tlsPort,
          sni,
          handle: options.handle,
          upgrade,
          limits,
          ...(options.tls.alpn === undefined ? {} : { alpn: options.tls.alpn }),
        });
  // The balancer's picker reads only the client socket (its own load share) and steering (none on raw TCP).
  const choose = (candidates: Parameters<Picker>[0], socket: Socket): ReturnType<Picker> =>
    balancer.picker(candidates, { req: { socket }, steering: undefined } as unknown as Parameters<Picker>[1]);
  const tcpListenerFor = (service: TcpService): TcpListener =>
    createTcpListener({
      service,
      host: options.host,
      table,
      loads: balancer.loads,
      choose,
      sni,
      connectTimeoutMs: options.connectTimeoutMs,
      handshakeTimeoutMs: limits.headersTimeoutMs,
      log,
    });
  const tcpListeners = tcp.map(tcpListenerFor);

  const acme = options.tls?.acme;
  if (acme !== undefined && !/^https?:\/\/[^/\s]+/.test(acme.directoryUrl)) {
    throw invalidField('start proxy', 'tls.acme.directoryUrl', 'an http(s) URL of an ACME directory', acme.directoryUrl);
  }
  const challenges = new Http01Challenges();
  // acme-client (and axios) load on the first issue only.
  let issuer: Promise<AcmeIssuer> | undefined;
  const issuerFor = (settings: NonNullable<typeof acme>): Promise<AcmeIssuer> =>
    (issuer ??= import('../tls/acme.ts').then(
      ({ AcmeIssuer }) =>
        new AcmeIssuer({ directoryUrl: settings.directoryUrl, ...(settings.email === undefined ? {} : { email: settings.email }), store, challenges, log }),
    ));
  let boundTls: number | undefined;
  const close = async (graceMs: number): Promise<void> => {
    boundTls = undefined;
    await Promise.all([tlsListener?.close(graceMs), ...tcpListeners.map((l) => l.close())]);
  };
  return {
    upgrade,
    tcpListenerFor,
    beforeRouting: acme === undefined ? [] : [http01Step(challenges)],
    async issueCertificate(name) {
      if (acme === undefined) {
        throw invalidField('issue certificate', 'tls.acme', 'set (an ACME directory URL) to issue certificates', undefined);
      }
      await (await issuerFor(acme)).issue(name.toLowerCase());
      sni.forget(name);
    },
    httpsPort: () => (boundTls === undefined ? undefined : (options.tls?.publicPort ?? boundTls)),
    async listen() {
      const ports: EdgePorts = {};
      try {
        if (tlsListener !== undefined) ports.tlsPort = boundTls = await tlsListener.listen();
        for (const l of tcpListeners) (ports.tcpPorts ??= {})[`${l.service.app}:${l.service.port}`] = await l.listen();
      } catch (err) {
        // All or nothing: a proxy half listening would hide the failure.
        await close(0);
        throw err;
      }
      return ports;
    },
    close,
  };
}
