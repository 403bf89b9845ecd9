import type { Database } from 'better-sqlite3';
import { AloftError } from '../../lib/errors.ts';

/** One schema step. `id` sorts in apply order and is never reused or edited once shipped. */
export interface Migration {
  id: string;
  sql: string;
}

/**
 * The schema, as an ordered list of steps. Append new steps; never edit a shipped one,
 * because databases in the field have already recorded it as applied.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: '0001-initial',
    sql: `
      CREATE TABLE apps (
        name       TEXT PRIMARY KEY,
        id         TEXT NOT NULL UNIQUE,
        org_slug   TEXT NOT NULL,
        network    INTEGER NOT NULL,
        status     TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX apps_org_slug ON apps (org_slug);

      CREATE TABLE machines (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        app_name    TEXT NOT NULL REFERENCES apps (name),
        region      TEXT NOT NULL,
        host_id     TEXT NOT NULL,
        state       TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        config      TEXT NOT NULL,
        image_ref   TEXT NOT NULL,
        addresses   TEXT,
        version     INTEGER NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
      );
      CREATE INDEX machines_app_name ON machines (app_name);
      CREATE INDEX machines_host_id ON machines (host_id);
      -- A backstop for MACHINE_NAME_TAKEN: names are unique among an app's live machines.
      CREATE UNIQUE INDEX machines_live_name ON machines (app_name, name)
        WHERE state NOT IN ('destroyed', 'replaced', 'migrated');

      CREATE TABLE machine_events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        machine_id TEXT NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
        json       TEXT NOT NULL
      );
      CREATE INDEX machine_events_machine ON machine_events (machine_id, seq);

      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );

      CREATE TABLE sequences (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      );

      -- AUTOINCREMENT so a revision is never reused, even after the log is trimmed.
      CREATE TABLE changes (
        revision INTEGER PRIMARY KEY AUTOINCREMENT,
        kind     TEXT NOT NULL,
        op       TEXT NOT NULL,
        key      TEXT NOT NULL,
        value    TEXT
      );
    `,
  },
  {
    // Every config a Machine has had (Fly's versions): the live one has no replaced_at.
    // Backfilled with each existing Machine's current config. `cordoned` is Fly's
    // flag that keeps new proxy traffic away from a Machine.
    id: '0002-machine-versions',
    sql: `
      CREATE TABLE machine_versions (
        machine_id  TEXT NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
        instance_id TEXT NOT NULL,
        config      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        replaced_at INTEGER,
        PRIMARY KEY (machine_id, instance_id)
      );
      INSERT INTO machine_versions (machine_id, instance_id, config, created_at)
        SELECT id, instance_id, config, updated_at FROM machines;
      ALTER TABLE machines ADD COLUMN cordoned INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    id: '0003-leases',
    sql: `
      -- One lease per machine at most; an expired row is simply overwritten by the next
      -- acquirer (expiry is checked at use), so no timer has to clean up.
      CREATE TABLE machine_leases (
        machine_id  TEXT PRIMARY KEY REFERENCES machines (id) ON DELETE CASCADE,
        nonce       TEXT NOT NULL,
        owner       TEXT NOT NULL,
        description TEXT NOT NULL,
        expires_at  INTEGER NOT NULL
      );
    `,
  },
  {
    id: '0004-orgs-tokens',
    sql: `
      CREATE TABLE orgs (
        slug       TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      -- The embedded platform's one org, which apps default to.
      INSERT INTO orgs (slug, name, created_at) VALUES ('personal', 'Personal', 0);

      -- Only the sha256 of a token's secret is kept; the secret is shown once.
      CREATE TABLE api_tokens (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        org_slug   TEXT NOT NULL REFERENCES orgs (slug),
        app_name   TEXT,
        read_only  INTEGER NOT NULL,
        hash       TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE INDEX api_tokens_org ON api_tokens (org_slug);
    `,
  },
  {
    id: '0005-volumes',
    sql: `
      -- No foreign key to apps: a volume's file outlives its record's app until the
      -- agent has deleted it, so the rows must not block (or cascade from) an app delete.
      CREATE TABLE volumes (
        id                  TEXT PRIMARY KEY,
        name                TEXT NOT NULL,
        app_name            TEXT NOT NULL,
        region              TEXT NOT NULL,
        host_id             TEXT NOT NULL,
        size_gb             INTEGER NOT NULL,
        state               TEXT NOT NULL,
        attached_machine_id TEXT,
        encrypted           INTEGER NOT NULL,
        snapshot_retention  INTEGER NOT NULL,
        auto_backup_enabled INTEGER NOT NULL,
        source              TEXT,
        error               TEXT,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL
      );
      CREATE INDEX volumes_app_name ON volumes (app_name);
      CREATE INDEX volumes_host_id ON volumes (host_id);

      CREATE TABLE volume_snapshots (
        id             TEXT PRIMARY KEY,
        volume_id      TEXT NOT NULL REFERENCES volumes (id),
        app_name       TEXT NOT NULL,
        status         TEXT NOT NULL,
        size           INTEGER NOT NULL,
        digest         TEXT NOT NULL,
        volume_size_gb INTEGER NOT NULL,
        error          TEXT,
        created_at     INTEGER NOT NULL
      );
      CREATE INDEX volume_snapshots_volume ON volume_snapshots (volume_id, created_at);
    `,
  },
  {
    // The latest status of each health check the host's agent runs (Fly's
    // Machine.checks), as JSON; NULL until the agent has run checks for the Machine.
    id: '0006-machine-checks',
    sql: `
      ALTER TABLE machines ADD COLUMN checks TEXT;
    `,
  },
  {
    // App secrets (src/secrets), as ciphertext only: each org's data key wrapped under
    // the platform key, each value sealed under its org's data key. A staged unset keeps
    // its row, without a value, until the next rollout. Secrets go with their app.
    id: '0007-secrets',
    sql: `
      CREATE TABLE org_data_keys (
        org_slug   TEXT PRIMARY KEY,
        wrapped    BLOB NOT NULL,
        key_id     TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );

      CREATE TABLE secrets (
        app_name   TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        ciphertext BLOB,
        nonce      BLOB,
        digest     TEXT,
        status     TEXT NOT NULL CHECK (status IN ('deployed', 'staged', 'staged_unset')),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (app_name, name)
      );
    `,
  },
  {
    // Deploys (src/deploy): one numbered release per deploy, and its progress events.
    // They go with their app (ON DELETE CASCADE), so a new app of the same name starts at v1.
    id: '0008-releases',
    sql: `
      CREATE TABLE releases (
        id           TEXT PRIMARY KEY,
        app_name     TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
        version      INTEGER NOT NULL,
        status       TEXT NOT NULL,
        strategy     TEXT NOT NULL,
        image_ref    TEXT NOT NULL,
        image_digest TEXT NOT NULL,
        config       TEXT NOT NULL,
        created_by   TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL,
        finished_at  INTEGER,
        reason       TEXT,
        rollback_of  INTEGER,
        UNIQUE (app_name, version)
      );

      CREATE TABLE release_events (
        release_id TEXT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
        seq        INTEGER NOT NULL,
        time       INTEGER NOT NULL,
        json       TEXT NOT NULL,
        PRIMARY KEY (release_id, seq)
      );
    `,
  },
  {
    // Cluster mode's host registry (store/host-store.ts): the record as JSON, with the
    // columns the HostMonitor and the scheduler filter on; and named roles one process
    // at a time holds (the HostMonitor's), by expiry like Machine leases.
    id: '0009-hosts',
    sql: `
      CREATE TABLE hosts (
        id           TEXT PRIMARY KEY,
        region       TEXT NOT NULL,
        number       INTEGER NOT NULL UNIQUE,
        status       TEXT NOT NULL,
        heartbeat_at INTEGER NOT NULL,
        record       TEXT NOT NULL
      );
      CREATE TABLE role_leases (
        role       TEXT PRIMARY KEY,
        holder     TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
    `,
  },
  {
    // User WireGuard peers (store/peer-store.ts): the gateways they connect through, the
    // peers (public key and 6PN address only: the private key never reaches the store),
    // and apps' private (Flycast) IPv6 addresses. UNIQUE keeps an address held once.
    id: '0010-peers-ips',
    sql: `
      CREATE TABLE peer_gateways (
        host_id TEXT PRIMARY KEY,
        region  TEXT NOT NULL,
        record  TEXT NOT NULL
      );
      CREATE TABLE peers (
        org             TEXT NOT NULL,
        name            TEXT NOT NULL,
        gateway_host_id TEXT NOT NULL,
        public_key      TEXT NOT NULL UNIQUE,
        address         TEXT NOT NULL UNIQUE,
        record          TEXT NOT NULL,
        PRIMARY KEY (org, name)
      );
      CREATE INDEX peers_gateway ON peers (gateway_host_id);
      CREATE TABLE ips (
        address TEXT PRIMARY KEY,
        app     TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
        org     TEXT NOT NULL,
        record  TEXT NOT NULL
      );
      CREATE INDEX ips_app ON ips (app);
    `,
  },
];

/**
 * Brings `db` up to date with `migrations`, all pending steps in one immediate
 * transaction (so two processes opening the same file cannot both migrate), and
 * records each in `schema_migrations`. Returns the ids it applied (empty when the
 * schema was current). Throws STORE_FAILED when the database has steps this build
 * does not know, i.e. it was written by a newer aloft.
 */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS, where = db.name): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`);
  const run = db.transaction((): string[] => {
    const applied = new Set(
      db
        .prepare<[], { id: string }>('SELECT id FROM schema_migrations')
        .all()
        .map((row) => row.id),
    );
    const known = new Set(migrations.map((m) => m.id));
    const unknown = [...applied].filter((id) => !known.has(id)).sort();
    if (unknown.length > 0) {
      throw new AloftError(
        'STORE_FAILED',
        `Cannot open the store at ${where} as its schema must be one this aloft knows: got unknown migration(s) ${unknown.join(', ')} (written by a newer aloft; upgrade aloft to open it)`,
        { details: { unknownMigrations: unknown } },
      );
    }
    const record = db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)');
    const done: string[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.id)) continue;
      db.exec(migration.sql);
      record.run(migration.id, Date.now());
      done.push(migration.id);
    }
    return done;
  });
  return run.immediate();
}

/** The ids recorded as applied in `db`, in apply order. */
export function appliedMigrations(db: Database): string[] {
  return db
    .prepare<[], { id: string }>('SELECT id FROM schema_migrations ORDER BY id')
    .all()
    .map((row) => row.id);
}
