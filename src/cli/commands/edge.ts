import type { Command } from 'commander';
import { startLocalEdge } from '../../edge/local-edge.ts';
import { invalidField } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { parseDurationMs } from '../../model/index.ts';
import { say } from '../output.ts';

interface EdgeWatchOptions {
  birdSocket: string;
  proxy: string;
  sessions: string;
  probeInterval: number;
  probeTimeout: number;
  failures: number;
  recoveries: number;
}

const ACTION = 'watch the edge';

const duration = (what: string) => (value: string): number => {
  const ms = /^\d+$/.test(value) ? Number(value) : parseDurationMs(value);
  if (ms === undefined || ms <= 0) throw invalidField(ACTION, what, 'a positive duration such as "200ms" or "1s"', value);
  return ms;
};

const count = (what: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw invalidField(ACTION, what, 'an integer from 1 to 100', value);
  return n;
};

/** `HOST:PORT` or `[V6]:PORT` of the proxy to probe. */
function proxyAddress(value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) throw invalidField(ACTION, 'proxy', 'HOST:PORT or [IPv6]:PORT of the local proxy', value);
  return { host: match[1] ?? match[2]!, port };
}

/**
 * `aloft edge watch`: the anycast edge's watchdog, a process of its own beside
 * `aloft proxy`. The proxy withdraws its routes itself when it drains; but a proxy
 * that is killed or hangs can withdraw nothing, and its edge would keep drawing
 * clients to a dead port. This probes the proxy (a GET on a fresh connection) and
 * withdraws through bird's control socket after `--failures` misses in a row, then
 * announces again after `--recoveries` passes. It changes the announcement only on
 * those transitions, so it never undoes a drain the proxy began; stopping it leaves
 * the announcement as it is.
 */
export function edgeCommand(program: Command): void {
  const edge = program.command('edge').description('what an anycast edge runs beside its proxy');
  edge
    .command('watch')
    .description("withdraw this edge's anycast routes (bird) while its proxy does not answer, announce them again when it does")
    .requiredOption('--bird-socket <path>', "the edge bird's control socket")
    .option('--proxy <host:port>', 'the local proxy to probe', '127.0.0.1:80')
    .option('--sessions <names>', "bird's export sessions to disable on withdraw (comma-separated)", 'uplink_v4,uplink_v6')
    .option('--probe-interval <duration>', 'between probes', duration('probe-interval'), 200)
    .option('--probe-timeout <duration>', 'how long one probe may take', duration('probe-timeout'), 500)
    .option('--failures <n>', 'failed probes in a row before withdrawing', count('failures'), 3)
    .option('--recoveries <n>', 'passing probes in a row before announcing again', count('recoveries'), 2)
    .action(async (opts: EdgeWatchOptions) => {
      const proxy = proxyAddress(opts.proxy);
      const sessions = opts.sessions.split(',').map((s) => s.trim()).filter(Boolean);
      if (sessions.length === 0) throw invalidField(ACTION, 'sessions', "one or more of bird's protocol names, comma-separated", opts.sessions);
      const log = createLogger({ level: process.env['ALOFT_LOG'] ?? 'info' });
      const watch = await startLocalEdge({
        birdSocket: opts.birdSocket,
        socketFlag: 'bird-socket',
        sessions,
        proxy,
        probeTimeoutMs: opts.probeTimeout,
        intervalMs: opts.probeInterval,
        failures: opts.failures,
        recoveries: opts.recoveries,
        log,
      });
      // The announcer's timers do not hold the process (they are unref'd for the proxy's sake): this does.
      const keepAlive = setInterval(() => undefined, 60_000);
      const stop = (): void => {
        clearInterval(keepAlive);
        watch.close();
        process.exit(0);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      say(`aloft edge watch is up: probing ${opts.proxy} every ${opts.probeInterval} ms, anycast ${watch.state === 'announcing' ? 'announced' : 'withdrawn'}    Stop: Ctrl-C (leaves the announcement as it is)`);
    });
}
