import cluster from 'node:cluster';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { backhaulSettings, startBackhaul, type BackhaulSettings, type RunningBackhaul } from '../../edge/backhaul/index.ts';
import { startLocalEdge } from '../../edge/local-edge.ts';
import type { EdgeAnnouncer } from '../../edge/edge-announcer.ts';
import { invalidField } from '../../lib/errors.ts';
import { parseDurationMs } from '../../model/index.ts';
import { requireRegion } from '../../model/regions.ts';
import { createLogger } from '../../lib/log.ts';
import { defaultSettings } from '../../platform/index.ts';
import { createProxy } from '../../proxy/index.ts';
import { runProxyWorkers } from '../../proxy/workers.ts';
import { readRttFile } from '../../proxy/balance/rtt-file.ts';
import { openStoreFromUrl } from '../../store/open-store.ts';
import { say, sayError } from '../output.ts';
import { parseInterval } from './up.ts';

interface ProxyOptions {
  dataDir: string;
  store?: string;
  host: string;
  port: number;
  tlsPort: number;
  tls: boolean;
  domain: string;
  region: string;
  workers: number;
  autostopInterval: number;
  anycastBirdSocket?: string;
  anycastSessions: string;
  anycastWithdrawDelay: number;
  anycastProbeInterval: number;
  anycastFailures: number;
  edgeId?: string;
  hostNumber?: string;
  underlay?: string;
  meshPort?: string;
  heartbeatInterval?: number;
  rtt?: string;
}

const duration = (what: string) => (value: string): number => {
  const ms = /^\d+$/.test(value) ? Number(value) : parseDurationMs(value);
  if (ms === undefined) throw invalidField('start the proxy', what, 'a duration such as "2s" or "500ms"', value);
  return ms;
};

const port = (what: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw invalidField('start the proxy', what, 'a port number from 0 to 65535', value);
  return n;
};

/**
 * `aloft proxy`: the edge proxy alone, following a data dir's store (beside `aloft up`
 * or on an edge host), until Ctrl-C. `--workers N` runs it on N cores (node:cluster).
 */
