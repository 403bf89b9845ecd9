import type { Volume, VolumeSnapshot } from '../model/index.ts';

/** A volume in Fly's `Volume` shape. */
export function renderVolume(volume: Volume): Record<string, unknown> {
  return {
    id: volume.id,
    name: volume.name,
    state: volume.state,
    region: volume.region,
    zone: volume.hostId,
    size_gb: volume.sizeGb,
    encrypted: volume.encrypted,
    fstype: 'ext4',
    snapshot_retention: volume.snapshotRetention,
    auto_backup_enabled: volume.autoBackupEnabled,
    attached_machine_id: volume.attachedMachineId,
    attached_alloc_id: null,
    host_status: 'ok',
    created_at: new Date(volume.createdAt).toISOString(),
  };
}

/** A snapshot in Fly's `VolumeSnapshot` shape. */
export function renderSnapshot(snapshot: VolumeSnapshot): Record<string, unknown> {
  return {
    id: snapshot.id,
    status: snapshot.status,
    size: snapshot.size,
    digest: snapshot.digest,
    volume_size: snapshot.volumeSizeGb,
    created_at: new Date(snapshot.createdAt).toISOString(),
  };
}
