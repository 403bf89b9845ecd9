import type { Statement } from 'better-sqlite3';
import { hostRole, type HostFilter, type HostRecord, type HostRegistration, type HostStore, type RoleLease } from '../host-store.ts';
import { heartbeatMoved, hostDown, hostNotFound, hostNumberTaken } from '../host-errors.ts';
import type { ChangeLog } from './change-log.ts';

/** A row of `hosts`: the record as JSON beside the columns filtered on. */
interface HostRow {
  id: string;
  region: string;
  number: number;
  status: HostRecord['status'];
  heartbeat_at: number;
  record: string;
}

/** How SqliteStore lends its transactions, statement cache and change log. */
export interface SqliteHostsDeps {
  write<T>(action: string, fn: () => T): Promise<T>;
  read<T>(action: string, fn: () => T): T;
  sql<P extends unknown[] = unknown[], R = unknown>(text: string): Statement<P, R>;
  changes: ChangeLog;
}

const UPSERT_HOST = `INSERT OR REPLACE INTO hosts (id, region, number, status, heartbeat_at, record)
  VALUES (@id, @region, @number, @status, @heartbeat_at, @record)`;
const CLAIM_ROLE = `INSERT INTO role_leases (role, holder, expires_at) VALUES (@role, @holder, @expires_at)
  ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
  WHERE role_leases.holder = excluded.holder OR role_leases.expires_at <= @now`;

/**
 * The HostStore half of SqliteStore, inside its transactions: a registration or a
 * status change and its `host` Change commit together. Heartbeats only touch the
 * `heartbeat_at` column (see host-store.ts for why they are not published).
 */
export class SqliteHosts implements HostStore {
  readonly #d: SqliteHostsDeps;

  constructor(deps: SqliteHostsDeps) {
    this.#d = deps;
  }

  async registerHost(registration: HostRegistration, now: number): Promise<HostRecord> {
    return this.#d.write('register host', () => {
      const holder = this.#d.sql<[number, string], string>('SELECT id FROM hosts WHERE number = ? AND id != ?').pluck().get(registration.number, registration.id);
      if (holder !== undefined) throw hostNumberTaken(registration.id, registration.number, holder);
      return this.#put({ ...registration, registeredAt: now, heartbeatAt: now, status: 'up' });
    });
  }

  async getHost(id: string): Promise<HostRecord | undefined> {
    return this.#d.read('get host', () => {
      const row = this.#row(id);
      return row && hostFromRow(row);
    });
  }

  async listHosts(filter: HostFilter = {}): Promise<HostRecord[]> {
    return this.#d.read('list hosts', () => {
      const where: string[] = [];
      const params: string[] = [];
      if (filter.region !== undefined) {
        where.push('region = ?');
        params.push(filter.region);
      }
      if (filter.status !== undefined) {
        where.push('status = ?');
        params.push(filter.status);
      }
      const sql = `SELECT * FROM hosts${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
      const hosts = this.#d.sql<string[], HostRow>(sql).all(...params).map(hostFromRow);
      // The role lives in the record (no column): registries hold a handful of entries.
      return filter.role === undefined ? hosts : hosts.filter((h) => hostRole(h) === filter.role);
    });
  }

  async heartbeatHost(id: string, now: number): Promise<HostRecord> {
    return this.#d.write('record a heartbeat of host', () => {
      const row = this.#row(id);
      if (!row) throw hostNotFound('record a heartbeat of', id);
      const host = hostFromRow(row);
      if (host.status === 'down') throw hostDown('record a heartbeat of', id, host.downReason);
      this.#d.sql('UPDATE hosts SET heartbeat_at = ? WHERE id = ?').run(now, id);
      return { ...host, heartbeatAt: now };
    });
  }

  async markHostDown(id: string, change: { reason: string; expectHeartbeatAt: number }): Promise<HostRecord> {
    return this.#d.write('mark host down', () => {
      const row = this.#row(id);
      if (!row) throw hostNotFound('mark down', id);
      const host = hostFromRow(row);
      if (host.status === 'down') return host;
      if (host.heartbeatAt !== change.expectHeartbeatAt) throw heartbeatMoved(id, change.expectHeartbeatAt, host.heartbeatAt);
      return this.#put({ ...host, status: 'down', downReason: change.reason });
    });
  }

  async removeHost(id: string): Promise<void> {
    await this.#d.write('remove host', () => {
      if (!this.#row(id)) throw hostNotFound('remove', id);
      this.#d.sql('DELETE FROM hosts WHERE id = ?').run(id);
      this.#d.changes.append('host', 'delete', id);
    });
  }

  async claimRole(request: { role: string; holder: string; ttlMs: number; now: number }): Promise<RoleLease | undefined> {
    return this.#d.write('claim role', () => {
      const { role, holder, now } = request;
      // The upsert's WHERE makes take-over and renewal one statement: it writes only
      // when the role is free, expired, or already this holder's.
      this.#d.sql(CLAIM_ROLE).run({ role, holder, expires_at: now + request.ttlMs, now });
      const row = this.#d.sql<[string], { holder: string; expires_at: number }>('SELECT holder, expires_at FROM role_leases WHERE role = ?').get(role);
      return row && row.holder === holder ? { role, holder, expiresAt: row.expires_at } : undefined;
    });
  }

  async releaseRole(role: string, holder: string): Promise<void> {
    await this.#d.write('release role', () => {
      this.#d.sql('DELETE FROM role_leases WHERE role = ? AND holder = ?').run(role, holder);
    });
  }

  #row(id: string): HostRow | undefined {
    return this.#d.sql<[string], HostRow>('SELECT * FROM hosts WHERE id = ?').get(id);
  }

  /** Writes the whole record and publishes it. */
  #put(host: HostRecord): HostRecord {
    this.#d.sql(UPSERT_HOST).run({
      id: host.id,
      region: host.region,
      number: host.number,
      status: host.status,
      heartbeat_at: host.heartbeatAt,
      record: JSON.stringify(host),
    });
    this.#d.changes.append('host', 'put', host.id, host);
    return host;
  }
}

/** The JSON record, with the columns that change without a new record (heartbeats). */
function hostFromRow(row: HostRow): HostRecord {
  const record = JSON.parse(row.record) as HostRecord;
  return { ...record, status: row.status, heartbeatAt: row.heartbeat_at };
}
