import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { systemClock, type Clock } from '../lib/clock.ts';
import { AloftError, invalidField } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { answer } from './answers.ts';
import { compose, type Step } from './compose.ts';
import { createContext } from './context.ts';
import { ProxyMetrics } from './metrics.ts';
import { randomPicker, type Picker } from './picker.ts';
import { requestIds } from './request-id.ts';
import { defaultRetryPolicy, type RetryPolicy } from './retry-policy.ts';
import { RouteTable, type RouteSource } from './route-table.ts';
import { countStep } from './steps/count.ts';
import { forwardStep, type RetryEvent } from './steps/forward.ts';
import { resolveAppStep } from './steps/resolve-app.ts';

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
}

/** A running (or ready to run) edge proxy. */
export interface Proxy {
  /** Loads the routing table, then accepts connections. Resolves with the bound port. */
  listen(): Promise<{ port: number }>;
  /** Stops accepting, lets requests in flight finish (up to the grace), frees everything. */
  close(): Promise<void>;
  /** Handles one request; for servers the proxy does not own (TLS, tests). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  readonly table: RouteTable;
  readonly metrics: ProxyMetrics;
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

  const table = new RouteTable(options.store, { clock, log });
  const metrics = new ProxyMetrics();
  const backend = options.backend ?? {};
  const dispatcher = new Agent({
    connect: { timeout: backend.connectTimeoutMs ?? 5000 },
    headersTimeout: backend.headersTimeoutMs ?? 60_000,
    bodyTimeout: backend.bodyTimeoutMs ?? 60_000,
    keepAliveTimeout: backend.keepAliveTimeoutMs ?? 4000,
  });
  const steps: Step[] = [
    countStep(metrics),
    resolveAppStep({ table, domain }),
    forwardStep({
      table,
      dispatcher,
      picker: options.picker ?? randomPicker,
      retry: { ...defaultRetryPolicy, ...options.retry },
      clock,
      metrics,
      log,
      onRetry: options.onRetry,
    }),
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

  const server = createServer(handle);
  let listening = false;

  return {
    table,
    metrics,
    handle,
    async listen() {
      await table.start();
      await new Promise<void>((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException): void => {
          server.off('listening', onListening);
          const message =
            err.code === 'EADDRINUSE'
              ? `Cannot start proxy as '${host}:${port}' must be a free address: it is in use`
              : `Cannot start proxy on '${host}:${port}': ${err.message}`;
          reject(new AloftError(err.code === 'EADDRINUSE' ? 'ALREADY_RUNNING' : 'INTERNAL', message, { cause: err }));
        };
        const onListening = (): void => {
          server.off('error', onError);
          resolve();
        };
        server.once('error', onError);
        server.once('listening', onListening);
        server.listen(port, host);
      }).catch((err: unknown) => {
        table.stop();
        throw err;
      });
      listening = true;
      const address = server.address() as AddressInfo;
      log.info({ host, port: address.port, domain, region }, 'proxy: listening');
      return { port: address.port };
    },
    async close() {
      table.stop();
      if (listening) {
        listening = false;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = clock.setTimeout(() => server.closeAllConnections(), closeGraceMs);
        await closed;
        grace.cancel();
      }
      await dispatcher.close();
    },
  };
}
