import type { Database } from 'better-sqlite3';
import type { AcquireLeaseRequest, Lease } from '../lease-store.ts';
import { leaseNotFound, machineLeased } from '../store-errors-auth.ts';
import { machineNotFound } from '../store-errors.ts';

/**
 * The SQLite half of the LeaseStore. Each function runs inside the caller's immediate
 * transaction (SqliteStore#write), which is what makes acquiring race-free: the read of
 * the current lease and the write of the new one cannot interleave with another writer.
 */

interface LeaseRow {
  machine_id: string;
  app_name: string;
  nonce: string;
  owner: string;
  description: string;
  expires_at: number;
  version: number;
}

const SELECT_LEASE = `SELECT l.machine_id, m.app_name, l.nonce, l.owner, l.description, l.expires_at, m.version
  FROM machine_leases l JOIN machines m ON m.id = l.machine_id WHERE l.machine_id = ?`;
const UPSERT_LEASE = `INSERT INTO machine_leases (machine_id, nonce, owner, description, expires_at)
  VALUES (@machine_id, @nonce, @owner, @description, @expires_at)
  ON CONFLICT (machine_id) DO UPDATE SET nonce = excluded.nonce, owner = excluded.owner,
    description = excluded.description, expires_at = excluded.expires_at`;

function leaseFromRow(row: LeaseRow): Lease {
  return {
    machineId: row.machine_id,
    appName: row.app_name,
    nonce: row.nonce,
    owner: row.owner,
    description: row.description,
    expiresAt: row.expires_at,
    machineVersion: row.version,
  };
}

/** The unexpired lease of `machineId` at `now`, if any. */
export function readLease(db: Database, machineId: string, now: number): Lease | undefined {
  const row = db.prepare<[string], LeaseRow>(SELECT_LEASE).get(machineId);
  return row && row.expires_at > now ? leaseFromRow(row) : undefined;
}

/** Takes or refreshes the lease; see LeaseStore.acquireLease. Call inside a transaction. */
export function acquireLeaseIn(db: Database, request: AcquireLeaseRequest): Lease {
  const { machineId, now } = request;
  if (db.prepare('SELECT 1 FROM machines WHERE id = ?').get(machineId) === undefined) {
    throw machineNotFound('lease', machineId);
  }
  const current = readLease(db, machineId, now);
  if (current && current.nonce !== request.heldNonce) {
    throw machineLeased('lease', machineId, current.owner, current.expiresAt);
  }
  // A refresh keeps the nonce the holder already has; a fresh lease gets a new one.
  db.prepare(UPSERT_LEASE).run({
    machine_id: machineId,
    nonce: current ? current.nonce : request.newNonce,
    owner: current ? current.owner : request.owner,
    description: request.description,
    expires_at: now + request.ttlMs,
  });
  return readLease(db, machineId, now)!;
}

/** Releases the lease; see LeaseStore.releaseLease. Call inside a transaction. */
export function releaseLeaseIn(db: Database, machineId: string, nonce: string, now: number): void {
  const current = readLease(db, machineId, now);
  if (!current) throw leaseNotFound('release', machineId);
  if (current.nonce !== nonce) throw machineLeased('release the lease of', machineId, current.owner, current.expiresAt);
  db.prepare('DELETE FROM machine_leases WHERE machine_id = ?').run(machineId);
}
