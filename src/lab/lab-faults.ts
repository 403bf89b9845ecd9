import { AnycastAnnouncer } from '../edge/bgp/index.ts';
import { AloftError } from '../lib/errors.ts';
import { ip } from './lab-network.ts';
import type { BackbonePlan, LabPlan } from './lab-plan.ts';
import { signalRecorded } from './lab-processes.ts';
import { killAt, killHost, restartAt, reviveHost } from './lab-platform-faults.ts';
import { birdAt, LAB_ROOT, readLabState, writeLabState, type LabFault, type LabState } from './lab-state.ts';

/** What `aloft lab fail` was asked for: `edge ams`, `edge ams --silent`, `link ams-iad`, `region ams`, `proxy ams`, `etcd ams`, `host ams-h1`. */
export interface FaultRequest {
  kind: 'edge' | 'link' | 'region' | 'proxy' | 'etcd' | 'host';
  target: string;
  /** For an edge: freeze it (no BFD, no Cease: peers notice by BFD) instead of draining it. */
  silent?: boolean;
}

/**
 * Injects a fault into a running lab and records it for `heal`:
 * - `edge R`: drains R's edge, `birdc disable` of its uplinks (the anycast withdrawal
 *   the edge proxy makes when unhealthy); `--silent` freezes its bird and responder
 *   (SIGSTOP: a hung machine), which only BFD notices.
 * - `link A-B`: cuts the backbone link silently (both bridges down in the internet
 *   namespace; the routers' interfaces stay up, so BFD is what notices).
 * - `region R`: cuts every backbone link of R and freezes its edge.
 * - `proxy R`: kills R's edge proxy (SIGKILL: it withdraws nothing; its watchdog does).
 * - `etcd R`: kills R's etcd member.
 * - `host H`: the host dies: its agent and whatever else runs there killed, its
 *   Machines' sandboxes too, and its uplink silently dropping everything.
 * Healing starts killed processes again as they were first started.
 */
export async function labFail(name: string, request: FaultRequest, options: { root?: string } = {}): Promise<LabFault> {
  const root = options.root ?? LAB_ROOT;
  const state = await readLabState(name, root);
  const fault = toFault(state, request);
  if (!state.faults.some((f) => JSON.stringify(f) === JSON.stringify(fault))) {
    await apply(state, fault, 'fail');
    state.faults.push(fault);
    await writeLabState(state, root);
  }
  return fault;
}

/** Undoes every recorded fault, newest first; the faults healed. */
export async function labHeal(name: string, options: { root?: string } = {}): Promise<LabFault[]> {
  const root = options.root ?? LAB_ROOT;
  const state = await readLabState(name, root);
  const healed = [...state.faults].reverse();
  for (const fault of healed) {
    await apply(state, fault, 'heal');
    state.faults = state.faults.filter((f) => f !== fault);
    await writeLabState(state, root);
  }
  return healed;
}

function toFault(state: LabState, request: FaultRequest): LabFault {
  const plan = state.plan;
  const regions = plan.regions.map((r) => r.code);
  if (request.kind === 'link') {
    findLink(plan, request.target);
    return { kind: 'link', link: request.target };
  }
  if (request.kind === 'proxy' || request.kind === 'etcd' || request.kind === 'host') {
    if (state.platform === undefined) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot fail ${request.kind} as the lab must run the platform: got a network-only lab (up with --no-platform)`, {
        details: { field: 'kind', value: request.kind },
      });
    }
    if (request.kind === 'host') {
      const hosts = state.platform.agents.map((a) => a.place);
      if (!hosts.includes(request.target)) {
        throw new AloftError('INVALID_ARGUMENT', `Cannot fail host as 'target' must be one of the lab's hosts (${hosts.join(', ')}): got "${request.target}"`, {
          details: { field: 'target', value: request.target },
        });
      }
      return { kind: 'host', host: request.target };
    }
    if (request.kind === 'etcd' && !state.platform.etcd.some((m) => m.place.startsWith(`${request.target}-`))) {
      const where = state.platform.etcd.map((m) => m.place.split('-')[0]).join(', ');
      throw new AloftError('INVALID_ARGUMENT', `Cannot fail etcd as 'target' must be a region holding an etcd member (${where}): got "${request.target}"`, {
        details: { field: 'target', value: request.target },
      });
    }
  }
  if (!regions.includes(request.target)) {
    throw new AloftError('INVALID_ARGUMENT', `Cannot fail ${request.kind} as 'target' must be one of the lab's regions (${regions.join(', ')}): got "${request.target}"`, {
      details: { field: 'target', value: request.target },
    });
  }
  if (request.kind === 'edge') return { kind: 'edge', region: request.target, mode: request.silent === true ? 'silent' : 'drain' };
  if (request.kind === 'proxy' || request.kind === 'etcd') return { kind: request.kind, region: request.target };
  return { kind: 'region', region: request.target };
}

/** The backbone link `a-b` (either order). */
function findLink(plan: LabPlan, name: string): BackbonePlan {
  const [a, b] = name.split('-');
  const link = plan.backbone.find((l) => (l.a === a && l.b === b) || (l.a === b && l.b === a));
  if (!link) {
    throw new AloftError('INVALID_ARGUMENT', `Cannot fail link as 'target' must be one of the lab's links (${plan.backbone.map((l) => l.name).join(', ') || 'none'}): got "${name}"`, {
      details: { field: 'target', value: name },
    });
  }
  return link;
}

async function apply(state: LabState, fault: LabFault, action: 'fail' | 'heal'): Promise<void> {
  if (fault.kind === 'edge') {
    if (fault.mode === 'drain') {
      const announcer = new AnycastAnnouncer(birdAt(state, `${fault.region}-edge`));
      await (action === 'fail' ? announcer.withdraw() : announcer.announce());
    } else {
      await freezeEdge(state, fault.region, action);
    }
  } else if (fault.kind === 'proxy') {
    const place = `${fault.region}-edge`;
    await (action === 'fail' ? killAt(state, place, ['proxy']) : restartAt(state, place, ['proxy']));
  } else if (fault.kind === 'etcd') {
    const place = state.platform?.etcd.find((m) => m.place.startsWith(`${fault.region}-`))?.place ?? '';
    await (action === 'fail' ? killAt(state, place, ['etcd']) : restartAt(state, place, ['etcd']));
  } else if (fault.kind === 'host') {
    await (action === 'fail' ? killHost(state, fault.host) : reviveHost(state, fault.host));
  } else if (fault.kind === 'link') {
    await cutLink(state.plan, findLink(state.plan, fault.link), action);
  } else {
    for (const link of state.plan.backbone.filter((l) => l.a === fault.region || l.b === fault.region)) await cutLink(state.plan, link, action);
    await freezeEdge(state, fault.region, action);
  }
}

/** SIGSTOP (or SIGCONT) the edge's bird and responder: the recorded PIDs only. */
async function freezeEdge(state: LabState, region: string, action: 'fail' | 'heal'): Promise<void> {
  const place = `${region}-edge`;
  for (const proc of state.processes.filter((p) => p.place === place)) await signalRecorded(proc, action === 'fail' ? 'SIGSTOP' : 'SIGCONT');
}

/** Both bridges of a backbone link down (frames dropped, no carrier change at the routers) or up. */
async function cutLink(plan: LabPlan, link: BackbonePlan, action: 'fail' | 'heal'): Promise<void> {
  for (const bridge of [link.inet.bridgeA, link.inet.bridgeB]) await ip('-n', plan.inetNs, 'link', 'set', bridge, action === 'fail' ? 'down' : 'up');
}
