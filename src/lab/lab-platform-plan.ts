import { join } from 'node:path';
import { AloftError } from '../lib/errors.ts';
import type { Attachment, LabPlan, RegionPlan } from './lab-plan.ts';
import { labRtt } from './rtt.ts';

/** One etcd member of the lab's cluster: in a host namespace, on that host's underlay address. */
export interface LabEtcdMember {
  name: string;
  place: string;
  ns: string;
  address: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
}

/** One `aloft agent` of the lab: a host namespace of a region. */
export interface LabAgent {
  hostId: string;
  place: string;
  ns: string;
  region: string;
  /** 6PN host number: region number × 10 + host number (edges take × 10 + 0). */
  hostNumber: number;
  underlay: string;
  ipv4Subnet: string;
  dataDir: string;
  /** Machines' namespaces carry the lab's prefix, so `down` finds any left behind. */
  netnsPrefix: string;
}

/** One edge's `aloft proxy`. */
export interface LabEdgeProxy {
  edgeId: string;
  place: string;
  ns: string;
  region: string;
  hostNumber: number;
  underlay: string;
  dataDir: string;
}

/** The platform the lab runs on its network: etcd, one API, an agent per host, a proxy per edge. */
export interface LabPlatformPlan {
  etcd: LabEtcdMember[];
  storeUrl: string;
  api: { place: string; ns: string; address: string; port: number; url: string; dataDir: string };
  /** `aloft registry` beside the API, on the same store and operator token: Machines' images are pulled from it by every host. */
  registry: { port: number; url: string; dataDir: string };
  agents: LabAgent[];
  edges: LabEdgeProxy[];
  /** Where the region RTT table is written for the API and the proxies. */
  rttFile: string;
  rtt: Record<string, Record<string, number>>;
  /** The domain apps are served at through the edges: `<app>.<domain>`. */
  domain: string;
}

/** etcd's client port, its peer port, the API's, the agents' control port, the mesh's UDP port. */
export const LAB_PORTS = { etcdClient: 2379, etcdPeer: 2380, api: 4280, control: 4281, registry: 5000, mesh: 51820 } as const;
/** Three members survive one lost: the issue's "killing one etcd member changes nothing". */
const ETCD_MEMBERS = 3;
export const LAB_DOMAIN = 'lab.aloft';

/**
 * Plans the platform on a lab's network (pure): etcd members on the first host of the
 * first three regions (fewer regions: one each), the API and the registry on the first
 * region's first host, an agent on every host, a proxy on every edge. Needs at least one host per
 * region: a region without hosts could not hold an etcd member or a Machine.
 */
export function planLabPlatform(plan: LabPlan, dir: string): LabPlatformPlan {
  const empty = plan.regions.find((r) => r.hosts.length === 0);
  if (empty !== undefined) {
    throw new AloftError('INVALID_ARGUMENT', `Cannot plan the lab's platform as 'hosts-per-region' must be at least 1 (each region needs a host for Machines and etcd): got 0 (region ${empty.code})`, {
      details: { field: 'hosts-per-region', value: 0 },
    });
  }
  const etcd = plan.regions.slice(0, ETCD_MEMBERS).map((region): LabEtcdMember => {
    const host = region.hosts[0]!;
    const address = host.addresses.ipv4.far;
    return {
      name: `etcd-${region.code}`,
      place: host.place,
      ns: host.ns,
      address,
      clientUrl: `http://${address}:${LAB_PORTS.etcdClient}`,
      peerUrl: `http://${address}:${LAB_PORTS.etcdPeer}`,
      dataDir: join(dir, 'etcd', region.code),
    };
  });
  const first = plan.regions[0]!.hosts[0]!;
  const apiAddress = first.addresses.ipv4.far;
  const rtt: Record<string, Record<string, number>> = {};
  for (const a of plan.regions) {
    rtt[a.code] = {};
    for (const b of plan.regions) if (a !== b) rtt[a.code]![b.code] = rttOf(plan, a, b);
  }
  return {
    etcd,
    storeUrl: `etcd://${etcd.map((m) => `${m.address}:${LAB_PORTS.etcdClient}`).join(',')}`,
    api: { place: first.place, ns: first.ns, address: apiAddress, port: LAB_PORTS.api, url: `http://${apiAddress}:${LAB_PORTS.api}`, dataDir: join(dir, 'api') },
    registry: { port: LAB_PORTS.registry, url: `http://${apiAddress}:${LAB_PORTS.registry}`, dataDir: join(dir, 'registry') },
    agents: plan.regions.flatMap((region) => region.hosts.map((host, h) => agentOf(plan, dir, region, host, h + 1))),
    edges: plan.regions.map((region) => ({
      edgeId: region.edge.place,
      place: region.edge.place,
      ns: region.edge.ns,
      region: region.code,
      hostNumber: region.number * 10,
      underlay: region.edge.addresses.ipv4.far,
      dataDir: join(dir, 'edges', region.edge.place),
    })),
    rttFile: join(dir, 'rtt.json'),
    rtt,
    domain: LAB_DOMAIN,
  };
}

function agentOf(plan: LabPlan, dir: string, region: RegionPlan, host: Attachment, h: number): LabAgent {
  const hostNumber = region.number * 10 + h;
  return {
    hostId: host.place,
    place: host.place,
    ns: host.ns,
    region: region.code,
    hostNumber,
    underlay: host.addresses.ipv4.far,
    // 172.20.0.0/14 holds 1,024 /24s; host numbers stay under 130 (12 regions × 10 + 8).
    ipv4Subnet: `172.${20 + (hostNumber >> 8)}.${hostNumber & 255}.0/24`,
    dataDir: join(dir, 'hosts', host.place),
    netnsPrefix: `${plan.prefix}m${hostNumber}-`,
  };
}

/** The backbone's configured RTT between two regions (the table the proxies and the API choose by). */
function rttOf(plan: LabPlan, a: RegionPlan, b: RegionPlan): number {
  const link = plan.backbone.find((l) => (l.a === a.code && l.b === b.code) || (l.a === b.code && l.b === a.code));
  return link?.rttMs ?? labRtt(a.code, b.code);
}
