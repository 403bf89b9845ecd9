import { AloftError } from '../lib/errors.ts';
import { isTerminal, isVolumeGone, type Machine, type MachineConfig, type Volume } from '../model/index.ts';
import type { HostInfo, Scheduler } from '../scheduler/index.ts';
import type { Store } from '../store/store.ts';

/** What a new Machine's `config.mounts` asks for: the volumes it takes and the host they pin it to. */
export interface MountPlan {
  /** The volumes' host, where the Machine must run; undefined when it mounts none. */
  host: HostInfo | undefined;
  /** Each volume with the attachment read while checking it (for the compare-and-set). */
  volumes: { volume: Volume; field: string }[];
}

/**
 * Checks a new Machine's `config.mounts` before anything is written: each names a volume
 * of the app, in the Machine's region, not held by another Machine that is not
 * destroyed (one Machine per volume, as on Fly), and not failed or going away. The
 * Machine is then placed on the volume's host, as a volume is a slice of that host's disk.
 */
export async function planMounts(
  store: Store,
  scheduler: Scheduler,
  appName: string,
  request: { region?: string | undefined; config: MachineConfig },
): Promise<MountPlan> {
  const mounts = request.config.mounts ?? [];
  if (mounts.length > 1) {
    throw new AloftError('INVALID_ARGUMENT', `Cannot create machine as 'config.mounts' must have at most 1 entry (one volume per machine): got ${mounts.length}`, {
      details: { field: 'config.mounts' },
    });
  }
  const plan: MountPlan = { host: undefined, volumes: [] };
  for (const [i, mount] of mounts.entries()) {
    const field = `config.mounts.${i}.volume`;
    const volume = mount.volume === undefined ? undefined : await store.getVolume(mount.volume);
    if (!volume || volume.appName !== appName || isVolumeGone(volume.state)) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot create machine as '${field}' must name a volume of app ${appName}: got ${JSON.stringify(mount.volume ?? null)}`, {
        details: { field },
      });
    }
    if (volume.state === 'failed') {
      throw new AloftError('VOLUME_ILLEGAL_STATE', `Cannot create machine as volume ${volume.id} ('${field}') must not have failed: got failed (${volume.error ?? 'no reason recorded'})`);
    }
    if (request.region !== undefined && request.region !== volume.region) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot create machine as 'region' must be the region of volume ${volume.id} (${volume.region}): got "${request.region}"`, {
        details: { field: 'region' },
      });
    }
    const holder = volume.attachedMachineId === null ? undefined : await store.getMachine(volume.attachedMachineId);
    if (holder && !isTerminal(holder.state)) {
      throw new AloftError('VOLUME_IN_USE', `Cannot create machine as volume ${volume.id} ('${field}') must not be attached to a machine that is not destroyed: got machine ${holder.id} (${holder.state})`, {
        details: { volumeId: volume.id, machineId: holder.id },
      });
    }
    const host = scheduler.host(volume.hostId);
    if (!host) throw new AloftError('INVALID_ARGUMENT', `Cannot create machine as '${field}' must be on a host of this platform: got one on ${volume.hostId}`, { details: { field } });
    plan.host = host;
    plan.volumes.push({ volume, field });
  }
  return plan;
}

/**
 * Attaches the planned volumes to the new Machine, each a compare-and-set on the
 * attachment read by planMounts, so two Machines racing for one volume cannot both get
 * it. When one fails, the Machine record is removed (it never ran) and the error thrown.
 */
export async function attachMounts(store: Store, machine: Machine, plan: MountPlan): Promise<void> {
  const done: Volume[] = [];
  try {
    for (const { volume } of plan.volumes) {
      await store.updateVolume(volume.id, {
        action: `attach machine ${machine.id} to`,
        patch: { attachedMachineId: machine.id },
        expectAttachedMachineId: volume.attachedMachineId,
        expectState: ['creating', 'created', 'extending'],
      });
      done.push(volume);
    }
  } catch (err) {
    for (const volume of done) {
      await store.updateVolume(volume.id, { patch: { attachedMachineId: volume.attachedMachineId }, expectAttachedMachineId: machine.id }).catch(() => undefined);
    }
    await store.deleteMachine(machine.id).catch(() => undefined);
    throw err;
  }
}
