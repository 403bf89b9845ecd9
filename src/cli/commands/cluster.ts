import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Command } from 'commander';
import { startAgentProcess } from '../../cluster/agent-process.ts';
import { startApiProcess } from '../../cluster/api-process.ts';
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from '../../cluster/host-heartbeat.ts';
import { invalidField } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { parseDurationMs } from '../../model/index.ts';
import { requireRegion } from '../../model/regions.ts';
import { checkSettings, defaultSettings } from '../../platform/index.ts';
import { say } from '../output.ts';

/** A duration flag: "2s", "500ms", or plain ms. */
function duration(flag: string): (value: string) => number {
  return (value) => {
    const ms = /^\d+$/.test(value) ? Number(value) : parseDurationMs(value);
    if (ms === undefined || !Number.isInteger(ms) || ms < 1) throw invalidField('start aloft', flag, 'a duration such as "2s" or "500ms"', value);
    return ms;
  };
}

function port(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw invalidField('start aloft', flag, 'a port number from 0 to 65535', value);
    return n;
  };
}

/** `--underlay`: a bare IP address (the port is `--mesh-port`'s). */
function underlayAddress(value: string): string {
  const address = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  if (isIP(address) === 0) throw invalidField('start the agent', 'underlay', 'an IPv4 or IPv6 address without a port (the port is --mesh-port)', value);
  return address;
}

