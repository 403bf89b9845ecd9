import { AloftError } from '../../lib/errors.ts';
import type { Volume, VolumeSnapshot } from '../../model/index.ts';
import type { SnapshotPatch, VolumeChange, VolumeFilter, VolumeStore } from '../volume-store.ts';
import { getJson, listJson, type EtcdContext } from './context.ts';
import type { EtcdKeys } from './keys.ts';
import { indexIds } from './machine-records.ts';
import { byCreation, compareText } from './order.ts';

/**
 * The VolumeStore half of EtcdStore. A volume is `volumes/<id>` (watched: each put is a
 * volume Change), indexed by app and host; snapshots are `snapshots/<id>`, indexed by
 * volume. A new or changed snapshot rewrites its volume unchanged in the same
 * transaction, so the volume's agent sees a put, as with the SQLite store.
 */
export class EtcdVolumes implements VolumeStore {
  readonly #c: EtcdContext;
  readonly #k: EtcdKeys;

  constructor(context: EtcdContext) {
    this.#c = context;
    this.#k = context.keys;
  }

  async createVolume(volume: Volume): Promise<Volume> {
    return this.#c.write('create volume', async (tx) => {
      if (!(await tx.get(this.#k.app(volume.appName)))) {
        throw new AloftError('APP_NOT_FOUND', `Cannot create volume in app ${volume.appName} as it must exist: got no app by that name`);
      }
      if (await tx.get(this.#k.volume(volume.id))) {
        throw new AloftError('STORE_CONFLICT', `Cannot create volume as 'id' must be unique: got "${volume.id}"`);
      }
      tx.put(this.#k.key('idx', 'volume-app', volume.appName, volume.id), '');
      tx.put(this.#k.key('idx', 'volume-host', volume.hostId, volume.id), '');
      tx.putJson(this.#k.volume(volume.id), volume);
      return { ...volume };
    });
  }

  async getVolume(id: string): Promise<Volume | undefined> {
    return this.#c.read('get volume', (tx) => getJson<Volume>(tx, this.#k.volume(id)));
  }

  async listVolumes(filter: VolumeFilter = {}): Promise<Volume[]> {
    const volumes = await this.#c.read('list volumes', async (tx) => {
      const index =
        filter.appName !== undefined
          ? this.#k.dir('idx', 'volume-app', filter.appName)
          : filter.hostId !== undefined
            ? this.#k.dir('idx', 'volume-host', filter.hostId)
            : undefined;
      if (index === undefined) return listJson<Volume>(tx, this.#k.dir('volumes'));
      const ids = await indexIds(tx, index);
      return (await Promise.all(ids.map((id) => getJson<Volume>(tx, this.#k.volume(id))))).filter((v) => v !== undefined);
    });
    return volumes
      .filter(
        (v) =>
          (filter.appName === undefined || v.appName === filter.appName) &&
          (filter.hostId === undefined || v.hostId === filter.hostId) &&
          (filter.includeDestroyed === true || v.state !== 'destroyed'),
      )
      .sort(byCreation);
  }

  async updateVolume(id: string, change: VolumeChange): Promise<Volume> {
    const action = change.action ?? 'update';
    return this.#c.write(`${action} volume`, async (tx) => {
      const current = await getJson<Volume>(tx, this.#k.volume(id));
      if (!current) throw volumeNotFound(action, id);
      if (change.expectState && !change.expectState.includes(current.state)) {
        throw new AloftError(
          'VOLUME_ILLEGAL_STATE',
          `Cannot ${action} volume ${id} as its state must be one of ${change.expectState.join(', ')}: got ${current.state}`,
          { details: { volumeId: id, state: current.state } },
        );
      }
      // The compare-and-set that keeps one Machine per volume: the transaction also fails if the volume changed since this read.
      if (change.expectAttachedMachineId !== undefined && change.expectAttachedMachineId !== current.attachedMachineId) {
        throw new AloftError(
          'VOLUME_IN_USE',
          `Cannot ${action} volume ${id} as it must be attached to ${change.expectAttachedMachineId ?? 'no machine'}: got machine ${current.attachedMachineId ?? 'none'}`,
          { details: { volumeId: id, attachedMachineId: current.attachedMachineId } },
        );
      }
      const next: Volume = { ...current, ...change.patch, id, appName: current.appName, createdAt: current.createdAt, updatedAt: this.#c.now() };
      if (next.hostId !== current.hostId) {
        tx.delete(this.#k.key('idx', 'volume-host', current.hostId, id));
        tx.put(this.#k.key('idx', 'volume-host', next.hostId, id), '');
      }
      tx.putJson(this.#k.volume(id), next);
      return next;
    });
  }

  async createSnapshot(snapshot: VolumeSnapshot): Promise<VolumeSnapshot> {
    return this.#c.write('create snapshot', async (tx) => {
      const volume = await getJson<Volume>(tx, this.#k.volume(snapshot.volumeId));
      if (!volume) throw volumeNotFound('snapshot', snapshot.volumeId);
      if (await tx.get(this.#k.key('snapshots', snapshot.id))) {
        throw new AloftError('STORE_CONFLICT', `Cannot create snapshot as 'id' must be unique: got "${snapshot.id}"`);
      }
      tx.putJson(this.#k.key('snapshots', snapshot.id), snapshot);
      tx.put(this.#k.key('idx', 'snapshot-volume', snapshot.volumeId, snapshot.id), '');
      // The agent follows volume changes; a new snapshot is work on its volume.
      tx.putJson(this.#k.volume(volume.id), volume);
      return { ...snapshot };
    });
  }

  async getSnapshot(id: string): Promise<VolumeSnapshot | undefined> {
    return this.#c.read('get snapshot', (tx) => getJson<VolumeSnapshot>(tx, this.#k.key('snapshots', id)));
  }

  async listSnapshots(volumeId: string): Promise<VolumeSnapshot[]> {
    const found = await this.#c.read('list snapshots', async (tx) => {
      const ids = await indexIds(tx, this.#k.dir('idx', 'snapshot-volume', volumeId));
      return Promise.all(
        ids.map(async (id) => {
          const kv = await tx.get(this.#k.key('snapshots', id));
          return kv && { rev: kv.createRevision, snapshot: JSON.parse(kv.value.toString()) as VolumeSnapshot };
        }),
      );
    });
    // Newest first; of two made in the same millisecond, the later write first (SQLite's rowid).
    return found
      .filter((s) => s !== undefined)
      .sort((a, b) => b.snapshot.createdAt - a.snapshot.createdAt || b.rev - a.rev || compareText(b.snapshot.id, a.snapshot.id))
      .map((s) => s.snapshot);
  }

  async updateSnapshot(id: string, patch: SnapshotPatch): Promise<VolumeSnapshot> {
    return this.#c.write('update snapshot', async (tx) => {
      const current = await getJson<VolumeSnapshot>(tx, this.#k.key('snapshots', id));
      if (!current) {
        throw new AloftError('VOLUME_SNAPSHOT_NOT_FOUND', `Cannot update snapshot ${id} as it must exist: got no snapshot by that id`);
      }
      const next = { ...current, ...patch };
      tx.putJson(this.#k.key('snapshots', id), next);
      const volume = await getJson<Volume>(tx, this.#k.volume(current.volumeId));
      if (volume) tx.putJson(this.#k.volume(volume.id), volume);
      return next;
    });
  }
}

function volumeNotFound(action: string, id: string): AloftError {
  return new AloftError('VOLUME_NOT_FOUND', `Cannot ${action} volume ${id} as it must exist: got no volume by that id`, {
    details: { volumeId: id },
  });
}
