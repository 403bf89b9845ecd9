import { AloftError } from '../lib/errors.ts';
import type { HostInfo, HostLoad, Scheduler } from '../scheduler/index.ts';
import type { Store } from '../store/store.ts';

/** Whole GB, rounded down, for messages: free space is never overstated. */
const gb = (n: number): string => (Number.isFinite(n) ? `${Math.max(0, Math.floor(n * 10) / 10)} GB` : 'unlimited');

/**
 * Checks that `host` has `neededGb` of disk free for a volume (a new one, or the growth
 * of one). A volume cannot move off its host, so when the host is full the error
 * (VOLUME_HOST_FULL) says so, names the host and its free space, and offers the way
 * out Fly's users asked for (superfly/flyctl#2871): fork the volume onto a host that
 * has room, naming such hosts, or says plainly that no host has.
 */
export async function requireDiskRoom(
  deps: { store: Store; scheduler: Scheduler },
  request: { host: HostInfo; neededGb: number; action: string; volumeId?: string | undefined; sizeGb: number },
): Promise<void> {
  const loads = await deps.scheduler.loads(deps.store);
  const here = loads.find((l) => l.host.id === request.host.id);
  const free = here?.free.diskGb ?? 0;
  if (free + 1e-9 >= request.neededGb) return;
  const roomy = loads.filter((l) => l.host.id !== request.host.id && l.free.diskGb >= request.sizeGb).sort((a, b) => b.free.diskGb - a.free.diskGb);
  throw new AloftError(
    'VOLUME_HOST_FULL',
    `Cannot ${request.action} as host ${request.host.id} (${request.host.region}) must have ${gb(request.neededGb)} of disk free: got ${gb(free)} free. ${offer(request, roomy)}`,
    { details: { host: request.host.id, region: request.host.region, freeGb: free, neededGb: request.neededGb, hostsWithRoom: roomy.map((l) => l.host.id) } },
  );
}

function offer(request: { volumeId?: string | undefined; sizeGb: number; host: HostInfo }, roomy: readonly HostLoad[]): string {
  const where = roomy.slice(0, 3).map((l) => `${l.host.id} in ${l.host.region} has ${gb(l.free.diskGb)} free`).join('; ');
  if (roomy.length === 0) {
    return `No other host has ${gb(request.sizeGb)} free either: free disk on ${request.host.id} (destroy volumes or snapshots you no longer need) or add a host`;
  }
  const best = roomy[0]!.host;
  if (request.volumeId === undefined) return `Create it on a host with room instead, e.g. --host ${best.id} (${where})`;
  return `A volume cannot move off its host, but a fork can: aloft volumes fork ${request.volumeId} --host ${best.id} --size ${request.sizeGb}, then point its machine at the fork (${where})`;
}
