import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AloftError } from '../../lib/errors.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { Authorize, FilterCatalog } from './context.ts';
import { collectGarbage, type GcOptions } from './gc.ts';
import { createHandler } from './handler.ts';
import { RepoStore } from './repo-store.ts';
import { Uploads } from './uploads.ts';

/** Options of createRegistry. */
export interface RegistryOptions {
  /** Where blobs, manifests, tags and uploads live. */
  dir: string;
  log?: Logger;
  /**
   * Access control per request. Default: allow everything, so do not listen beyond
   * loopback without one (the platform passes registryAccess, src/api/auth/).
   */
  authorize?: Authorize;
  /** Narrows `_catalog` to what a request may see. Default: every repository. */
  filterCatalog?: FilterCatalog;
}

/** A listening registry. */
export interface RunningRegistry {
  port: number;
  close(): Promise<void>;
}

/** An OCI Distribution registry: a request handler, a way to listen, and GC. */
export interface Registry {
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  listen(options: { host: string; port: number }): Promise<RunningRegistry>;
  collectGarbage(options?: GcOptions): Promise<{ removed: string[] }>;
}

/** Creates a registry storing under `dir`; nothing listens until `listen`. */
export function createRegistry(options: RegistryOptions): Registry {
  const store = new RepoStore(options.dir);
  const log = options.log ?? silentLogger;
  const handler = createHandler(
    { store, uploads: new Uploads(store.blobs), authorize: options.authorize ?? (() => true), filterCatalog: options.filterCatalog ?? ((_req, repos) => repos) },
    log,
  );
  return {
    handler,
    async listen({ host, port }) {
      const server = createServer(handler);
      await new Promise<void>((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException): void =>
          reject(
            err.code === 'EADDRINUSE'
              ? new AloftError('ALREADY_RUNNING', `Cannot start the registry on ${host}:${port} as that port is already in use (is another aloft running?)`, { cause: err })
              : err,
          );
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolve();
        });
      });
      const bound = (server.address() as AddressInfo).port;
      log.info({ host, port: bound }, 'registry listening');
      return {
        port: bound,
        close: () =>
          new Promise<void>((resolve, reject) => {
            server.close((err) => (err ? reject(err) : resolve()));
            server.closeAllConnections();
          }),
      };
    },
    collectGarbage: (gcOptions) => collectGarbage(store, gcOptions),
  };
}
