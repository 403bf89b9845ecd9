import { AloftError } from '../../lib/errors.ts';
import type { Machine } from '../../model/index.ts';
import type { Store } from '../../store/store.ts';
import type { VolumeMount } from '../../runtime/driver.ts';
import type { HostVolumes } from './host-volumes.ts';
import type { VolumeReconciler } from './volume-reconciler.ts';

/** What the agent asks of volumes around a Machine's runs. */
export interface AgentVolumes {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Loop-mounts the Machine's volumes on the host; returns the bind mounts for its RunSpec. */
  attach(machine: Machine): Promise<VolumeMount[]>;
  /** Unmounts whatever volumes the Machine holds on the host. Idempotent. */
  detach(machineId: string): Promise<void>;
}

/**
 * Attach and detach: a volume is loop-mounted on the host (under <dataDir>/volumes/mnt,
 * outside the machine dir, so removing a machine dir can never reach into a volume)
 * for exactly as long as its Machine's sandbox exists, and bind-mounted into it.
 */
export class MachineVolumes implements AgentVolumes {
  readonly #store: Store;
  readonly #volumes: HostVolumes;
  readonly #reconciler: VolumeReconciler;
  readonly #hostId: string;

  constructor(options: { store: Store; volumes: HostVolumes; reconciler: VolumeReconciler; hostId: string }) {
    this.#store = options.store;
    this.#volumes = options.volumes;
    this.#reconciler = options.reconciler;
    this.#hostId = options.hostId;
  }

  start(): Promise<void> {
    return this.#reconciler.start();
  }

  stop(): Promise<void> {
    return this.#reconciler.stop();
  }

  async attach(machine: Machine): Promise<VolumeMount[]> {
    const mounts: VolumeMount[] = [];
    for (const [i, mount] of (machine.config.mounts ?? []).entries()) {
      if (mount.volume === undefined) continue;
      // A volume created just before its Machine may still be being made: finish that first.
      const volume = await this.#reconciler.settle(mount.volume);
      const field = `config.mounts.${i}.volume`;
      if (!volume || volume.hostId !== this.#hostId || volume.attachedMachineId !== machine.id) {
        throw new AloftError('VOLUME_FAILED', `Cannot attach volume to machine ${machine.id} as '${field}' must name a volume on this host attached to it: got "${mount.volume}"`);
      }
      if (volume.state !== 'created') {
        throw new AloftError('VOLUME_FAILED', `Cannot attach volume ${volume.id} to machine ${machine.id} as its state must be created: got ${volume.state}${volume.error ? ` (${volume.error})` : ''}`);
      }
      mounts.push({ source: await this.#volumes.mount(volume.id), destination: mount.path });
    }
    return mounts;
  }

  async detach(machineId: string): Promise<void> {
    const held = (await this.#store.listVolumes({ hostId: this.#hostId })).filter((v) => v.attachedMachineId === machineId);
    for (const volume of held) await this.#volumes.unmount(volume.id);
  }
}
