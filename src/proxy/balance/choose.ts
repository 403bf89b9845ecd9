import type { RouteEntry } from '../route-entry.ts';
import { rttBetween, type RegionRttTable } from './region-rtt.ts';

/** What the choice needs besides the candidates. */
export interface ChooseOptions {
  /** The edge's own region (RTT 0). */
  region: string;
  rtt: RegionRttTable;
  /** A candidate's current load, in the unit of its concurrency type. */
  loadOf: (entry: RouteEntry) => number;
  /** In [0, 1); breaks ties. Default Math.random. */
  random?: () => number;
  /** fly-prefer-region: that region's Machines count as the closest when any can take it. */
  preferRegion?: string | undefined;
  /** fly-prefer-instance-id: that Machine when it can take it. */
  preferInstance?: string | undefined;
}

/**
 * Fly's choice of Machine, as PLATFORM.md states it:
 * - never one at its `hard_limit`;
 * - the closest region first: other regions only when every Machine nearer is
 *   unhealthy (not a candidate at all) or at its hard limit;
 * - in that region, one under its `soft_limit` when there is one, else any;
 * - the least loaded of those, ties at random.
 * The prefer-* steering comes first when the Machine or region can take the request.
 * Undefined when every candidate is at its hard limit (the caller queues).
 */
export function chooseMachine(candidates: readonly RouteEntry[], options: ChooseOptions): RouteEntry | undefined {
  const { loadOf } = options;
  const open = candidates.filter((c) => loadOf(c) < c.concurrency.hardLimit);
  if (open.length === 0) return undefined;
  if (options.preferInstance !== undefined) {
    const preferred = open.find((c) => c.machineId === options.preferInstance);
    if (preferred !== undefined) return preferred;
  }
  let pool = open;
  if (options.preferRegion !== undefined) {
    const inRegion = open.filter((c) => c.region === options.preferRegion);
    if (inRegion.length > 0) pool = inRegion;
  }
  const distance = (c: RouteEntry): number => rttBetween(options.rtt, options.region, c.region);
  const nearest = Math.min(...pool.map(distance));
  const closest = pool.filter((c) => distance(c) === nearest);
  const underSoft = closest.filter((c) => loadOf(c) < c.concurrency.softLimit);
  return leastLoaded(underSoft.length > 0 ? underSoft : closest, loadOf, options.random ?? Math.random);
}

function leastLoaded(pool: readonly RouteEntry[], loadOf: (e: RouteEntry) => number, random: () => number): RouteEntry {
  let least = Number.POSITIVE_INFINITY;
  let ties: RouteEntry[] = [];
  for (const c of pool) {
    const load = loadOf(c);
    if (load < least) {
      least = load;
      ties = [c];
    } else if (load === least) ties.push(c);
  }
  return ties[Math.min(ties.length - 1, Math.floor(random() * ties.length))]!;
}
