import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../lib/clock.ts';
import { invalidField } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { answer } from './answers.ts';
import { compose, type Step } from './compose.ts';
import { createContext } from './context.ts';
import { ProxyMetrics } from './metrics.ts';
import type { Picker } from './picker.ts';
import { Balancer, type BalanceOptions } from './balance/balancer.ts';
import { steerStep } from './balance/steer-step.ts';
import { HealthChecker } from './health/health-checker.ts';
import { requestIds } from './request-id.ts';
import { defaultRetryPolicy, type RetryPolicy } from './retry-policy.ts';
import { RouteTable, type RouteSource } from './route-table.ts';
import type { DialFamily } from './route-entry.ts';
import { countStep } from './steps/count.ts';
import { forwardStep, type RetryEvent } from './steps/forward.ts';
import { resolveAppStep } from './steps/resolve-app.ts';
import { httpServerOptions, resolveLimits, type ClientLimits } from './guard/limits.ts';
import { bodyIdleStep, headerGuardStep, rateLimitStep } from './steps/guards.ts';
import { RateLimiter } from './guard/rate-limiter.ts';
import { replayStep, type ReplaySettings } from './steps/replay.ts';
import { forceHttpsStep } from './steps/force-https.ts';
import { createEdgeListeners, type EdgePorts, type TlsOptions } from './listeners/edge-listeners.ts';
import { listenOn } from './listeners/listen.ts';
import type { TcpService } from './tcp/tcp-listener.ts';
import { TcpDiscovery } from './tcp/tcp-discovery.ts';
import { Autostarter } from './autoscale/autostart.ts';
import { Autostopper } from './autoscale/autostop.ts';
import type { AutoscaleStore } from './autoscale/intents.ts';
import { BackendPools } from './backend/index.ts';

/** Autostart and autostop (autoscale/): the proxy starts and stops Machines by writing intents. */
export interface AutoscaleOptions {
  /** Where intents are written (the same store routes come from, in practice). */
  store: AutoscaleStore;
  /** How long a request waits for an autostarted Machine. Default 30 s. */
  autostartWaitMs?: number;
  /** How often autostop looks at each app and region (and how long a Machine must be idle). Default 5 min; 0 turns autostop off. */
  autostopIntervalMs?: number;
  /** How long a drained Machine's requests may take before autostop gives up on it. Default 10 s. */
  drainMs?: number;
}

/** Timeouts and pooling of the proxy's connections to Machines. */
export interface BackendOptions {
  /** Give up connecting after this long (then retry elsewhere). Default 5 s. */
  connectTimeoutMs?: number;
  /** Give up waiting for response headers after this long. Default 60 s. */
  headersTimeoutMs?: number;
  /** Give up when the response body is idle this long (0: never). Default 60 s. */
  bodyTimeoutMs?: number;
  /** Close pooled idle connections after this long (Fly pools for ~4 s). Default 4 s. */
  keepAliveTimeoutMs?: number;
}

export interface ProxyOptions {
  /** Where routes come from; any Store will do. */
  store: RouteSource;
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port to listen on; 0 picks a free one. Default 8080. */
  port?: number;
  /** Apps are reached as `<app>.<domain>`. Default `localhost`. */
  domain?: string;
  /** This edge's region, sent as Fly-Region. Default `local`. */
  region?: string;
  log?: Logger;
  clock?: Clock;
  /** Chooses among an app's started Machines. Default: at random. */
  picker?: Picker;
  retry?: Partial<RetryPolicy>;
  backend?: BackendOptions;
  /** How long close() lets requests in flight finish before cutting them. Default 5 s. */
  closeGraceMs?: number;
  /** Called when an attempt failed and the request is retried (for logs and tests). */
  onRetry?: (event: RetryEvent) => void;
  /** What clients may send: timeouts, header limits, a per-address rate limit (guard/limits.ts has the defaults and why). */
  limits?: ClientLimits;
  /** fly-replay settings (body kept up to 100 MB, 10 hops); `false` passes fly-replay responses through untouched. */
  replay?: ReplaySettings | false;
  /** Region RTTs, the wait queue at hard_limit, tie-breaking (balance/balancer.ts). */
  balance?: BalanceOptions;
  /** Service health checks: at most this many probes at once (default 16). */
  health?: { maxConcurrent?: number };
  /** Autostart/autostop; without it the proxy never starts or stops a Machine. */
  autoscale?: AutoscaleOptions;
  /** A TLS port (SNI certificate per app, HTTP/2 by ALPN); off unless given. force_https redirects to it. */
  tls?: TlsOptions;
  /**
   * Raw TCP services (service ports without the `http` handler), each on a listener of
   * its own. Without it, they are found in the Machines' configs (`discoverTcp`).
   */
  tcp?: TcpService[];
  /** Serve every app's raw TCP service ports as Machines declare them. Default: true unless `tcp` is given. */
  discoverTcp?: boolean;
  /** Which Machine address to dial: `ipv4` (default, on the Machine's host) or `ipv6` (6PN, an edge on the mesh). */
  dial?: DialFamily;
}

