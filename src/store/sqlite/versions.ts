import type { Database } from 'better-sqlite3';
import type { MachineVersion } from '../store.ts';
import type { MachineRow } from './rows.ts';

interface VersionRow {
  instance_id: string;
  config: string;
  created_at: number;
  replaced_at: number | null;
}

/**
 * Records `row`'s config as the machine's live version, marking `replacing` (the
 * previous instance id) replaced. Call inside the write's transaction.
 */
export function recordVersion(db: Database, row: MachineRow, replacing: string | undefined): void {
  if (replacing !== undefined) {
    db.prepare('UPDATE machine_versions SET replaced_at = ? WHERE machine_id = ? AND instance_id = ?').run(row.updated_at, row.id, replacing);
  }
  db.prepare('INSERT OR REPLACE INTO machine_versions (machine_id, instance_id, config, created_at) VALUES (?, ?, ?, ?)').run(
    row.id,
    row.instance_id,
    row.config,
    row.updated_at,
  );
}

/** A machine's versions, newest first. */
export function listVersions(db: Database, machineId: string): MachineVersion[] {
  return db
    .prepare<[string], VersionRow>('SELECT * FROM machine_versions WHERE machine_id = ? ORDER BY created_at DESC, rowid DESC')
    .all(machineId)
    .map((row) => ({
      instanceId: row.instance_id,
      config: JSON.parse(row.config) as MachineVersion['config'],
      createdAt: row.created_at,
      ...(row.replaced_at === null ? {} : { replacedAt: row.replaced_at }),
    }));
}
