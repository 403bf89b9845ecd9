import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LAB_PORTS, type LabAgent, type LabEdgeProxy, type LabEtcdMember, type LabPlatformPlan } from './lab-platform-plan.ts';
import { spawnInNetns, waitForLog, type LabProcess } from './lab-processes.ts';
import { birdSocket, type LabState } from './lab-state.ts';

/** The `aloft` command these processes run (the same checkout as this code). */
export const ALOFT_BIN = join(import.meta.dirname, '..', '..', 'bin', 'aloft.js');
/**
 * Hosts beat every second and are down after 15 missed. A store write crosses the WAN
 * (~0.2–1 s here), and when a member dies its clients spend a few 3 s deadlines and
 * circuit-breaker pauses finding another while the election runs: 8 missed beats was
 * seen to mark a live host down after its local member was killed.
 */
const HEARTBEAT = '1s';
const MISSED_HEARTBEATS = '15';
/** Raft over the lab's WAN, as an operator would set it: heartbeat ≈ RTT, election ≥ 10× it. */
const ETCD_HEARTBEAT_MS = 100;
const ETCD_ELECTION_MS = 2500;
/** How long each kind of process may take to say it is ready (etcd waits for its quorum; agents start wireguard-go and nft). */
const READY_MS = { etcd: 60_000, api: 60_000, agent: 90_000, proxy: 60_000 } as const;

/**
 * Starts the platform on a built lab network: the etcd members (all at once: each
 * waits for a quorum), the API and the registry, every host's agent, then every edge's
 * proxy and its watchdog (`aloft edge watch`). Each runs in its namespace, detached, its
 * output in `<dir>/<place>-<role>.log`, recorded (through `record`) as soon as it runs,
 * so `down` can end it even if a later step fails.
 */
export async function startLabPlatform(state: LabState, platform: LabPlatformPlan, record: (p: LabProcess) => Promise<void>): Promise<void> {
  await writeFile(platform.rttFile, `${JSON.stringify(platform.rtt)}\n`);
  for (const member of platform.etcd) await mkdir(member.dataDir, { recursive: true, mode: 0o700 });
  const group = (starts: Start[], readyMs: number): Promise<void> => startGroup(state, starts, readyMs, record);
  const cluster = platform.etcd.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  await group(platform.etcd.map((m) => ({ ns: m.ns, place: m.place, role: 'etcd', argv: etcdArgv(state, m, cluster), readyLine: 'ready to serve client requests' })), READY_MS.etcd);
  const api = platform.api;
  await group([{ ns: api.ns, place: api.place, role: 'api', argv: apiArgv(platform), readyLine: 'aloft api is up' }], READY_MS.api);
  // After the API: it writes the operator token the registry accepts.
  await group([{ ns: api.ns, place: api.place, role: 'registry', argv: registryArgv(platform), readyLine: 'aloft registry is up' }], READY_MS.api);
  await group(
    platform.agents.map((a) => ({ ns: a.ns, place: a.place, role: 'agent', argv: agentArgv(platform, a), readyLine: 'aloft agent is up', joinNetworkOnly: true })),
    READY_MS.agent,
  );
  await group(platform.edges.map((e) => ({ ns: e.ns, place: e.place, role: 'proxy', argv: proxyArgv(state, platform, e), readyLine: 'aloft proxy is up' })), READY_MS.proxy);
  // Each edge's watchdog: a proxy that is killed cannot withdraw its own routes.
  await group(platform.edges.map((e) => ({ ns: e.ns, place: e.place, role: 'watch', argv: watchArgv(state, e), readyLine: 'aloft edge watch is up' })), READY_MS.proxy);
}

/** One process of a group started together. */
interface Start {
  ns: string;
  place: string;
  role: 'etcd' | 'api' | 'registry' | 'agent' | 'proxy' | 'watch';
  argv: string[];
  readyLine: string;
  joinNetworkOnly?: boolean;
}

/** Starts every process of a group at once (etcd members wait for each other), records each, then waits for all to be ready. */
async function startGroup(state: LabState, starts: readonly Start[], readyMs: number, record: (p: LabProcess) => Promise<void>): Promise<void> {
  const logs = await Promise.all(
    starts.map(async (s) => {
      const log = join(state.dir, `${s.place}-${s.role}.log`);
      const options = { readyLine: s.readyLine, ...(s.joinNetworkOnly === true ? { joinNetworkOnly: true } : {}) };
      await record(await spawnInNetns(s.ns, s.argv, log, s.role, s.place, options));
      return { log, line: s.readyLine };
    }),
  );
  await Promise.all(logs.map(({ log, line }) => waitForLog(log, line, readyMs)));
}

