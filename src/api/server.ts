import { Hono } from 'hono';
import { serve, type ServerType } from '@hono/node-server';
import { AloftError } from '../lib/errors.ts';
import type { Clock } from '../lib/clock.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { Store } from '../store/store.ts';
import type { Scheduler } from '../scheduler/index.ts';
import { authenticate } from './auth/authenticate.ts';
import { appScope, readOnlyGuard } from './auth/scope.ts';
import { adminRoutes } from './auth/admin-routes.ts';
import { leaseGuard } from './leases/lease-guard.ts';
import { leaseRoutes } from './leases/lease-routes.ts';
import { systemClock } from '../lib/clock.ts';
import { MachineOps, type ImageResolver } from './machine-ops.ts';
import { appRoutes } from './routes/apps.ts';
import { apiError } from './api-error.ts';
import { apiBodyLimit } from './body-limit.ts';
import { openApiRoute } from './openapi/route.ts';
import { rateLimit, type RateLimitOptions } from './rate-limit/middleware.ts';
import { machineRoutes } from './routes/machines.ts';
import { volumeRoutes } from './routes/volumes.ts';
import { VolumeOps } from './volume-ops.ts';
import { machineActionRoutes } from './routes/machine-actions.ts';
import { machineLogRoutes } from './routes/machine-logs.ts';
import type { HostControl } from '../agent/host-control.ts';
import { checksHealthGate, Deployer, type HealthGate } from '../deploy/index.ts';
import { deployRoutes } from './routes/deploys.ts';
import { releaseRoutes } from './routes/releases.ts';
import { scaleRoutes } from './routes/scale.ts';
import { ScaleOps } from './scale-ops.ts';
import { secretRoutes } from './routes/secrets.ts';
import { wireguardRoutes } from './routes/wireguard.ts';
import { AppSecrets, RestartRollout, type SecretsRollout, type SecretVault } from '../secrets/index.ts';

export interface ApiDeps {
  store: Store;
  images: ImageResolver;
  scheduler: Scheduler;
  token: string;
  log?: Logger;
  /** How signal, exec, ps and logs reach a Machine's host (the embedded platform: its driver). */
  hostControl?: HostControl;
  /** Most bytes a request body may have (default 1 MiB); more is a 413. */
  bodyLimitBytes?: number;
  /** Fly's per-Machine rate limits (on by default); `false` turns them off. */
  rateLimits?: RateLimitOptions | false;
  /** Time for the rate limits (tests pass a ManualClock). */
  clock?: Clock;
  /** Makes names for Machines created without one (tests force clashes with it). */
  machineNames?: () => string;
  /** What gates each deploy step (default: the agent's checks, agent/checks); tests pass fakes. */
  healthGate?: HealthGate;
  /** Seals app secrets (it holds the platform key); without it secrets can be listed and unset but not set. */
  secretVault?: SecretVault;
  /** Restarts an app's Machines after a secrets change (default: RestartRollout, one at a time). */
  secretsRollout?: SecretsRollout;
}

/**
 * The Machines API as a Hono app: Fly's paths under /v1, bearer auth, and errors as
 * `{"error": message, "code": CODE}` with the catalogue's status.
 */
export function createApiApp(deps: ApiDeps): Hono {
  const log = deps.log ?? silentLogger;
  const ops = new MachineOps(deps);
  const app = new Hono();

  app.get('/health', (c) => c.json({ ok: true }));
  app.route('/v1', openApiRoute()); // before auth: the document is public
  app.use('/v1/*', authenticate({ operatorToken: deps.token, store: deps.store }), readOnlyGuard);
  app.use('/v1/*', apiBodyLimit(deps.bodyLimitBytes));
  if (deps.rateLimits !== false) app.use('/v1/*', rateLimit({ ...(deps.clock ? { clock: deps.clock } : {}), ...deps.rateLimits }));
  app.use('/v1/apps/:app/*', appScope(deps.store)); // another org's app answers as a missing one
  app.use('/v1/apps/:app/machines/:id/*', leaseGuard(deps.store, deps.clock ?? systemClock)); // every change to a leased Machine needs its nonce
  app.route('/v1', adminRoutes(deps.store, deps.clock ?? systemClock));
  app.route('/v1/apps', leaseRoutes(deps.store, ops, deps.clock ?? systemClock));
  app.route('/v1/apps', appRoutes(deps.store));
  app.route('/v1/apps', machineRoutes(deps.store, ops));
  app.route('/v1/apps', volumeRoutes(new VolumeOps(deps)));
  app.route('/v1/apps', machineActionRoutes(deps.store, ops));
  app.route('/v1/apps', machineLogRoutes(ops, deps.hostControl));
  const deployer = new Deployer({ store: deps.store, ops, images: deps.images, gate: deps.healthGate ?? checksHealthGate(deps.store), hostControl: deps.hostControl, clock: deps.clock, log });
  app.route('/v1/apps', deployRoutes(deployer));
  app.route('/v1/apps', releaseRoutes(deployer, deps.store));
  app.route('/v1', scaleRoutes(new ScaleOps(deps), deps.scheduler));
  app.route('/v1/apps', secretRoutes(deps.store, new AppSecrets({ store: deps.store, vault: deps.secretVault, rollout: deps.secretsRollout ?? new RestartRollout(deps.store) })));
  app.route('/v1', wireguardRoutes(deps.store));

  app.notFound((c) => c.json({ error: `Cannot ${c.req.method} ${c.req.path}: no such route`, code: 'NOT_FOUND' }, 404));
  app.onError((err, c) => {
    const error = apiError(err);
    if (error.kind === 'system') log.error({ err, path: c.req.path }, 'api request failed');
    return c.json({ error: error.message, code: error.code }, error.status as 500);
  });
  return app;
}

/** Starts the API on host:port. Rejects with ALREADY_RUNNING when the port is taken. */
export function listenApi(app: Hono, options: { host: string; port: number }): Promise<{ server: ServerType; port: number; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: options.host, port: options.port }, (info) => {
      resolve({
        server,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            if ('closeAllConnections' in server) server.closeAllConnections();
          }),
      });
    });
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new AloftError('ALREADY_RUNNING', `Cannot start the API on ${options.host}:${options.port} as that port is already in use (is another aloft running?)`, { cause: err })
          : err,
      );
    });
  });
}
