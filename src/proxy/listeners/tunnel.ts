import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Ties a client stream and a backend socket together for their lifetimes: an error
 * on one destroys the other; the end of either's bytes (FIN) or its close ends the
 * other, which may still flush and close on its own for `lingerMs`, then both are
 * destroyed (a peer that ignores a FIN cannot hold the tunnel and its load forever).
 * `done` runs once, when both are closed. The caller pipes them once the backend
 * has connected.
 */
export function tieTunnel(client: Duplex, backend: Socket, lingerMs: number, done: () => void): void {
  let closed = 0;
  let linger: NodeJS.Timeout | undefined;
  const winding = (): void => {
    if (linger !== undefined) return;
    linger = setTimeout(() => {
      client.destroy();
      backend.destroy();
    }, lingerMs).unref();
  };
  const onClose = (): void => {
    closed += 1;
    if (closed === 1) {
      if (!client.destroyed) client.end();
      if (!backend.destroyed) backend.end();
      winding();
    } else {
      clearTimeout(linger);
      done();
    }
  };
  client.once('end', winding);
  backend.once('end', winding);
  client.once('close', onClose);
  backend.once('close', onClose);
  client.on('error', () => backend.destroy());
}

/** Starts the bytes flowing both ways (call on the backend's `connect`). */
export function pipeTunnel(client: Duplex, backend: Socket): void {
  backend.pipe(client);
  client.pipe(backend);
}
