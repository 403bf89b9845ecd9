import { Hono } from 'hono';
import { serve, type ServerType } from '@hono/node-server';
import { AloftError, toAloftError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { Store } from '../store/store.ts';
import type { Scheduler } from '../scheduler/index.ts';
import { bearerAuth } from './auth.ts';
import { MachineOps, type ImageResolver } from './machine-ops.ts';
import { appRoutes } from './routes/apps.ts';
import { machineRoutes } from './routes/machines.ts';

export interface ApiDeps {
  store: Store;
  images: ImageResolver;
  scheduler: Scheduler;
  token: string;
  log?: Logger;
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
  app.use('/v1/*', bearerAuth(deps.token));
  app.route('/v1/apps', appRoutes(deps.store));
  app.route('/v1/apps', machineRoutes(deps.store, ops));

  app.notFound((c) => c.json({ error: `Cannot ${c.req.method} ${c.req.path}: no such route`, code: 'NOT_FOUND' }, 404));
  app.onError((err, c) => {
    const error = toAloftError(err);
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