function etcdArgv(state: LabState, member: LabEtcdMember, cluster: string): string[] {
  return [
    'etcd',
    `--name=${member.name}`,
    `--data-dir=${member.dataDir}`,
    `--listen-client-urls=${member.clientUrl}`,
    `--advertise-client-urls=${member.clientUrl}`,
    `--listen-peer-urls=${member.peerUrl}`,
    `--initial-advertise-peer-urls=${member.peerUrl}`,
    // Read only on a first start: a member restarted after a fault rejoins from its data dir.
    `--initial-cluster=${cluster}`,
    '--initial-cluster-state=new',
    `--initial-cluster-token=aloft-lab-${state.plan.name}`,
    `--heartbeat-interval=${ETCD_HEARTBEAT_MS}`,
    `--election-timeout=${ETCD_ELECTION_MS}`,
  ];
}

function apiArgv(platform: LabPlatformPlan): string[] {
  const api = platform.api;
  return [
    process.execPath, ALOFT_BIN, 'api',
    '--data-dir', api.dataDir,
    '--store', platform.storeUrl,
    '--host', api.address,
    '--port', String(api.port),
    '--heartbeat-interval', HEARTBEAT,
    '--missed-heartbeats', MISSED_HEARTBEATS,
    '--rtt', platform.rttFile,
    '--registry', platform.registry.url,
  ];
}

function registryArgv(platform: LabPlatformPlan): string[] {
  return [
    process.execPath, ALOFT_BIN, 'registry',
    '--data-dir', platform.registry.dataDir,
    '--store', platform.storeUrl,
    '--token-file', join(platform.api.dataDir, 'api-token'),
    '--host', platform.api.address,
    '--port', String(platform.registry.port),
  ];
}

/** Probes often enough that a killed proxy's routes are withdrawn well within a second (3 × 150 ms, then birdc). */
function watchArgv(state: LabState, edge: LabEdgeProxy): string[] {
  return [process.execPath, ALOFT_BIN, 'edge', 'watch', '--bird-socket', birdSocket(state.dir, edge.place), '--proxy', '127.0.0.1:80', '--probe-interval', '150ms', '--failures', '3'];
}

function agentArgv(platform: LabPlatformPlan, agent: LabAgent): string[] {
  return [
    process.execPath, ALOFT_BIN, 'agent',
    '--host-id', agent.hostId,
    '--data-dir', agent.dataDir,
    '--store', platform.storeUrl,
    '--region', agent.region,
    '--host-number', String(agent.hostNumber),
    '--ipv4-subnet', agent.ipv4Subnet,
    // Each host is its own namespace, so every one can use the same bridge name.
    '--bridge', 'al0',
    '--netns-prefix', agent.netnsPrefix,
    '--runtime', 'runsc',
    '--control-host', agent.underlay,
    '--control-port', String(LAB_PORTS.control),
    '--token-file', join(platform.api.dataDir, 'api-token'),
    '--secrets-key', join(platform.api.dataDir, 'secrets.key'),
    '--heartbeat-interval', HEARTBEAT,
    '--mesh-port', String(LAB_PORTS.mesh),
    '--underlay', agent.underlay,
    '--registry', platform.registry.url,
  ];
}

/**
 * The edge's proxy: HTTP on port 80 of every address the edge has (the anycast ones
 * included), routing by etcd, reaching Machines over the WireGuard backhaul, and
 * tied to its bird: it withdraws the anycast routes when unhealthy or stopping.
 */
function proxyArgv(state: LabState, platform: LabPlatformPlan, edge: LabEdgeProxy): string[] {
  return [
    process.execPath, ALOFT_BIN, 'proxy',
    '--data-dir', edge.dataDir,
    '--store', platform.storeUrl,
    '--host', '::',
    '--port', '80',
    '--no-tls',
    '--domain', platform.domain,
    '--region', edge.region,
    '--rtt', platform.rttFile,
    // The lab's tests wait for autostop themselves; the default 5 min would never fire.
    '--autostop-interval', '0',
    '--anycast-bird-socket', birdSocket(state.dir, edge.place),
    '--anycast-withdraw-delay', '1s',
    '--edge-id', edge.edgeId,
    '--host-number', String(edge.hostNumber),
    '--mesh-port', String(LAB_PORTS.mesh),
    '--underlay', edge.underlay,
  ];
}

/** The environment the `aloft` CLI reads to reach the lab's API and registry (its operator token: the lab is its operator's). */
export async function labApiEnv(platform: LabPlatformPlan): Promise<Record<string, string>> {
  const token = (await readFile(join(platform.api.dataDir, 'api-token'), 'utf8')).trim();
  return { ALOFT_API_URL: platform.api.url, ALOFT_API_TOKEN: token, ALOFT_REGISTRY_URL: platform.registry.url };
}
