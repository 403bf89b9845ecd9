import type { Statement } from 'better-sqlite3';
import { AloftError } from '../../lib/errors.ts';
import type { Volume, VolumeSnapshot } from '../../model/index.ts';
import type { SnapshotPatch, VolumeChange, VolumeFilter, VolumeStore } from '../volume-store.ts';
import type { ChangeLog } from './change-log.ts';

/** A row of `volumes`; booleans are 0/1 and `source` is JSON text. */
interface VolumeRow {
  id: string;
  name: string;
  app_name: string;
  region: string;
  host_id: string;
  size_gb: number;
  state: Volume['state'];
  attached_machine_id: string | null;
  encrypted: number;
  snapshot_retention: number;
  auto_backup_enabled: number;
  source: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
}

interface SnapshotRow {
  id: string;
  volume_id: string;
  app_name: string;
  status: VolumeSnapshot['status'];
  size: number;
  digest: string;
  volume_size_gb: number;
  error: string | null;
  created_at: number;
}

const UPSERT_VOLUME = `INSERT OR REPLACE INTO volumes
  (id, name, app_name, region, host_id, size_gb, state, attached_machine_id, encrypted, snapshot_retention,
   auto_backup_enabled, source, error, created_at, updated_at)
  VALUES (@id, @name, @app_name, @region, @host_id, @size_gb, @state, @attached_machine_id, @encrypted,
   @snapshot_retention, @auto_backup_enabled, @source, @error, @created_at, @updated_at)`;
const UPSERT_SNAPSHOT = `INSERT OR REPLACE INTO volume_snapshots
  (id, volume_id, app_name, status, size, digest, volume_size_gb, error, created_at)
  VALUES (@id, @volume_id, @app_name, @status, @size, @digest, @volume_size_gb, @error, @created_at)`;

/** How SqliteStore lends its transaction, statement cache, change log and clock. */
export interface SqliteVolumesDeps {
  write<T>(action: string, fn: () => T): Promise<T>;
  read<T>(action: string, fn: () => T): T;
  sql<P extends unknown[] = unknown[], R = unknown>(text: string): Statement<P, R>;
  changes: ChangeLog;
  now(): number;
  appExists(name: string): boolean;
}

/**
 * The VolumeStore half of SqliteStore. It runs inside SqliteStore's transactions, so a
 * volume write and its Change commit together exactly as machine writes do.
 */
export class SqliteVolumes implements VolumeStore {
  readonly #d: SqliteVolumesDeps;

  constructor(deps: SqliteVolumesDeps) {
    this.#d = deps;
  }

