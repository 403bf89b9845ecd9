import type { Server } from 'node:net';
import { AloftError } from '../../lib/errors.ts';

/**
 * Binds `server` to `host:port`, turning the usual failures into AloftErrors: a port
 * in use is ALREADY_RUNNING, anything else INTERNAL. `what` names the listener in the
 * message ("TLS port", "TCP service web:5432").
 */
export function listenOn(server: Server, port: number, host: string, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      const message =
        err.code === 'EADDRINUSE'
          ? `Cannot start proxy ${what} as '${host}:${port}' must be a free address: it is in use`
          : `Cannot start proxy ${what} on '${host}:${port}': ${err.message}`;
      reject(new AloftError(err.code === 'EADDRINUSE' ? 'ALREADY_RUNNING' : 'INTERNAL', message, { cause: err }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
