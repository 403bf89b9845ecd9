import { z } from 'zod';
import { AloftError } from '../lib/errors.ts';
import { isVolumeId, snapshotId, volumeId } from '../lib/ids.ts';
import { isTerminal, isVolumeGone, requireRegion, type Volume, type VolumeSnapshot, type VolumeSource } from '../model/index.ts';
import type { Scheduler, HostInfo } from '../scheduler/index.ts';
import type { Store } from '../store/store.ts';
import { parseInput } from './validate.ts';
import { requireDiskRoom } from './volume-room.ts';

/** Fly's largest volume. */
export const MAX_VOLUME_GB = 500;

export const createVolumeRequestSchema = z.looseObject({
  name: z.string().regex(/^[a-z0-9_]{1,30}$/, 'lowercase letters, digits and underscores, 1 to 30 long'),
  region: z.string().regex(/^[a-z0-9-]{2,32}$/, 'a region code such as "ams" or "local"').optional(),
  size_gb: z.number().int().min(1).max(MAX_VOLUME_GB).optional(),
  // Saying "encrypted" without encrypting would be a lie; refuse until it is done (LUKS).
  encrypted: z.boolean().refine((v) => !v, 'false, as this platform does not encrypt volumes at rest yet').optional(),
  fstype: z.enum(['ext4']).optional(),
  snapshot_retention: z.number().int().min(1).max(60).optional(),
  auto_backup_enabled: z.boolean().optional(),
  snapshot_id: z.string().optional().meta({ description: 'Restore from this snapshot (on its volume’s host).' }),
  source_volume_id: z.string().optional().meta({ description: 'Fork this volume: a consistent copy, on its host unless `host` or `region` says otherwise.' }),
  host: z.string().optional().meta({ description: "aloft: the host to put it on (e.g. a fork onto a host with free disk); default: a host of the region with room." }),
});

export const updateVolumeRequestSchema = z.looseObject({
  snapshot_retention: z.number().int().min(1).max(60).optional(),
  auto_backup_enabled: z.boolean().optional(),
});

export const extendVolumeRequestSchema = z.looseObject({
  size_gb: z.number().int().max(MAX_VOLUME_GB),
});

/** Where a new volume goes and what it starts from. */
interface Placement {
  host: HostInfo;
  source: VolumeSource | null;
  /** The smallest size the source allows. */
  minGb: number;
}

/**
 * The Volumes API's behaviour, apart from HTTP. Like MachineOps, it only records
 * intents (`creating`, `extending`, `destroying`, snapshots `creating`); the agent of
 * the volume's host does the disk work.
 */
export class VolumeOps {
  readonly #store: Store;
  readonly #scheduler: Scheduler;

  constructor(deps: { store: Store; scheduler: Scheduler }) {
    this.#store = deps.store;
    this.#scheduler = deps.scheduler;
  }

