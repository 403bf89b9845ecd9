/**
 * The placement part of bench/world.ts: 10,000 Machines over 1,000 simulated hosts in
 * ten regions with the scheduler's own `spread` (src/scheduler/spread.ts).
 *
 * - one at a time (the API's path: each create or scale places against the capacity
 *   left by every Machine before it): 2,000 apps of 5 Machines, each app allowed three
 *   regions, each Machine `spread(loads, { count: 1, existing: the app's so far })`, then
 *   the chosen host's free resources reduced before the next;
 * - batch: one `spread(loads, { count: 10_000 })` over every region.
 *
 * Hosts are of three sizes (8, 16, 32 GB; 4, 8, 16 cores) and Machines of three
 * (shared-cpu-1x 256 MB, shared-cpu-2x 1 GB, performance-1x 2 GB), so capacity binds
 * on the small hosts. Both runs are checked: no host is promised more than it has.
 */
import type { HostInfo } from '../src/scheduler/index.ts';
import { guestDemand, spread, type HostLoad, type Placed, type Resources } from '../src/scheduler/index.ts';

const REGIONS = ['ams', 'iad', 'sin', 'lhr', 'fra', 'ord', 'sjc', 'nrt', 'syd', 'gru'] as const;
const HOSTS = 1000;
const APPS = 2000;
const PER_APP = 5;
const SIZES: Resources[] = [
  { cpus: 4, memoryMb: 8192, diskGb: 500, gpus: 0 },
  { cpus: 8, memoryMb: 16_384, diskGb: 1000, gpus: 0 },
  { cpus: 16, memoryMb: 32_768, diskGb: 2000, gpus: 0 },
];
const DEMANDS: Resources[] = [
  guestDemand({ cpu_kind: 'shared', cpus: 1, memory_mb: 256 }),
  guestDemand({ cpu_kind: 'shared', cpus: 2, memory_mb: 1024 }),
  guestDemand({ cpu_kind: 'performance', cpus: 1, memory_mb: 2048 }),
];

export interface PlacementFigures {
  machines: number;
  hosts: number;
  regions: number;
  oneAtATimePerS: number;
  batchPerS: number;
  /** Memory committed on the fullest host, as a share of its total, after the one-at-a-time run. */
  fullestHostShare: number;
}

function hosts(): HostLoad[] {
  return Array.from({ length: HOSTS }, (_, i) => {
    const host: HostInfo = { id: `h${i}`, region: REGIONS[i % REGIONS.length]!, number: i + 1, ipv4Subnet: `10.${i >> 8}.${i & 255}.0/24`, drivers: ['runsc'] };
    const total = SIZES[i % SIZES.length]!;
    return { host, total, free: { ...total } };
  });
}

function check(loads: readonly HostLoad[]): number {
  let fullest = 0;
  for (const l of loads) {
    if (l.free.cpus < -1e-9 || l.free.memoryMb < 0) throw new Error(`host ${l.host.id} was promised more than it has: ${JSON.stringify(l.free)}`);
    fullest = Math.max(fullest, 1 - l.free.memoryMb / l.total.memoryMb);
  }
  return fullest;
}

/** Runs both placements and returns their rates. */
export function benchPlacements(): PlacementFigures {
  const loads = hosts();
  const index = new Map(loads.map((l, i) => [l.host.id, i]));
  const t0 = performance.now();
  let placed = 0;
  for (let a = 0; a < APPS; a++) {
    const regions = [REGIONS[a % 10]!, REGIONS[(a + 3) % 10]!, REGIONS[(a + 7) % 10]!];
    const demand = DEMANDS[a % DEMANDS.length]!;
    const existing: Placed[] = [];
    for (let m = 0; m < PER_APP; m++) {
      const [host] = spread(loads, { count: 1, demand, regions, existing, what: `machines of app-${a}` });
      const i = index.get(host!.id)!;
      const load = loads[i]!;
      loads[i] = { ...load, free: { cpus: load.free.cpus - demand.cpus, memoryMb: load.free.memoryMb - demand.memoryMb, diskGb: load.free.diskGb, gpus: load.free.gpus } };
      existing.push({ hostId: host!.id, region: host!.region });
      placed += 1;
    }
  }
  const oneMs = performance.now() - t0;
  const fullest = check(loads);

  const fresh = hosts();
  const t1 = performance.now();
  const batch = spread(fresh, { count: APPS * PER_APP, demand: DEMANDS[0]!, what: 'machines of the batch' });
  const batchMs = performance.now() - t1;
  if (batch.length !== APPS * PER_APP) throw new Error(`the batch placed ${batch.length}`);
  return {
    machines: placed,
    hosts: HOSTS,
    regions: REGIONS.length,
    oneAtATimePerS: Math.round((placed / oneMs) * 1000),
    batchPerS: Math.round((batch.length / batchMs) * 1000),
    fullestHostShare: Math.round(fullest * 100) / 100,
  };
}

if (process.argv[1]?.endsWith('_world-placements.ts')) console.log(JSON.stringify(benchPlacements()));
