import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../lib/log.ts';

/** What a worker reports to the primary once its proxy listens. */
interface ReadyMessage {
  kind: 'aloft-proxy-ready';
  ports: Record<string, number | undefined>;
}

export interface ProxyWorkersOptions {
  /** Worker processes; each runs a whole proxy on the same ports. */
  workers: number;
  log: Logger;
  /** Called in each worker: starts its proxy and resolves with its ports, and a stop. */
  startWorker(): Promise<{ ports: Record<string, number | undefined>; stop(): Promise<void> }>;
  /** Called in the primary once every worker listens. */
  onReady?(ports: Record<string, number | undefined>): void;
  /** A worker that dies is started again after this long (doubling to 10 s while they keep dying). Default 200 ms. */
  restartDelayMs?: number;
}

/**
 * Runs the proxy on several cores with node:cluster: the primary forks `workers`
 * processes that each run the whole proxy (routing table, health checks, pools) on
 * shared listening sockets, and restarts any that die. The primary accepts and hands
 * connections out round-robin (Node's SCHED_RR): that costs one handoff per
 * connection, not per request, and keeps long-lived keep-alive connections evenly
 * spread, where letting the workers race for accepts (SCHED_NONE) piles most of them
 * onto one. Returns a stop for the primary (in a worker, it resolves only when the
 * worker is told to stop, then exits).
 *
 * Each worker sees only its own share of the load, so per-Machine limits and autostop
 * are per worker: callers keep autostop to single-process proxies.
 */
export async function runProxyWorkers(options: ProxyWorkersOptions): Promise<() => Promise<void>> {
  if (cluster.isWorker) {
    const running = await options.startWorker();
    process.send?.({ kind: 'aloft-proxy-ready', ports: running.ports } satisfies ReadyMessage);
    process.on('disconnect', () => void running.stop().then(() => process.exit(0)));
    return async () => {
      await running.stop();
    };
  }
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const { log } = options;
  const baseDelay = options.restartDelayMs ?? 200;
  let delay = baseDelay;
  let stopping = false;
  let readyCount = 0;
  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (message: ReadyMessage) => {
      if (message?.kind !== 'aloft-proxy-ready') return;
      delay = baseDelay;
      readyCount += 1;
      if (readyCount === options.workers) options.onReady?.(message.ports);
    });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      log.error({ pid: worker.process.pid, code, signal }, 'proxy: a worker died; starting another');
      setTimeout(() => {
        if (!stopping) fork();
      }, delay).unref();
      delay = Math.min(10_000, delay * 2);
    });
    return worker;
  };
  for (let i = 0; i < options.workers; i++) fork();
  return async () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            // disconnect: the worker closes its proxy (requests in flight finish), then exits.
            worker.disconnect();
            setTimeout(() => worker.process.kill('SIGKILL'), 10_000).unref();
          }),
      ),
    );
  };
}
