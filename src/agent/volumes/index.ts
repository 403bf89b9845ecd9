import type { Logger } from '../../lib/log.ts';
import type { HostInfo } from '../../scheduler/index.ts';
import type { Store } from '../../store/store.ts';
import { HostVolumes } from './host-volumes.ts';
import { MachineVolumes, type AgentVolumes } from './machine-volumes.ts';
import { VolumeReconciler } from './volume-reconciler.ts';
import type { VolumeTransfer } from './volume-transfer.ts';

/** Volumes on a host: image files on its disk, their reconcile, attach and detach. */
export { HostVolumes, GIB, type HostVolumesOptions, type SnapshotResult } from './host-volumes.ts';
export { MachineVolumes, type AgentVolumes } from './machine-volumes.ts';
export { VolumeReconciler, type VolumeReconcilerOptions } from './volume-reconciler.ts';
export { SharedDiskTransfer, type VolumeTransfer } from './volume-transfer.ts';

/** Everything an agent needs for the volumes of `host`, with their files under `dataDir`. */
export function hostVolumes(store: Store, host: HostInfo, dataDir: string, log?: Logger, options: { bytesPerGb?: number; transfer?: VolumeTransfer } = {}): AgentVolumes {
  const { transfer, ...disk } = options;
  const volumes = new HostVolumes({ dataDir, ...disk });
  const reconciler = new VolumeReconciler({ host, store, volumes, ...(transfer ? { transfer } : {}), ...(log ? { log } : {}) });
  return new MachineVolumes({ store, volumes, reconciler, hostId: host.id });
}