  async requireApp(name: string): Promise<void> {
    if (!(await this.#store.getApp(name))) throw new AloftError('APP_NOT_FOUND', `Cannot find app "${name}": no app by that name`);
  }

  async requireVolume(appName: string, id: string): Promise<Volume> {
    await this.requireApp(appName);
    const volume = isVolumeId(id) ? await this.#store.getVolume(id) : undefined;
    if (!volume || volume.appName !== appName || volume.state === 'destroyed') {
      throw new AloftError('VOLUME_NOT_FOUND', `Cannot find volume "${id}" in app "${appName}"`, { details: { volumeId: id } });
    }
    return volume;
  }

  async list(appName: string): Promise<Volume[]> {
    await this.requireApp(appName);
    return this.#store.listVolumes({ appName });
  }

  async create(appName: string, body: unknown): Promise<Volume> {
    const request = parseInput(createVolumeRequestSchema, body, 'create volume');
    await this.requireApp(appName);
    const placement = await this.#place(appName, request);
    const sizeGb = request.size_gb ?? Math.max(1, placement.minGb);
    if (sizeGb < placement.minGb) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot create volume as 'size_gb' must be at least its source's size of ${placement.minGb}: got ${sizeGb}`, {
        details: { field: 'size_gb' },
      });
    }
    const from = placement.source?.kind === 'volume' ? placement.source.id : undefined;
    await requireDiskRoom({ store: this.#store, scheduler: this.#scheduler }, { host: placement.host, neededGb: sizeGb, sizeGb, action: `create volume ${request.name} of ${sizeGb} GB`, volumeId: from });
    const now = Date.now();
    return this.#store.createVolume({
      id: volumeId(),
      name: request.name,
      appName,
      region: placement.host.region,
      hostId: placement.host.id,
      sizeGb,
      state: 'creating',
      attachedMachineId: null,
      encrypted: false,
      snapshotRetention: request.snapshot_retention ?? 5,
      autoBackupEnabled: request.auto_backup_enabled ?? true,
      source: placement.source,
      error: null,
      createdAt: now,
      updatedAt: now,
    });
  }

  async update(appName: string, id: string, body: unknown): Promise<Volume> {
    const request = parseInput(updateVolumeRequestSchema, body ?? {}, 'update volume');
    const volume = await this.requireVolume(appName, id);
    const patch: Partial<Volume> = {};
    if (request.snapshot_retention !== undefined) patch.snapshotRetention = request.snapshot_retention;
    if (request.auto_backup_enabled !== undefined) patch.autoBackupEnabled = request.auto_backup_enabled;
    return this.#store.updateVolume(volume.id, { action: 'update', patch, expectState: ['creating', 'created', 'extending', 'failed'] });
  }

  /** Grow only; the agent grows the file and the filesystem. */
  async extend(appName: string, id: string, body: unknown): Promise<{ volume: Volume; needsRestart: boolean }> {
    const request = parseInput(extendVolumeRequestSchema, body, 'extend volume');
    const volume = await this.requireVolume(appName, id);
    if (request.size_gb <= volume.sizeGb) {
      throw new AloftError(
        'INVALID_ARGUMENT',
        `Cannot extend volume ${id} as 'size_gb' must be larger than its current size of ${volume.sizeGb} (volumes only grow): got ${request.size_gb}`,
        { details: { field: 'size_gb' } },
      );
    }
    const host = this.#scheduler.host(volume.hostId);
    if (host) {
      await requireDiskRoom(
        { store: this.#store, scheduler: this.#scheduler },
        { host, neededGb: request.size_gb - volume.sizeGb, sizeGb: request.size_gb, action: `extend volume ${id} from ${volume.sizeGb} to ${request.size_gb} GB`, volumeId: id },
      );
    }
    const extended = await this.#store.updateVolume(volume.id, {
      action: 'extend',
      patch: { state: 'extending', sizeGb: request.size_gb },
      expectState: ['created'],
    });
    return { volume: extended, needsRestart: (await this.#liveAttachment(volume)) !== undefined };
  }

  /** Refused while a Machine that is not destroyed has it. */
  async destroy(appName: string, id: string): Promise<Volume> {
    const volume = await this.requireVolume(appName, id);
    const holder = await this.#liveAttachment(volume);
    if (holder) {
      throw new AloftError(
        'VOLUME_IN_USE',
        `Cannot destroy volume ${id} as it must not be attached to a machine that is not destroyed: got machine ${holder.id} (${holder.state}); destroy that machine first`,
        { details: { volumeId: id, machineId: holder.id } },
      );
    }
    if (volume.state === 'destroying') {
      throw new AloftError('VOLUME_ILLEGAL_STATE', `Cannot destroy volume ${id} as it is already ${volume.state}`);
    }
    return this.#store.updateVolume(volume.id, {
      action: 'destroy',
      patch: { state: 'destroying' },
      expectState: ['creating', 'created', 'extending', 'failed'],
      expectAttachedMachineId: volume.attachedMachineId,
    });
  }

  async listSnapshots(appName: string, id: string): Promise<VolumeSnapshot[]> {
    const volume = await this.requireVolume(appName, id);
    return this.#store.listSnapshots(volume.id);
  }

  /** Records the request; the agent copies the image (frozen while mounted) and fills in size and digest. */
  async createSnapshot(appName: string, id: string): Promise<VolumeSnapshot> {
    const volume = await this.requireVolume(appName, id);
    if (volume.state !== 'created' && volume.state !== 'extending') {
      throw new AloftError('VOLUME_ILLEGAL_STATE', `Cannot snapshot volume ${id} as its state must be one of created, extending: got ${volume.state}`);
    }
    return this.#store.createSnapshot({
      id: snapshotId(),
      volumeId: volume.id,
      appName,
      status: 'creating',
      size: 0,
      digest: '',
      volumeSizeGb: volume.sizeGb,
      error: null,
      createdAt: Date.now(),
    });
  }

  /** The Machine holding the volume, when it is not destroyed. */
  async #liveAttachment(volume: Volume): Promise<{ id: string; state: string } | undefined> {
    if (volume.attachedMachineId === null) return undefined;
    const machine = await this.#store.getMachine(volume.attachedMachineId);
    return machine && !isTerminal(machine.state) ? machine : undefined;
  }

  /** A sourced volume goes where its source's file is; a new one wherever the region has a host. */
  async #place(appName: string, request: z.infer<typeof createVolumeRequestSchema>): Promise<Placement> {
    if (request.snapshot_id !== undefined && request.source_volume_id !== undefined) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot create volume as 'snapshot_id' must not be given with 'source_volume_id': got both`, { details: { field: 'snapshot_id' } });
    }
    let from: { field: string; volume: Volume; source: VolumeSource; minGb: number } | undefined;
    if (request.snapshot_id !== undefined) {
      const snapshot = await this.#store.getSnapshot(request.snapshot_id);
      const volume = snapshot && snapshot.appName === appName ? await this.#store.getVolume(snapshot.volumeId) : undefined;
      if (!snapshot || !volume || snapshot.status !== 'created' || isVolumeGone(volume.state)) {
        throw new AloftError('INVALID_ARGUMENT', `Cannot create volume as 'snapshot_id' must name a finished snapshot of a live volume of app ${appName}: got "${request.snapshot_id}"`, { details: { field: 'snapshot_id' } });
      }
      from = { field: 'snapshot_id', volume, source: { kind: 'snapshot', id: snapshot.id }, minGb: snapshot.volumeSizeGb };
    } else if (request.source_volume_id !== undefined) {
      const volume = await this.#store.getVolume(request.source_volume_id);
      if (!volume || volume.appName !== appName || volume.state !== 'created') {
        throw new AloftError('INVALID_ARGUMENT', `Cannot create volume as 'source_volume_id' must name a created volume of app ${appName}: got "${request.source_volume_id}"`, { details: { field: 'source_volume_id' } });
      }
      from = { field: 'source_volume_id', volume, source: { kind: 'volume', id: volume.id }, minGb: volume.sizeGb };
    }
    if (request.region !== undefined) requireRegion(request.region, 'create volume');
    const asked = request.host === undefined ? undefined : this.#host(request.host, request.region);
    if (from) {
      const home = this.#scheduler.host(from.volume.hostId);
      if (!home) throw new AloftError('INVALID_ARGUMENT', `Cannot create volume as '${from.field}' must be on a host of this platform: got one on ${from.volume.hostId}`, { details: { field: from.field } });
      // A snapshot's file is on its volume's host; a fork is copied by the new volume's host's agent (volume-transfer.ts).
      if (from.source.kind === 'snapshot') {
        if ((asked && asked.id !== home.id) || (request.region !== undefined && request.region !== home.region)) {
          throw new AloftError('INVALID_ARGUMENT', `Cannot create volume as a restore of '${from.field}' must be on the snapshot's host ${home.id} (${home.region}): got ${asked ? `host "${asked.id}"` : `region "${request.region}"`}; restore there, then fork the new volume to move it`, { details: { field: asked ? 'host' : 'region' } });
        }
        return { host: home, source: from.source, minGb: from.minGb };
      }
      const host = asked ?? (request.region === undefined || request.region === home.region ? home : await this.#roomyHost(appName, request.region, from.minGb));
      return { host, source: from.source, minGb: from.minGb };
    }
    const regions = this.#scheduler.regions();
    if (request.region !== undefined && !regions.includes(request.region)) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot create volume as 'region' must be one of this platform's regions (${regions.join(', ')}): got "${request.region}"`, { details: { field: 'region' } });
    }
    return { host: asked ?? (await this.#roomyHost(appName, request.region, request.size_gb ?? 1)), source: null, minGb: 1 };
  }

  /** The host named by `host`, which must exist and be in `region` when both are given. */
  #host(id: string, region: string | undefined): HostInfo {
    const host = this.#scheduler.host(id);
    if (!host) {
      const ids = this.#scheduler.hosts().map((h) => h.id).join(', ');
      throw new AloftError('INVALID_ARGUMENT', `Cannot create volume as 'host' must be one of this platform's hosts (${ids}): got "${id}"`, { details: { field: 'host' } });
    }
    if (region !== undefined && host.region !== region) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot create volume as 'host' must be in 'region' ${region}: got "${id}", which is in ${host.region}`, { details: { field: 'host' } });
    }
    return host;
  }

  /**
   * A host of the region (any region when not given) with `sizeGb` of disk free, away
   * from the app's other volumes where it can be (so a group's volumes do not share
   * one host's fate); CAPACITY_EXHAUSTED when none has room.
   */
  async #roomyHost(appName: string, region: string | undefined, sizeGb: number): Promise<HostInfo> {
    const existing = (await this.#store.listVolumes({ appName })).map((v) => ({ hostId: v.hostId, region: v.region }));
    const [host] = await this.#scheduler.spread(this.#store, {
      existing,
      count: 1,
      demand: { cpus: 0, memoryMb: 0, diskGb: sizeGb, gpus: 0 },
      regions: region === undefined ? undefined : [region],
      what: `volume of ${sizeGb} GB`,
    });
    return host!;
  }
}