  async createVolume(volume: Volume): Promise<Volume> {
    return this.#d.write('create volume', () => {
      if (!this.#d.appExists(volume.appName)) {
        throw new AloftError('APP_NOT_FOUND', `Cannot create volume in app ${volume.appName} as it must exist: got no app by that name`);
      }
      if (this.#row(volume.id)) {
        throw new AloftError('STORE_CONFLICT', `Cannot create volume as 'id' must be unique: got "${volume.id}"`);
      }
      return this.#put(volume);
    });
  }

  async getVolume(id: string): Promise<Volume | undefined> {
    return this.#d.read('get volume', () => {
      const row = this.#row(id);
      return row && volumeFromRow(row);
    });
  }

  async listVolumes(filter: VolumeFilter = {}): Promise<Volume[]> {
    return this.#d.read('list volumes', () => {
      const where: string[] = [];
      const params: string[] = [];
      if (filter.appName !== undefined) {
        where.push('app_name = ?');
        params.push(filter.appName);
      }
      if (filter.hostId !== undefined) {
        where.push('host_id = ?');
        params.push(filter.hostId);
      }
      if (filter.includeDestroyed !== true) where.push(`state != 'destroyed'`);
      const sql = `SELECT * FROM volumes${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`;
      return this.#d.sql<string[], VolumeRow>(sql).all(...params).map(volumeFromRow);
    });
  }

  async updateVolume(id: string, change: VolumeChange): Promise<Volume> {
    const action = change.action ?? 'update';
    return this.#d.write(`${action} volume`, () => {
      const row = this.#row(id);
      if (!row) throw volumeNotFound(action, id);
      const current = volumeFromRow(row);
      if (change.expectState && !change.expectState.includes(current.state)) {
        throw new AloftError(
          'VOLUME_ILLEGAL_STATE',
          `Cannot ${action} volume ${id} as its state must be one of ${change.expectState.join(', ')}: got ${current.state}`,
          { details: { volumeId: id, state: current.state } },
        );
      }
      if (change.expectAttachedMachineId !== undefined && change.expectAttachedMachineId !== current.attachedMachineId) {
        throw new AloftError(
          'VOLUME_IN_USE',
          `Cannot ${action} volume ${id} as it must be attached to ${change.expectAttachedMachineId ?? 'no machine'}: got machine ${current.attachedMachineId ?? 'none'}`,
          { details: { volumeId: id, attachedMachineId: current.attachedMachineId } },
        );
      }
      return this.#put({ ...current, ...change.patch, id, appName: current.appName, createdAt: current.createdAt, updatedAt: this.#d.now() });
    });
  }

  async createSnapshot(snapshot: VolumeSnapshot): Promise<VolumeSnapshot> {
    return this.#d.write('create snapshot', () => {
      const row = this.#row(snapshot.volumeId);
      if (!row) throw volumeNotFound('snapshot', snapshot.volumeId);
      if (this.#snapshotRow(snapshot.id)) {
        throw new AloftError('STORE_CONFLICT', `Cannot create snapshot as 'id' must be unique: got "${snapshot.id}"`);
      }
      this.#d.sql(UPSERT_SNAPSHOT).run(snapshotParams(snapshot));
      // The agent follows volume changes; a new snapshot is work on its volume.
      this.#d.changes.append('volume', 'put', row.id, volumeFromRow(row));
      return snapshotFromRow(snapshotParams(snapshot));
    });
  }

  async getSnapshot(id: string): Promise<VolumeSnapshot | undefined> {
    return this.#d.read('get snapshot', () => {
      const row = this.#snapshotRow(id);
      return row && snapshotFromRow(row);
    });
  }

  async listSnapshots(volumeId: string): Promise<VolumeSnapshot[]> {
    return this.#d.read('list snapshots', () =>
      this.#d
        .sql<[string], SnapshotRow>('SELECT * FROM volume_snapshots WHERE volume_id = ? ORDER BY created_at DESC, rowid DESC')
        .all(volumeId)
        .map(snapshotFromRow),
    );
  }

  async updateSnapshot(id: string, patch: SnapshotPatch): Promise<VolumeSnapshot> {
    return this.#d.write('update snapshot', () => {
      const row = this.#snapshotRow(id);
      if (!row) {
        throw new AloftError('VOLUME_SNAPSHOT_NOT_FOUND', `Cannot update snapshot ${id} as it must exist: got no snapshot by that id`);
      }
      const next = { ...snapshotFromRow(row), ...patch };
      this.#d.sql(UPSERT_SNAPSHOT).run(snapshotParams(next));
      const volume = this.#row(row.volume_id);
      if (volume) this.#d.changes.append('volume', 'put', volume.id, volumeFromRow(volume));
      return next;
    });
  }

  /** Writes the whole record and logs it as a put. */
  #put(volume: Volume): Volume {
    const params = volumeParams(volume);
    this.#d.sql(UPSERT_VOLUME).run(params);
    const stored = volumeFromRow(params);
    this.#d.changes.append('volume', 'put', volume.id, stored);
    return stored;
  }

  #row(id: string): VolumeRow | undefined {
    return this.#d.sql<[string], VolumeRow>('SELECT * FROM volumes WHERE id = ?').get(id);
  }

  #snapshotRow(id: string): SnapshotRow | undefined {
    return this.#d.sql<[string], SnapshotRow>('SELECT * FROM volume_snapshots WHERE id = ?').get(id);
  }
}

function volumeNotFound(action: string, id: string): AloftError {
  return new AloftError('VOLUME_NOT_FOUND', `Cannot ${action} volume ${id} as it must exist: got no volume by that id`, {
    details: { volumeId: id },
  });
}

function volumeParams(v: Volume): VolumeRow {
  return {
    id: v.id,
    name: v.name,
    app_name: v.appName,
    region: v.region,
    host_id: v.hostId,
    size_gb: v.sizeGb,
    state: v.state,
    attached_machine_id: v.attachedMachineId,
    encrypted: v.encrypted ? 1 : 0,
    snapshot_retention: v.snapshotRetention,
    auto_backup_enabled: v.autoBackupEnabled ? 1 : 0,
    source: v.source === null ? null : JSON.stringify(v.source),
    error: v.error,
    created_at: v.createdAt,
    updated_at: v.updatedAt,
  };
}

function volumeFromRow(row: VolumeRow): Volume {
  return {
    id: row.id,
    name: row.name,
    appName: row.app_name,
    region: row.region,
    hostId: row.host_id,
    sizeGb: row.size_gb,
    state: row.state,
    attachedMachineId: row.attached_machine_id,
    encrypted: row.encrypted === 1,
    snapshotRetention: row.snapshot_retention,
    autoBackupEnabled: row.auto_backup_enabled === 1,
    source: row.source === null ? null : (JSON.parse(row.source) as Volume['source']),
    error: row.error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function snapshotParams(s: VolumeSnapshot): SnapshotRow {
  return {
    id: s.id,
    volume_id: s.volumeId,
    app_name: s.appName,
    status: s.status,
    size: s.size,
    digest: s.digest,
    volume_size_gb: s.volumeSizeGb,
    error: s.error,
    created_at: s.createdAt,
  };
}

function snapshotFromRow(row: SnapshotRow): VolumeSnapshot {
  return {
    id: row.id,
    volumeId: row.volume_id,
    appName: row.app_name,
    status: row.status,
    size: row.size,
    digest: row.digest,
    volumeSizeGb: row.volume_size_gb,
    error: row.error,
    createdAt: row.created_at,
  };
}
