import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execCommand } from '../lib/command.ts';
import { AloftError, toAloftError } from '../lib/errors.ts';
import { Bird, edgeBirdConfig } from '../edge/bgp/index.ts';
import { attach, bridgeTap, createNamespace, ip, namespacesWithPrefix, wireBackbone } from './lab-network.ts';
import { planLab, planNamespaces, type LabPlan, type LabRequest } from './lab-plan.ts';
import { spawnInNetns, startTimeOf, waitForLog, type LabProcess } from './lab-processes.ts';
import { LAB_NETWORK_TOOLS, LAB_TOOLS } from './lab-tools.ts';
import type { HostTool } from '../platform/host-tools.ts';
import { DELAY_RELAY, EDGE_RESPONDER } from './lab-scripts.ts';
import { routerBirdConfig } from './router-config.ts';
import { birdSocket, LAB_ROOT, readLabState, writeLabState, type LabState } from './lab-state.ts';
import { labDown } from './lab-down.ts';
import { startLabPlatform } from './lab-platform.ts';
import { planLabPlatform } from './lab-platform-plan.ts';
import { waitConverged } from './lab-wait.ts';

/** Options of {@link labUp}. */
export interface LabUpOptions {
  /** Where state lives (default /run/aloft-lab). */
  root?: string;
  /** How long routing may take to converge (default 30 s). */
  convergeTimeoutMs?: number;
}

/**
 * Builds a lab as root: namespaces (`al-<name>-…`), links, the delayed backbone, bird
 * on every router and edge, a responder on every edge; returns once every BGP session
 * is established and each router sends the anycast address to its own edge. State is
 * written before the first namespace exists and after every process starts, so a crash
 * at any point leaves what `aloft lab down` needs; a failure here cleans up at once.
 */
export async function labUp(request: LabRequest, options: LabUpOptions = {}): Promise<LabState> {
  const plan = planLab(request);
  const root = options.root ?? LAB_ROOT;
  if (process.getuid?.() !== 0) throw new AloftError('LAB_FAILED', `Cannot build lab '${plan.name}' as aloft must run as root: got uid ${process.getuid?.()}`);
  const existing = await readLabState(plan.name, root).catch(() => undefined);
  const leftovers = await namespacesWithPrefix(plan.prefix);
  if (existing !== undefined || leftovers.length > 0) {
    throw new AloftError('LAB_EXISTS', `Cannot build lab '${plan.name}' as it must not be up already: found ${existing ? 'its state file' : `namespaces ${leftovers.join(', ')}`}; run 'aloft lab down --name ${plan.name}'`, {
      details: { name: plan.name },
    });
  }
  const dir = join(root, plan.name);
  const platform = request.platform === false ? undefined : planLabPlatform(plan, dir);
  for (const tool of platform ? LAB_TOOLS : LAB_NETWORK_TOOLS) await requireTool(tool);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const state: LabState = { version: 1, plan, ...(platform ? { platform } : {}), dir, processes: [], faults: [], createdAt: new Date().toISOString(), ready: false };
  await writeLabState(state, root);
  const record = async (proc: LabProcess): Promise<void> => {
    state.processes.push(proc);
    await writeLabState(state, root);
  };
  try {
    await buildNetwork(plan);
    await startBackbone(plan, dir, record);
    await startRegions(plan, dir, record, platform !== undefined);
    await waitConverged(plan, dir, options.convergeTimeoutMs ?? 30_000);
    if (platform) await startLabPlatform(state, platform, record);
    state.ready = true;
    await writeLabState(state, root);
    return state;
  } catch (err) {
    await labDown(plan.name, { root }).catch(() => undefined);
    throw toAloftError(err, 'LAB_FAILED');
  }
}

async function buildNetwork(plan: LabPlan): Promise<void> {
  for (const ns of planNamespaces(plan)) await createNamespace(ns, ns.endsWith('-router'));
  for (const region of plan.regions) {
    for (const a of [region.edge, region.client, ...region.hosts]) await attach(region, a);
    // The anycast addresses live on the edge's lo; bird only announces them.
    await ip('-n', region.edge.ns, 'addr', 'add', `${plan.anycast.ipv4}/32`, 'dev', 'lo');
    await ip('-n', region.edge.ns, '-6', 'addr', 'add', `${plan.anycast.ipv6}/128`, 'dev', 'lo');
  }
  await wireBackbone(plan);
}

