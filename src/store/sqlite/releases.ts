import type { Database } from 'better-sqlite3';
import { AloftError } from '../../lib/errors.ts';
import { LIVE_RELEASE_STATUSES, type NewRelease, type Release, type ReleaseEvent, type ReleasePatch, type ReleaseStatus } from '../release-store.ts';
import { appNotFound } from '../store-errors.ts';

/**
 * The SQLite half of the ReleaseStore. Writes run inside the caller's immediate
 * transaction (SqliteStore#write): that is what makes "next version" and "at most one
 * live release per app" race-free.
 */

interface ReleaseRow {
  id: string;
  app_name: string;
  version: number;
  status: ReleaseStatus;
  strategy: Release['strategy'];
  image_ref: string;
  image_digest: string;
  config: string;
  created_by: string;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  reason: string | null;
  rollback_of: number | null;
}

const LIVE_SQL = LIVE_RELEASE_STATUSES.map((s) => `'${s}'`).join(', ');

function releaseFromRow(row: ReleaseRow): Release {
  return {
    id: row.id,
    appName: row.app_name,
    version: row.version,
    status: row.status,
    strategy: row.strategy,
    image: { ref: row.image_ref, digest: row.image_digest },
    config: JSON.parse(row.config) as unknown,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
    ...(row.reason === null ? {} : { reason: row.reason }),
    ...(row.rollback_of === null ? {} : { rollbackOf: row.rollback_of }),
  };
}

export function releaseNotFound(action: string, what: string): AloftError {
  return new AloftError('RELEASE_NOT_FOUND', `Cannot ${action} as release ${what} must exist: got no release by that id`, { details: { release: what } });
}

/** Inserts the release with the app's next version; see ReleaseStore.createRelease. */
export function insertRelease(db: Database, release: NewRelease): Release {
  if (db.prepare('SELECT 1 FROM apps WHERE name = ?').get(release.appName) === undefined) throw appNotFound('deploy', release.appName);
  const live = db
    .prepare<[string], ReleaseRow>(`SELECT * FROM releases WHERE app_name = ? AND status IN (${LIVE_SQL}) ORDER BY version DESC LIMIT 1`)
    .get(release.appName);
  if (live) {
    throw new AloftError(
      'DEPLOY_CONFLICT',
      `Cannot deploy app ${release.appName} as no other deploy may be running: got release v${live.version} by ${live.created_by}, ${live.status} since ${new Date(live.created_at).toISOString()}`,
      { details: { appName: release.appName, version: live.version, holder: live.created_by } },
    );
  }
  const version = (db.prepare<[string], number>('SELECT COALESCE(MAX(version), 0) + 1 FROM releases WHERE app_name = ?').pluck().get(release.appName) ?? 1);
  const row: ReleaseRow = {
    id: release.id,
    app_name: release.appName,
    version,
    status: release.status,
    strategy: release.strategy,
    image_ref: release.image.ref,
    image_digest: release.image.digest,
    config: JSON.stringify(release.config ?? null),
    created_by: release.createdBy,
    created_at: release.createdAt,
    updated_at: release.createdAt,
    finished_at: null,
    reason: release.reason ?? null,
    rollback_of: release.rollbackOf ?? null,
  };
  db.prepare(
    `INSERT INTO releases (id, app_name, version, status, strategy, image_ref, image_digest, config, created_by, created_at, updated_at, finished_at, reason, rollback_of)
     VALUES (@id, @app_name, @version, @status, @strategy, @image_ref, @image_digest, @config, @created_by, @created_at, @updated_at, @finished_at, @reason, @rollback_of)`,
  ).run(row);
  return releaseFromRow(row);
}

export function readRelease(db: Database, appName: string, version: number): Release | undefined {
  const row = db.prepare<[string, number], ReleaseRow>('SELECT * FROM releases WHERE app_name = ? AND version = ?').get(appName, version);
  return row && releaseFromRow(row);
}

export function readReleases(db: Database, appName: string, filter: { statuses?: readonly ReleaseStatus[]; limit?: number } = {}): Release[] {
  const statuses = filter.statuses ?? [];
  const where = statuses.length > 0 ? ` AND status IN (${statuses.map(() => '?').join(', ')})` : '';
  return db
    .prepare<unknown[], ReleaseRow>(`SELECT * FROM releases WHERE app_name = ?${where} ORDER BY version DESC LIMIT ?`)
    .all(appName, ...statuses, filter.limit ?? -1)
    .map(releaseFromRow);
}

export function patchRelease(db: Database, id: string, patch: ReleasePatch, now: number): Release {
  const row = db.prepare<[string], ReleaseRow>('SELECT * FROM releases WHERE id = ?').get(id);
  if (!row) throw releaseNotFound('update a release', id);
  const next: ReleaseRow = {
    ...row,
    status: patch.status ?? row.status,
    reason: patch.reason ?? row.reason,
    finished_at: patch.finishedAt ?? row.finished_at,
    updated_at: now,
  };
  db.prepare('UPDATE releases SET status = @status, reason = @reason, finished_at = @finished_at, updated_at = @updated_at WHERE id = @id').run(next);
  return releaseFromRow(next);
}

export function insertReleaseEvent(db: Database, id: string, data: Record<string, unknown>, now: number): ReleaseEvent {
  if (db.prepare('SELECT 1 FROM releases WHERE id = ?').get(id) === undefined) throw releaseNotFound('record a deploy event', id);
  const seq = db.prepare<[string], number>('SELECT COALESCE(MAX(seq), 0) + 1 FROM release_events WHERE release_id = ?').pluck().get(id) ?? 1;
  db.prepare('INSERT INTO release_events (release_id, seq, time, json) VALUES (?, ?, ?, ?)').run(id, seq, now, JSON.stringify(data));
  return { seq, time: now, data };
}

export function readReleaseEvents(db: Database, id: string, afterSeq = 0): ReleaseEvent[] {
  return db
    .prepare<[string, number], { seq: number; time: number; json: string }>('SELECT seq, time, json FROM release_events WHERE release_id = ? AND seq > ? ORDER BY seq')
    .all(id, afterSeq)
    .map((r) => ({ seq: r.seq, time: r.time, data: JSON.parse(r.json) as Record<string, unknown> }));
}