/** Stops `stop` on SIGINT or SIGTERM, then exits. */
function onSignals(what: string, stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    say(`\n${signal}: stopping ${what}...`);
    void stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/**
 * Cluster mode's processes: `aloft agent` (one per host) and `aloft api` (stateless, any
 * number), each pointed at the shared store by `--store`.
 */
export function clusterCommands(program: Command): void {
  const defaults = defaultSettings();
  program
    .command('agent')
    .description("run one host of a cluster: its agent, its control endpoint for the API, and its registration (heartbeats)")
    .requiredOption('--host-id <id>', "this host's id in the registry")
    .option('--data-dir <dir>', "this host's state: machines, images, volumes (or ALOFT_DATA_DIR)", defaults.dataDir)
    .option('--store <url>', 'the shared store: sqlite:/path/aloft.db (default: <data-dir>/aloft.db) or etcd://host:port,…')
    .option('--region <region>', "this host's region", defaults.region)
    .option('--host-number <n>', "this host's number in 6PN addresses (unique in the cluster)", (v) => Number(v), defaults.hostNumber)
    .option('--ipv4-subnet <cidr>', "the host-local IPv4 subnet for Machines (distinct per host on one machine)", defaults.ipv4Subnet)
    .option('--bridge <name>', "the host bridge for Machines' networks (distinct per host on one machine)", defaults.bridge)
    .option('--runtime <runtime>', 'runsc (gVisor) or runc', defaults.runtime)
    .option('--guest-cache <dir>', 'where the microVM guest kernel and initramfs are cached', defaults.guestCacheDir)
    .option('--control-host <host>', 'where the control endpoint (exec, ps, signals, logs for the API) listens', '127.0.0.1')
    .option('--control-port <port>', 'its port (0: any free one)', port('control-port'), 4281)
    .option('--advertise-url <url>', 'the URL the API calls it at (default: http://<control-host>:<port>)')
    .option('--token-file <file>', "the operator token the API presents (default: <data-dir>/api-token)")
    .option('--registry <url>', "the platform's registry (aloft registry), e.g. http://10.0.0.5:5000: pulls from it carry the operator token, which no other registry is sent")
    .option('--secrets-key <file>', "the platform's secrets key, shared with the API (its <data-dir>/secrets.key); without it Machines get no secrets")
    .option('--heartbeat-interval <duration>', 'how often this host beats', duration('heartbeat-interval'), DEFAULT_HEARTBEAT_INTERVAL_MS)
    .option('--mesh-port <port>', "the UDP port of this host's WireGuard mesh (0: any free one)", port('mesh-port'), defaults.meshPort)
    .option('--underlay <address>', "the IP address other hosts reach this host's mesh port at (published as <address>:<mesh-port>; without it no host peers with this one)", underlayAddress)
    .option('--netns-prefix <prefix>', "Machines' network namespaces are <prefix><machine id> (distinct per host on one machine, e.g. in `aloft lab`)", defaults.netnsPrefix)
    .action(async (opts: { hostId: string; netnsPrefix: string; dataDir: string; store?: string; region: string; hostNumber: number; ipv4Subnet: string; bridge: string; runtime: string; guestCache: string; controlHost: string; controlPort: number; advertiseUrl?: string; tokenFile?: string; registry?: string; secretsKey?: string; heartbeatInterval: number; meshPort: number; underlay?: string }) => {
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(opts.hostId)) throw invalidField('start the agent', 'host-id', 'lowercase letters, digits and dashes, at most 63 long', opts.hostId);
      requireRegion(opts.region, 'start the agent');
      // The embedded platform's checks cover bridge, runtime and host number the same way.
      checkSettings({ ...defaults, region: opts.region, bridge: opts.bridge, runtime: opts.runtime as 'runsc', hostNumber: opts.hostNumber });
      const log = createLogger({ level: process.env['ALOFT_LOG'] ?? 'info' });
      const agent = await startAgentProcess(
        {
          dataDir: opts.dataDir,
          storeUrl: opts.store ?? `sqlite:${join(opts.dataDir, 'aloft.db')}`,
          hostId: opts.hostId,
          region: opts.region,
          hostNumber: opts.hostNumber,
          ipv4Subnet: opts.ipv4Subnet,
          bridge: opts.bridge,
          netnsPrefix: opts.netnsPrefix,
          runtime: opts.runtime as 'runsc' | 'runc',
          guestCacheDir: opts.guestCache,
          controlHost: opts.controlHost,
          controlPort: opts.controlPort,
          ...(opts.advertiseUrl === undefined ? {} : { advertiseUrl: opts.advertiseUrl }),
          tokenFile: opts.tokenFile ?? join(opts.dataDir, 'api-token'),
          ...(opts.registry === undefined ? {} : { registryUrl: opts.registry }),
          ...(opts.secretsKey === undefined ? {} : { secretsKeyFile: opts.secretsKey }),
          heartbeatIntervalMs: opts.heartbeatInterval,
          meshPort: opts.meshPort,
          ...(opts.underlay === undefined ? {} : { underlay: opts.underlay }),
        },
        log,
      );
      // Machines keep running when the agent stops: the next agent adopts them.
      onSignals('the agent', () => agent.stop({ stopMachines: false }));
      say(`aloft agent is up: host ${agent.host.id} in ${agent.host.region}, control at ${agent.controlUrl}    Stop: Ctrl-C`);
    });

  program
    .command('api')
    .description('run a stateless API process of a cluster (any number), with the host monitor')
    .option('--data-dir <dir>', "this API's files: operator token, secrets key, images (or ALOFT_DATA_DIR)", defaults.dataDir)
    .option('--store <url>', 'the shared store: sqlite:/path/aloft.db (default: <data-dir>/aloft.db) or etcd://host:port,…')
    .option('--host <host>', 'the address to listen on', defaults.apiHost)
    .option('--port <port>', 'the port (0: any free one)', port('port'), defaults.apiPort)
    .option('--heartbeat-interval <duration>', "the agents' heartbeat interval", duration('heartbeat-interval'), DEFAULT_HEARTBEAT_INTERVAL_MS)
    .option('--missed-heartbeats <n>', 'how many intervals without a heartbeat mark a host down', (v) => Number(v), 3)
    .option('--rtt <file>', 'a JSON file of region round-trip times, for re-placing into the nearest region: {"ams": {"iad": 80}}')
    .option('--registry <url>', "the platform's own registry (aloft registry), e.g. http://10.0.0.5:5000: images there are resolved with the operator token")
    .action(async (opts: { dataDir: string; store?: string; host: string; port: number; heartbeatInterval: number; missedHeartbeats: number; rtt?: string; registry?: string }) => {
      const log = createLogger({ level: process.env['ALOFT_LOG'] ?? 'info' });
      const api = await startApiProcess(
        {
          dataDir: opts.dataDir,
          storeUrl: opts.store ?? `sqlite:${join(opts.dataDir, 'aloft.db')}`,
          host: opts.host,
          port: opts.port,
          heartbeatIntervalMs: opts.heartbeatInterval,
          missedHeartbeats: opts.missedHeartbeats,
          ...(opts.rtt === undefined ? {} : { rttFile: opts.rtt }),
          ...(opts.registry === undefined ? {} : { registryUrl: opts.registry }),
        },
        log,
      );
      onSignals('the API', () => api.stop());
      say(`aloft api is up: ${api.url} (token in ${join(opts.dataDir, 'api-token')})    Stop: Ctrl-C`);
    });
}
