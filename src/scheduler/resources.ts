import { DEFAULT_GUEST, type MachineGuest } from '../model/index.ts';

/** What a host has, or what a Machine or volume needs: the four things placement can run short of. */
export interface Resources {
  /** Cores; a shared vCPU counts as a sixteenth (Fly's shared-cpu baseline is 1/16 of a core). */
  cpus: number;
  memoryMb: number;
  /** Disk for volumes, in GB. */
  diskGb: number;
  gpus: number;
}

/** The resources in the order a shortfall is reported, with how a person reads each. */
export const RESOURCE_NAMES = { cpus: 'cpus', memoryMb: 'memory', diskGb: 'disk', gpus: 'GPUs' } as const satisfies Record<keyof Resources, string>;

/** How many shared vCPUs one core carries. */
export const SHARED_PER_CORE = 16;

export const NO_RESOURCES: Resources = { cpus: 0, memoryMb: 0, diskGb: 0, gpus: 0 };

/** What a Machine with this guest takes from its host (its volume's disk is counted with the volume). */
export function guestDemand(guest: MachineGuest | undefined): Resources {
  const cpus = guest?.cpus ?? DEFAULT_GUEST.cpus;
  const kind = guest?.cpu_kind ?? DEFAULT_GUEST.cpu_kind;
  return {
    cpus: kind === 'performance' ? cpus : cpus / SHARED_PER_CORE,
    memoryMb: guest?.memory_mb ?? DEFAULT_GUEST.memory_mb,
    diskGb: 0,
    gpus: guest?.gpus ?? (guest?.gpu_kind ? 1 : 0),
  };
}

export function addResources(a: Resources, b: Resources): Resources {
  return { cpus: a.cpus + b.cpus, memoryMb: a.memoryMb + b.memoryMb, diskGb: a.diskGb + b.diskGb, gpus: a.gpus + b.gpus };
}

export function subtractResources(a: Resources, b: Resources): Resources {
  return { cpus: a.cpus - b.cpus, memoryMb: a.memoryMb - b.memoryMb, diskGb: a.diskGb - b.diskGb, gpus: a.gpus - b.gpus };
}

/** The first resource `free` lacks for `demand`, if any (a tiny epsilon forgives float sums of sixteenths). */
export function shortOf(free: Resources, demand: Resources): keyof Resources | undefined {
  // Written out, in RESOURCE_NAMES' order: placement asks this once per host per Machine.
  if (demand.cpus > 0 && free.cpus + 1e-9 < demand.cpus) return 'cpus';
  if (demand.memoryMb > 0 && free.memoryMb + 1e-9 < demand.memoryMb) return 'memoryMb';
  if (demand.diskGb > 0 && free.diskGb + 1e-9 < demand.diskGb) return 'diskGb';
  if (demand.gpus > 0 && free.gpus + 1e-9 < demand.gpus) return 'gpus';
  return undefined;
}

/** "512 MB memory", "0.5 cpus", "3 GB disk", "1 GPUs": one resource's amount for a message. */
export function describeAmount(resource: keyof Resources, amount: number): string {
  const rounded = Math.max(0, Math.round(amount * 100) / 100);
  if (resource === 'memoryMb') return `${rounded} MB memory`;
  if (resource === 'diskGb') return `${rounded} GB disk`;
  return `${rounded} ${RESOURCE_NAMES[resource]}`;
}
