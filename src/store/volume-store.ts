import type { Volume, VolumeSnapshot, VolumeState } from '../model/index.ts';

/**
 * The Store's volumes and their snapshots. Part of `Store`; kept in its own file so the
 * volume contract (contract/volumes.ts) reads beside it.
 *
 * Every write to a volume, and every snapshot created or changed, publishes a `volume`
 * put Change carrying the volume: the host's agent follows those to do the disk work.
 */
export interface VolumeStore {
  /** Inserts a new volume. Throws APP_NOT_FOUND, or STORE_CONFLICT when the id is taken. */
  createVolume(volume: Volume): Promise<Volume>;
  getVolume(id: string): Promise<Volume | undefined>;
  /** Oldest first. */
  listVolumes(filter?: VolumeFilter): Promise<Volume[]>;
  /**
   * Changes a volume atomically: applies `patch` and bumps `updatedAt`. With
   * `expectState`, throws VOLUME_ILLEGAL_STATE when the state is not one of them; with
   * `expectAttachedMachineId`, throws VOLUME_IN_USE when the attachment differs (the
   * compare-and-set that keeps one Machine per volume). Throws VOLUME_NOT_FOUND.
   */
  updateVolume(id: string, change: VolumeChange): Promise<Volume>;

  /** Inserts a snapshot of its volume. Throws VOLUME_NOT_FOUND, or STORE_CONFLICT when the id is taken. */
  createSnapshot(snapshot: VolumeSnapshot): Promise<VolumeSnapshot>;
  getSnapshot(id: string): Promise<VolumeSnapshot | undefined>;
  /** A volume's snapshots, newest first. */
  listSnapshots(volumeId: string): Promise<VolumeSnapshot[]>;
  /** Records what the agent did (status, size, digest). Throws VOLUME_SNAPSHOT_NOT_FOUND. */
  updateSnapshot(id: string, patch: SnapshotPatch): Promise<VolumeSnapshot>;
}

export interface VolumeFilter {
  appName?: string;
  hostId?: string;
  /** Include destroyed volumes. Default false. */
  includeDestroyed?: boolean;
}

export interface VolumeChange {
  /** What the caller is doing ("extend", "destroy"…), for error messages. Default "update". */
  action?: string;
  patch?: Partial<Omit<Volume, 'id' | 'appName' | 'createdAt' | 'updatedAt'>>;
  expectState?: readonly VolumeState[];
  /** The attachment the caller read; null for "not attached". */
  expectAttachedMachineId?: string | null;
}

export type SnapshotPatch = Partial<Pick<VolumeSnapshot, 'status' | 'size' | 'digest' | 'error'>>;
