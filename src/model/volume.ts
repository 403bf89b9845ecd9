/**
 * Volumes: a slice of one host's disk (an ext4 image file) that one Machine at a time
 * mounts. The API records intents as transient states, as it does for Machines; the
 * host's agent does the disk work and writes the resting state.
 *
 * - `creating` → `created`: the agent makes the image file (or copies its source).
 * - `extending` → `created`: the agent grows the file and the filesystem.
 * - `destroying` → `destroyed`: the agent deletes the file and its snapshots' files.
 * - `failed`: the agent could not create it (the reason is in `error`).
 */
export const VOLUME_STATES = ['creating', 'created', 'extending', 'destroying', 'destroyed', 'failed'] as const;
export type VolumeState = (typeof VOLUME_STATES)[number];

/** Where a new volume's contents come from: empty, a snapshot, or a fork of a volume. */
export type VolumeSource = { kind: 'snapshot'; id: string } | { kind: 'volume'; id: string };

/** A volume as the store holds it. The API renders it in Fly's `Volume` shape. */
export interface Volume {
  /** `vol_` + 16 lowercase letters and digits. */
  id: string;
  /** Not unique: Fly gives many volumes one name so Machines of a group can each take one. */
  name: string;
  appName: string;
  region: string;
  /** The host whose disk holds it; a Machine that mounts it runs there. */
  hostId: string;
  sizeGb: number;
  state: VolumeState;
  /** The Machine it is attached to (also after that Machine is destroyed, until another takes it). */
  attachedMachineId: string | null;
  encrypted: boolean;
  /** Days Fly keeps snapshots; recorded and shown, not yet enforced. */
  snapshotRetention: number;
  autoBackupEnabled: boolean;
  source: VolumeSource | null;
  /** Why the agent failed it, when `state` is `failed`. */
  error: string | null;
  createdAt: number;
  updatedAt: number;
}

export const SNAPSHOT_STATUSES = ['creating', 'created', 'failed'] as const;
export type SnapshotStatus = (typeof SNAPSHOT_STATUSES)[number];

/** A copy of a volume's image file, kept on the volume's host. */
export interface VolumeSnapshot {
  /** `vs_` + 16 lowercase letters and digits. */
  id: string;
  volumeId: string;
  appName: string;
  status: SnapshotStatus;
  /** Bytes the copy occupies (allocated, since the files are sparse); 0 until taken. */
  size: number;
  /** `sha256:` of the image file's contents; empty until taken. */
  digest: string;
  /** The volume's size when the snapshot was taken; a restore needs at least this. */
  volumeSizeGb: number;
  error: string | null;
  createdAt: number;
}

/** True when a volume no longer exists or is on its way out. */
export function isVolumeGone(state: VolumeState): boolean {
  return state === 'destroying' || state === 'destroyed';
}
