import { snapshotId, volumeId } from '../lib/ids.ts';
import type { Volume, VolumeSnapshot } from '../model/index.ts';

/** A valid volume in `overrides.appName` (default "app"), state `creating`, detached. */
export function sampleVolume(overrides: Partial<Volume> = {}): Volume {
  const now = Date.now();
  return {
    id: volumeId(),
    name: 'data',
    appName: 'app',
    region: 'ams',
    hostId: 'host-1',
    sizeGb: 1,
    state: 'creating',
    attachedMachineId: null,
    encrypted: false,
    snapshotRetention: 5,
    autoBackupEnabled: true,
    source: null,
    error: null,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

/** A snapshot of `volume`, status `creating`. */
export function sampleSnapshot(volume: Volume, overrides: Partial<VolumeSnapshot> = {}): VolumeSnapshot {
  return {
    id: snapshotId(),
    volumeId: volume.id,
    appName: volume.appName,
    status: 'creating',
    size: 0,
    digest: '',
    volumeSizeGb: volume.sizeGb,
    error: null,
    createdAt: Date.now(),
    ...overrides,
  };
}
