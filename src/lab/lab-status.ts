import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { isRunning } from './lab-processes.ts';
import { ALOFT_BIN, labApiEnv } from './lab-platform.ts';
import { resolvePlace } from './lab-plan.ts';
import { birdAt, LAB_ROOT, readLabState, type LabFault } from './lab-state.ts';
import { anycastNextHop, sessionsDown } from './lab-wait.ts';

/** One region as `aloft lab status` shows it. */
export interface RegionStatus {
  region: string;
  router: string;
  edge: string;
  client: string;
  hosts: string[];
  /** Where the region's router sends the anycast IPv4 address now: its own edge, another region, or nowhere. */
  anycastVia: string;
  /** BGP sessions of the router not established. */
  sessionsDown: string[];
}

/** `aloft lab status`: the lab's regions, links, processes and faults. */
export interface LabStatus {
  name: string;
  ready: boolean;
  anycast: { ipv4: string; ipv6: string };
  regions: RegionStatus[];
  links: { name: string; rtt_ms: number }[];
  processes: { pid: number; role: string; place: string; running: boolean }[];
  faults: LabFault[];
}

/** Reads a lab's state and asks its routers how things stand. */
export async function labStatus(name: string, options: { root?: string } = {}): Promise<LabStatus> {
  const state = await readLabState(name, options.root ?? LAB_ROOT);
  const plan = state.plan;
  const regions: RegionStatus[] = [];
  for (const region of plan.regions) {
    const via = await anycastNextHop(plan, region.code).catch(() => '');
    const owner = plan.regions.find((r) => r.edge.addresses.ipv4.far === via)?.code;
    const peer = plan.backbone.find((l) => l.addresses.ipv4.near === via || l.addresses.ipv4.far === via);
    const anycastVia = via === '' ? 'unroutable' : owner !== undefined ? `${owner}-edge` : peer !== undefined ? `${peer.a === region.code ? peer.b : peer.a} (backbone)` : via;
    regions.push({
      region: region.code,
      router: region.routerNs,
      edge: region.edge.ns,
      client: region.client.ns,
      hosts: region.hosts.map((h) => h.ns),
      anycastVia,
      sessionsDown: await sessionsDown(birdAt(state, `${region.code}-router`)).catch((err: Error) => [`bird: ${err.message}`]),
    });
  }
  const processes = [];
  for (const p of state.processes) processes.push({ pid: p.pid, role: p.role, place: p.place, running: await isRunning(p) });
  return {
    name,
    ready: state.ready,
    anycast: plan.anycast,
    regions,
    links: plan.backbone.map((l) => ({ name: l.name, rtt_ms: l.rttMs })),
    processes,
    faults: state.faults,
  };
}

/**
 * Runs a command as if from a place in the lab (`ams` = the client near ams,
 * `ams-edge`, `iad-router`, `inet`…), with this terminal; resolves with its exit code.
 * With the platform up, the command finds the lab's API in ALOFT_API_URL and
 * ALOFT_API_TOKEN, and a bare `aloft` is this checkout's.
 */
export async function labExec(name: string, place: string, argv: readonly string[], options: { root?: string } = {}): Promise<number> {
  const state = await readLabState(name, options.root ?? LAB_ROOT);
  const ns = resolvePlace(state.plan, place);
  const env = state.platform ? { ...process.env, ...(await labApiEnv(state.platform)) } : process.env;
  const command = argv[0] === 'aloft' ? [process.execPath, ALOFT_BIN, ...argv.slice(1)] : argv;
  const child = spawn('ip', ['netns', 'exec', ns, ...command], { stdio: 'inherit', env });
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return code ?? (signal === null ? 1 : 128);
}