/** A running (or ready to run) edge proxy. */
export interface Proxy {
  /** Loads the routing table, then accepts connections. Resolves with the bound port. */
  listen(): Promise<{ port: number } & EdgePorts>;
  /** Stops accepting, lets requests in flight finish (up to the grace), frees everything. */
  close(): Promise<void>;
  /** Handles one request; for servers the proxy does not own (TLS, tests). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  readonly table: RouteTable;
  readonly metrics: ProxyMetrics;
  /** Per-Machine load and the queue of requests waiting at hard_limit. */
  readonly balancer: Balancer;
  /** Gets a certificate for `name` from `tls.acme`'s CA; the TLS port serves it from then on. */
  issueCertificate(name: string): Promise<void>;
  /** Set with `autoscale`: starts Machines for requests. */
  readonly autostarter: Autostarter | undefined;
  /** Set with `autoscale` and an interval: stops idle excess Machines. */
  readonly autostopper: Autostopper | undefined;
  /** `app:port` → bound port of every raw TCP service listening now. */
  tcpPorts(): Record<string, number>;
  /** Resolves once TCP service listeners match the routing table's changes so far (for tests). */
  settledTcp(): Promise<void>;
  /** The backend connection pools, one per Machine origin. */
  readonly pools: BackendPools;
}

/**
 * The edge proxy: HTTP/1.1 in, routed by Host (`<app>.<domain>`) to a started Machine
 * of the app, through a chain of small steps (count → resolve app → forward)
 * that later features (limits, replay, autostart) slot into.
 */