/** The relay first (its ports must be bound before socat sends), then two socats per link. */
async function startBackbone(plan: LabPlan, dir: string, record: (p: LabProcess) => Promise<void>): Promise<void> {
  if (plan.backbone.length === 0) return;
  const links = plan.backbone.map((l) => ({ ...l.ports, delayMs: l.rttMs / 2 }));
  const log = join(dir, 'relay.log');
  await record(await spawnInNetns(plan.inetNs, [process.execPath, '-e', DELAY_RELAY, JSON.stringify(links)], log, 'relay', 'inet'));
  await waitForLog(log, 'relay ready', 5000);
  for (const link of plan.backbone) {
    for (const side of ['A', 'B'] as const) {
      const tap = side === 'A' ? link.inet.tapA : link.inet.tapB;
      const relay = side === 'A' ? link.ports.relayA : link.ports.relayB;
      const source = side === 'A' ? link.ports.socatA : link.ports.socatB;
      const argv = ['socat', `TUN,tun-type=tap,tun-name=${tap},iff-no-pi`, `UDP:127.0.0.1:${relay},sourceport=${source},bind=127.0.0.1`];
      await record(await spawnInNetns(plan.inetNs, argv, join(dir, `socat-${tap}.log`), 'socat', 'inet'));
      await bridgeTap(plan, tap, side === 'A' ? link.inet.bridgeA : link.inet.bridgeB);
    }
  }
}

/** With the platform, the edge's proxy takes port 80 and the responder answers HTTP on 81 (its UDP probes stay on 7). */
const RESPONDER_HTTP_PORT_BESIDE_PROXY = 81;

async function startRegions(plan: LabPlan, dir: string, record: (p: LabProcess) => Promise<void>, withProxies: boolean): Promise<void> {
  for (const region of plan.regions) {
    const routerPlace = `${region.code}-router`;
    await startBird(region.routerNs, routerPlace, dir, routerBirdConfig(plan, region), record);
    const edge = region.edge.addresses;
    const edgeConfig = edgeBirdConfig({
      routerId: edge.ipv4.far,
      localAs: plan.edgeAs,
      routerAs: region.routerAs,
      ipv4: { local: edge.ipv4.far, router: edge.ipv4.near },
      ipv6: { local: edge.ipv6.far, router: edge.ipv6.near },
      anycast: plan.anycast,
    });
    await startBird(region.edge.ns, region.edge.place, dir, edgeConfig, record);
    const log = join(dir, `${region.edge.place}-responder.log`);
    await record(await spawnInNetns(region.edge.ns, [process.execPath, '-e', EDGE_RESPONDER, region.code, String(withProxies ? RESPONDER_HTTP_PORT_BESIDE_PROXY : 80)], log, 'responder', region.edge.place));
    await waitForLog(log, 'http ready', 5000);
  }
}

async function startBird(ns: string, place: string, dir: string, config: string, record: (p: LabProcess) => Promise<void>): Promise<void> {
  const bird = new Bird({
    netns: ns,
    socketPath: birdSocket(dir, place),
    configPath: join(dir, `${place}.conf`),
    config,
    outputFile: join(dir, `${place}.log`),
    detached: true,
  });
  const pid = await bird.start();
  await record({ pid, role: 'bird', place, startTime: (await startTimeOf(pid)) ?? '' });
}

async function requireTool(tool: HostTool): Promise<void> {
  const found = await execCommand('sh', ['-c', 'command -v "$1"', 'which', tool.binary], { timeoutMs: 5000, errorCode: 'LAB_FAILED' });
  if (found.code !== 0) {
    throw new AloftError('LAB_FAILED', `Cannot build the lab as '${tool.binary}' must be installed (Debian: apt-get install ${tool.aptPackage}): not found on PATH`, { details: { tool: tool.binary } });
  }
}