export function proxyCommand(program: Command): void {
  const defaults = defaultSettings();
  program
    .command('proxy')
    .description("run the edge proxy alone, routing by the data dir's store")
    .option('--data-dir <dir>', 'where state lives (or ALOFT_DATA_DIR): certificates, and the store unless --store', defaults.dataDir)
    .option('--store <url>', 'the store to route by: sqlite:/abs/path/aloft.db or etcd://host:port,… (default: the data dir\'s aloft.db)')
    .option('--host <host>', 'the address to listen on', defaults.proxyHost)
    .option('--port <port>', 'the HTTP port (0: any free one)', port('port'), defaults.proxyPort)
    .option('--tls-port <port>', 'the TLS port: https and HTTP/2, a certificate per app (0: any free one)', port('tls-port'), defaults.tlsPort ?? 8443)
    .option('--no-tls', 'no TLS port')
    .option('--domain <domain>', 'apps are served at <app>.<domain>', defaults.domain)
    .option('--region <region>', "this edge's region", defaults.region)
    .option('--workers <n>', 'processes, one per core to use (autostop needs 1)', (v) => Number(v), 1)
    .option('--autostop-interval <duration>', 'how often idle excess Machines are stopped ("5m", "30s"; 0: never)', parseInterval, defaults.autostopIntervalMs)
    .option('--anycast-bird-socket <path>', "this edge's bird control socket: announce the anycast routes while the proxy is healthy, withdraw them when not and before stopping")
    .option('--anycast-sessions <names>', "bird's export sessions to disable on withdraw (comma-separated)", 'uplink_v4,uplink_v6')
    .option('--anycast-withdraw-delay <duration>', 'on SIGTERM, how long to wait after the withdraw before closing the proxy', duration('anycast-withdraw-delay'), 2000)
    .option('--anycast-probe-interval <duration>', "how often the proxy's health is probed", duration('anycast-probe-interval'), 1000)
    .option('--anycast-failures <n>', 'failed probes in a row before withdrawing', (v) => Number(v), 3)
    .option('--underlay <address>', "backhaul: this edge's IP address hosts reach its WireGuard port at; joins the hosts' mesh and dials Machines over 6PN (needs --edge-id, --host-number)")
    .option('--edge-id <id>', "backhaul: this edge's id in the host registry (registered as an edge: never given Machines)")
    .option('--host-number <n>', "backhaul: this edge's number in 6PN network 0 (unique among hosts and edges); it dials from fdaa:0:0:<n>::1")
    .option('--mesh-port <port>', "backhaul: the UDP port of this edge's wireguard-go (0: any free one; default 51820)")
    .option('--heartbeat-interval <duration>', 'backhaul: how often this edge beats in the host registry (default 2s)', duration('heartbeat-interval'))
    .option('--rtt <file>', 'a JSON file of region round-trip times, to pick the nearest region when this one has no Machine to take a request: {"ams": {"iad": 80}}')
    .action(async (opts: ProxyOptions) => {
      if (!Number.isInteger(opts.workers) || opts.workers < 1 || opts.workers > 256) {
        throw invalidField('start the proxy', 'workers', 'an integer from 1 to 256', opts.workers);
      }
      if (opts.workers > 1 && opts.autostopInterval !== 0) {
        // Each worker would judge idleness from its own share of the load and stop Machines the others are using.
        throw invalidField('start the proxy', 'workers', '1 while autostop is on (add --autostop-interval 0 to run several)', opts.workers);
      }
      if (!Number.isInteger(opts.anycastFailures) || opts.anycastFailures < 1) {
        throw invalidField('start the proxy', 'anycast-failures', 'an integer of 1 or more', opts.anycastFailures);
      }
      const backhaul = backhaulSettings(opts);
      // The region goes into the host registry, where every region is one of the catalogue's.
      if (backhaul !== undefined) requireRegion(opts.region, 'start the proxy');
      const storeUrl = opts.store ?? `sqlite:${resolve(opts.dataDir, 'aloft.db')}`;
      const rtt = opts.rtt === undefined ? undefined : await readRttFile(opts.rtt, 'start the proxy');
      const log = createLogger({ level: process.env['ALOFT_LOG'] ?? 'warn' });
      // The mesh lives in the primary process, like the anycast edge; workers only dial over it.
      const onMesh = backhaul !== undefined && cluster.isPrimary ? await joinBackhaul(backhaul, storeUrl, opts, log) : undefined;
      // The edge lives in the primary process: it outlives a worker that dies, and withdraws while none answers.
      let edge: Promise<EdgeAnnouncer> | undefined;
      const stop = await runProxyWorkers({
        workers: opts.workers,
        log,
        async startWorker() {
          const store = await openStoreFromUrl(storeUrl);
          const proxy = createProxy({
            store,
            host: opts.host,
            port: opts.port,
            domain: opts.domain,
            region: opts.region,
            log,
            autoscale: { store, autostopIntervalMs: opts.autostopInterval },
            ...(rtt === undefined ? {} : { balance: { rtt } }),
            // On the backhaul every Machine is dialled at its 6PN address; beside `aloft up`, at its host-local IPv4.
            ...(backhaul === undefined ? {} : { dial: 'ipv6' as const }),
            ...(opts.tls ? { tls: { port: opts.tlsPort, certs: join(opts.dataDir, 'certs') } } : {}),
          });
          const ports = await proxy.listen();
          return {
            ports: { port: ports.port, tlsPort: ports.tlsPort },
            async stop() {
              await proxy.close();
              await store.close();
            },
          };
        },
        onReady(ports) {
          const tls = ports['tlsPort'] === undefined ? '' : `, https on ${opts.host}:${ports['tlsPort']}`;
          const mesh = onMesh === undefined ? '' : `, on the backhaul as ${backhaul!.edgeId} (${onMesh.address})`;
          say(`aloft proxy is up: http on ${opts.host}:${ports['port']}${tls}, ${opts.workers} worker${opts.workers === 1 ? '' : 's'}, apps at <app>.${opts.domain}${mesh}    Stop: Ctrl-C`);
          if (opts.anycastBirdSocket !== undefined && edge === undefined) {
            edge = startLocalEdge({
              birdSocket: opts.anycastBirdSocket,
              sessions: opts.anycastSessions.split(',').map((s) => s.trim()).filter((s) => s !== ''),
              proxy: { host: opts.host, port: ports['port']! },
              withdrawDelayMs: opts.anycastWithdrawDelay,
              intervalMs: opts.anycastProbeInterval,
              failures: opts.anycastFailures,
              log,
              onChange: (state) => say(`aloft proxy: anycast ${state}`),
            });
            edge.catch((err: unknown) => {
              sayError(`${err instanceof Error ? err.message : String(err)}`);
              edge = undefined;
              process.exitCode = 1;
              shutdown();
            });
          }
        },
      });
      let stopping = false;
      const shutdown = (): void => {
        if (stopping) return;
        stopping = true;
        // Withdraw first and let it reach the routers; only then stop accepting (workers finish what they hold).
        const drained = edge === undefined ? Promise.resolve() : edge.then((e) => e.drain()).catch((err: unknown) => log.error({ err }, 'proxy: the anycast withdraw failed'));
        void drained
          .then(() => stop())
          .then(() => onMesh?.close())
          .catch((err: unknown) => log.error({ err }, 'proxy: leaving the backhaul failed'))
          .then(() => process.exit());
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
    });
}

/**
 * Joins the backhaul (`--underlay`): the edge's wireguard-go with every host as a peer
 * and its entry in the registry, on a store connection of its own. Left (registry entry
 * removed, wireguard-go stopped, store closed) by the returned close.
 */
async function joinBackhaul(settings: BackhaulSettings, storeUrl: string, opts: ProxyOptions, log: ReturnType<typeof createLogger>): Promise<{ address: string; close(): Promise<void> }> {
  const store = await openStoreFromUrl(storeUrl);
  let running: RunningBackhaul;
  try {
    running = await startBackhaul({
      store,
      edgeId: settings.edgeId,
      region: opts.region,
      hostNumber: settings.hostNumber,
      underlay: settings.underlay,
      meshPort: settings.meshPort,
      dataDir: opts.dataDir,
      ...(settings.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: settings.heartbeatIntervalMs }),
      log,
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  return {
    address: running.address,
    async close() {
      await running.close();
      await store.close();
    },
  };
}
