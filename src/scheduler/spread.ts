import { AloftError } from '../lib/errors.ts';
import type { HostLoad } from './host-load.ts';
import { describeAmount, RESOURCE_NAMES, shortOf, subtractResources, type Resources } from './resources.ts';
import type { HostInfo } from './scheduler.ts';

/** Where Machines already are: they count toward the spread and toward `maxPerRegion`. */
export interface Placed {
  hostId: string;
  region: string;
}

export interface SpreadRequest {
  /** How many new Machines to place. */
  count: number;
  /** What each one takes from its host. */
  demand: Resources;
  /** The regions allowed, in order of preference; absent: every region that has a host. */
  regions?: readonly string[] | undefined;
  maxPerRegion?: number | undefined;
  /** The group's Machines already running somewhere. */
  existing?: readonly Placed[];
  /** Names the Machines in messages: "machines of group app". */
  what?: string;
}

/** Why a region or host could take no more, for the error and its details. */
export interface Shortfall {
  region: string;
  host?: string;
  reason: 'no-host' | 'max-per-region' | 'resource';
  resource?: string;
  free?: number;
  needed?: number;
}

/**
 * Chooses a host for each of `count` new Machines, one at a time: the allowed region
 * with the fewest of the group (ties: the order given), then that region's host with
 * the fewest of the group (ties: the most free memory), taking each one's demand off
 * that host's free resources before the next. So Machines spread evenly over regions
 * and hosts, and no host is promised more than it has. When a Machine fits nowhere it
 * throws CAPACITY_EXHAUSTED, naming for every region why: no host there, the region's
 * cap, or each host's short resource with what is free and what is needed.
 */
export function spread(loads: readonly HostLoad[], request: SpreadRequest): HostInfo[] {
  // Only the hosts chosen here change: the others' free resources are read from their
  // load, so one Machine placed among thousands of hosts copies nothing per host.
  const taken = new Map<string, Resources>();
  const freeOf = (l: HostLoad): Resources => taken.get(l.host.id) ?? l.free;
  const perHost = new Map<string, number>();
  const perRegion = new Map<string, number>();
  const count = (map: Map<string, number>, key: string): number => map.get(key) ?? 0;
  const bump = (map: Map<string, number>, key: string): void => void map.set(key, count(map, key) + 1);
  for (const p of request.existing ?? []) {
    bump(perHost, p.hostId);
    bump(perRegion, p.region);
  }
  // Each region's hosts, found once rather than once per Machine and region.
  const byRegion = new Map<string, HostLoad[]>();
  for (const l of loads) {
    const list = byRegion.get(l.host.region);
    if (list === undefined) byRegion.set(l.host.region, [l]);
    else list.push(l);
  }
  const regions = request.regions ?? [...byRegion.keys()];
  const fits = (l: HostLoad): boolean => shortOf(freeOf(l), request.demand) === undefined;
  const chosen: HostInfo[] = [];
  for (let i = 0; i < request.count; i++) {
    let best: { region: string; placed: number } | undefined;
    for (const region of regions) {
      const placed = count(perRegion, region);
      if (request.maxPerRegion !== undefined && placed >= request.maxPerRegion) continue;
      // A region with as many as the best so far cannot replace it (ties keep the order given): skip its hosts.
      if (best !== undefined && placed >= best.placed) continue;
      if (byRegion.get(region)?.some(fits) === true) best = { region, placed };
    }
    if (!best) throw shortage(loads, request, regions, new Map(loads.map((l) => [l.host.id, freeOf(l)])), perRegion, chosen.length);
    // The region's fitting host with the fewest of the group; ties: the most free memory, then the first.
    let pick: HostLoad | undefined;
    for (const l of byRegion.get(best.region)!) {
      if (!fits(l)) continue;
      if (pick === undefined) {
        pick = l;
        continue;
      }
      const byCount = count(perHost, l.host.id) - count(perHost, pick.host.id);
      if (byCount < 0 || (byCount === 0 && freeOf(l).memoryMb > freeOf(pick).memoryMb)) pick = l;
    }
    const host = pick!.host;
    taken.set(host.id, subtractResources(freeOf(pick!), request.demand));
    bump(perHost, host.id);
    bump(perRegion, host.region);
    chosen.push(host);
  }
  return chosen;
}

function shortage(
  loads: readonly HostLoad[],
  request: SpreadRequest,
  regions: readonly string[],
  free: ReadonlyMap<string, Resources>,
  perRegion: ReadonlyMap<string, number>,
  placed: number,
): AloftError {
  const shortfalls: Shortfall[] = [];
  for (const region of regions) {
    const hosts = loads.filter((l) => l.host.region === region);
    if (hosts.length === 0) shortfalls.push({ region, reason: 'no-host' });
    else if (request.maxPerRegion !== undefined && (perRegion.get(region) ?? 0) >= request.maxPerRegion) shortfalls.push({ region, reason: 'max-per-region' });
    else {
      for (const l of hosts) {
        const left = free.get(l.host.id)!;
        const resource = shortOf(left, request.demand)!;
        shortfalls.push({ region, host: l.host.id, reason: 'resource', resource: RESOURCE_NAMES[resource], free: Math.max(0, left[resource]), needed: request.demand[resource] });
      }
    }
  }
  const words = shortfalls.map((s) => {
    if (s.reason === 'no-host') return `region ${s.region} has no host`;
    if (s.reason === 'max-per-region') return `region ${s.region} already has ${request.maxPerRegion} (max-per-region)`;
    const key = (Object.keys(RESOURCE_NAMES) as (keyof Resources)[]).find((k) => RESOURCE_NAMES[k] === s.resource)!;
    return `host ${s.host} in ${s.region} has ${describeAmount(key, s.free!)} free, ${describeAmount(key, s.needed!)} needed`;
  });
  const what = request.what ?? (request.count === 1 ? 'machine' : 'machines');
  return new AloftError(
    'CAPACITY_EXHAUSTED',
    `Cannot place ${request.count} ${what} as each must fit on a host with ${describeDemand(request.demand)} free: only ${placed} of ${request.count} fit; ${words.join('; ')}`,
    { details: { placed, requested: request.count, shortfalls } },
  );
}

/** "0.06 cpus, 256 MB memory": the parts of a demand that are not zero. */
function describeDemand(demand: Resources): string {
  return (Object.keys(RESOURCE_NAMES) as (keyof Resources)[]).filter((k) => demand[k] > 0).map((k) => describeAmount(k, demand[k])).join(', ');
}