export function createProxy(options: ProxyOptions): Proxy {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  const domain = (options.domain ?? 'localhost').toLowerCase();
  const region = options.region ?? 'local';
  const log = options.log ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const closeGraceMs = options.closeGraceMs ?? 5000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalidField('start proxy', 'port', 'an integer from 0 to 65535', port);
  }
  if (!/^[a-z0-9.-]+$/.test(domain) || domain.startsWith('.') || domain.endsWith('.')) {
    throw invalidField('start proxy', 'domain', 'a DNS name such as "localhost" or "example.com"', domain);
  }

  const health = new HealthChecker({ clock, log, ...options.health });
  const table = new RouteTable(options.store, { clock, log, health, ...(options.dial === undefined ? {} : { dial: options.dial }) });
  const balancer = new Balancer(table, region, options.balance, clock);
  const metrics = new ProxyMetrics();
  const backend = options.backend ?? {};
  const dispatcher = new BackendPools({
    connectTimeoutMs: backend.connectTimeoutMs ?? 5000,
    headersTimeoutMs: backend.headersTimeoutMs ?? 60_000,
    bodyTimeoutMs: backend.bodyTimeoutMs ?? 60_000,
    keepAliveTimeoutMs: backend.keepAliveTimeoutMs ?? 4000,
  });
  const autoscale = options.autoscale;
  const autostarter =
    autoscale === undefined
      ? undefined
      : new Autostarter({ store: autoscale.store, table, loads: balancer.loads, region, rtt: options.balance?.rtt, waitMs: autoscale.autostartWaitMs, clock, log });
  const autostopper =
    autoscale === undefined || autoscale.autostopIntervalMs === 0
      ? undefined
      : new Autostopper({
          store: autoscale.store,
          table,
          loads: balancer.loads,
          closeOrigin: (origin) => dispatcher.closeOrigin(origin),
          intervalMs: autoscale.autostopIntervalMs,
          drainMs: autoscale.drainMs,
          clock,
          log,
        });
  const limits = resolveLimits(options.limits);
  const rateLimiter = limits.rateLimit === undefined ? undefined : new RateLimiter(limits.rateLimit, clock);
  // The chain, cheapest refusals first: count (sees every answer) → rate limit (off
  // by default) → header guard → body idle timeout → resolve app → replay, which
  // runs forward once per hop.
  const forward = forwardStep({
    table,
    backend: dispatcher,
    picker: options.picker ?? balancer.picker,
    acquire: (entry, ctx) => balancer.acquire(entry, ctx),
    queue: balancer.queue,
    retry: { ...defaultRetryPolicy, ...options.retry },
    clock,
    metrics,
    log,
    onRetry: options.onRetry,
  });
  const store = options.store as RouteSource & { getApp?: (name: string) => Promise<{ orgSlug: string } | undefined> };
  const orgOf = async (app: string): Promise<string | undefined> =>
    store.getApp !== undefined
      ? (await store.getApp(app))?.orgSlug
      : (await store.listApps()).find((a) => a.name === app)?.orgSlug;
  // The TLS port, raw TCP services and the upgrade (WebSocket) handler: listeners/.
  const edge = createEdgeListeners({
    host,
    domain,
    region,
    table,
    balancer,
    picker: options.picker ?? balancer.picker,
    // Late-bound: the chain below is built with the edge's steps in it.
    handle: (req, res) => handle(req, res),
    limits,
    rateLimiter,
    nextRequestId: () => nextRequestId(),
    connectTimeoutMs: backend.connectTimeoutMs ?? 5000,
    log,
    tls: options.tls,
    tcp: options.tcp,
  });
  const steps: Step[] = [
    countStep(metrics),
    ...(rateLimiter === undefined ? [] : [rateLimitStep(rateLimiter)]),
    headerGuardStep(limits.maxHeaders),
    bodyIdleStep(limits.bodyIdleTimeoutMs),
    ...edge.beforeRouting,
    resolveAppStep({ table, domain, autostarter }),
    forceHttpsStep(() => edge.httpsPort()),
    steerStep(),
    options.replay === false ? forward : replayStep({ ...options.replay, table, orgOf, clock, log }, forward),
  ];
  const run = compose(steps);
  const nextRequestId = requestIds(region);

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const ctx = createContext(req, res, nextRequestId(), region);
    run(ctx).catch((err: unknown) => {
      log.error({ err, app: ctx.app, requestId: ctx.requestId }, 'proxy: request failed inside the proxy');
      if (res.headersSent) res.destroy();
      else answer(ctx, 'PROXY_INTERNAL', `the proxy failed handling request ${ctx.requestId}`);
    });
  };

  const discovery =
    (options.discoverTcp ?? options.tcp === undefined)
      ? new TcpDiscovery({
          table,
          listenerFor: (service) => edge.tcpListenerFor(service),
          reserved: () => [boundPort, edge.httpsPort()].filter((p): p is number => p !== undefined),
          log,
        })
      : undefined;
  let boundPort: number | undefined;

  const server = createServer(httpServerOptions(limits), handle);
  server.on('upgrade', edge.upgrade);
  // One more than the limit, so the header guard sees an excess (Node drops fields past it).
  server.maxHeadersCount = limits.maxHeaders + 1;
  let listening = false;

  return {
    table,
    metrics,
    balancer,
    issueCertificate: (name) => edge.issueCertificate(name),
    autostarter,
    autostopper,
    pools: dispatcher,
    handle,
    async listen() {
      await table.start();
      await listenOn(server, port, host, 'HTTP port').catch((err: unknown) => {
        table.stop();
        health.close();
        throw err;
      });
      listening = true;
      autostopper?.start();
      const address = server.address() as AddressInfo;
      // All or nothing: a failed TLS or TCP port closes everything (edge.listen closed its own).
      const edgePorts = await edge.listen().catch(async (err: unknown) => {
        await this.close();
        throw err;
      });
      boundPort = address.port;
      await discovery?.start();
      const ports = { port: address.port, ...edgePorts };
      if (discovery !== undefined) ports.tcpPorts = { ...ports.tcpPorts, ...discovery.ports() };
      log.info({ host, ...ports, domain, region }, 'proxy: listening');
      return ports;
    },
    tcpPorts: () => ({ ...discovery?.ports() }),
    settledTcp: async () => discovery?.settled(),
    async close() {
      await autostopper?.close();
      await discovery?.close();
      table.stop();
      // Waiting requests get their 503 now rather than at the grace's end; checks stop.
      balancer.close();
      health.close();
      if (listening) {
        listening = false;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = clock.setTimeout(() => server.closeAllConnections(), closeGraceMs);
        await Promise.all([closed, edge.close(closeGraceMs)]);
        grace.cancel();
      }
      await dispatcher.close();
    },
  };
}
