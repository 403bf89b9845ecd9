import { request } from 'node:http';

/** The Host the probe asks for: no app has it, so the proxy answers from its own chain without touching a Machine. */
export const PROBE_HOST = 'aloft-edge-probe.invalid';

/**
 * A health probe of the local proxy for {@link EdgeAnnouncer}: one HTTP GET on a fresh
 * connection (so a wedged listener or event loop is seen, not a pooled socket) for a
 * host no app has. Any complete answer (the proxy's 404 included) is healthy: it means
 * the listener accepts and the request chain runs. A refused connection, a reset, or no
 * answer within `timeoutMs` is not.
 */
export function proxyProbe(target: { host: string; port: number; timeoutMs?: number }): () => Promise<boolean> {
  const timeoutMs = target.timeoutMs ?? 1000;
  return () =>
    new Promise<boolean>((resolve) => {
      const req = request({ host: target.host, port: target.port, path: '/', method: 'GET', headers: { host: PROBE_HOST, connection: 'close' }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(true));
        res.on('error', () => resolve(false));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error('timed out')));
      req.on('error', () => resolve(false));
      req.end();
    });
}
