import { availableParallelism, totalmem } from 'node:os';
import { readdir, statfs } from 'node:fs/promises';
import { isTerminal } from '../model/index.ts';
import type { Store } from '../store/store.ts';
import { addResources, guestDemand, NO_RESOURCES, subtractResources, type Resources } from './resources.ts';
import type { HostInfo } from './scheduler.ts';

/** What a host has in all, and how much disk its filesystem can give right now. */
export interface HostTotals {
  resources: Resources;
  /** Free space on the volumes' filesystem now (GB); volume files are sparse, so this can be less than the total minus committed sizes. */
  diskAvailableGb?: number;
}

/**
 * How placement learns a host's size. The embedded platform measures its own machine
 * (localCapacity); cluster mode will read what each host's agent registered.
 */
export interface HostCapacity {
  totals(host: HostInfo): Promise<HostTotals>;
}

/** A host with what it has in all and what is still free for new Machines and volumes. */
export interface HostLoad {
  host: HostInfo;
  total: Resources;
  free: Resources;
}

const UNLIMITED: Resources = { cpus: Infinity, memoryMb: Infinity, diskGb: Infinity, gpus: Infinity };

/** Capacity that never runs short: for a scheduler given no measure (unit tests of other parts). */
export const unlimitedCapacity: HostCapacity = { totals: () => Promise.resolve({ resources: UNLIMITED }) };

/** Fixed totals per host id, for tests and for hosts that declare their size. */
export function fixedCapacity(totals: Readonly<Record<string, Resources>>): HostCapacity {
  return { totals: (host) => Promise.resolve({ resources: totals[host.id] ?? NO_RESOURCES }) };
}

const GB = 1024 ** 3;

/**
 * This machine: its cores, its memory, the filesystem under `dataDir` (where volume
 * files live) and its NVIDIA GPUs (/dev/nvidiaN), for the one host of the embedded platform.
 */
export function localCapacity(dataDir: string): HostCapacity {
  return {
    async totals() {
      const fs = await statfs(dataDir);
      const gpus = (await readdir('/dev').catch(() => [] as string[])).filter((name) => /^nvidia\d+$/.test(name)).length;
      return {
        resources: { cpus: availableParallelism(), memoryMb: Math.floor(totalmem() / 1024 ** 2), diskGb: (fs.blocks * fs.bsize) / GB, gpus },
        diskAvailableGb: (fs.bavail * fs.bsize) / GB,
      };
    },
  };
}

/**
 * Each host's totals less what is committed on it: every Machine that is not destroyed
 * (a stopped one may be started at any moment, by autostart too, so it keeps its share)
 * and the full size of every volume there (a sparse file grows as it is written).
 */
export async function hostLoads(store: Store, hosts: readonly HostInfo[], capacity: HostCapacity): Promise<HostLoad[]> {
  return Promise.all(
    hosts.map(async (host) => {
      const totals = await capacity.totals(host);
      let used = NO_RESOURCES;
      for (const machine of await store.listMachines({ hostId: host.id })) {
        if (!isTerminal(machine.state)) used = addResources(used, guestDemand(machine.config.guest));
      }
      for (const volume of await store.listVolumes({ hostId: host.id })) used = addResources(used, { ...NO_RESOURCES, diskGb: volume.sizeGb });
      const free = subtractResources(totals.resources, used);
      if (totals.diskAvailableGb !== undefined) free.diskGb = Math.min(free.diskGb, totals.diskAvailableGb);
      return { host, total: totals.resources, free };
    }),
  );
}
