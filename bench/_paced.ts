import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

/**
 * An open-loop generator: `rate` requests/s for `seconds` over `connections` keep-alive
 * connections to `http://127.0.0.1:<port>/` with `Host: host`. Each latency counts from
 * the request's scheduled time, so a stall shows (no coordinated omission). Returns the
 * latencies in ms, sorted.
 */
export async function pacedLatencies(port: number, options: { rate: number; seconds: number; host: string; connections: number }): Promise<number[]> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: options.connections, pipelining: 1, keepAliveTimeout: 10_000 });
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const interval = 1000 / options.rate;
  const t0 = performance.now();
  const end = t0 + options.seconds * 1000;
  for (let next = t0; next < end; ) {
    const now = performance.now();
    while (next <= now && next < end) {
      const scheduled = next;
      pending.push(
        pool.request({ path: '/', method: 'GET', headers: { host: options.host } }).then(async (r) => {
          await r.body.dump();
          latencies.push(performance.now() - scheduled);
        }),
      );
      next += interval;
    }
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(pending);
  await pool.close();
  return latencies.sort((a, b) => a - b);
}

/** The `q` quantile (0..1) of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN;
}
