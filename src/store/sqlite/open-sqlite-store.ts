import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { AloftError, invalidField } from '../../lib/errors.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import { DEFAULT_CHANGE_LOG_LIMIT } from './change-log.ts';
import { MIGRATIONS, migrate, type Migration } from './migrations.ts';
import { SqliteStore } from './sqlite-store.ts';

export interface SqliteStoreOptions {
  /** The database file, or ':memory:' (tests). Missing parent folders are created. */
  path: string;
  logger?: Logger;
  /** The clock that stamps `updatedAt`. Default: the system clock. */
  clock?: Clock;
  /** How often watchers look for commits by other connections. Default 50 ms. */
  pollIntervalMs?: number;
  /** How many changes the log keeps for watchers to resume from. Default 10,000. */
  changeLogLimit?: number;
  /** How long a write waits for another connection's lock. Default 5,000 ms. */
  busyTimeoutMs?: number;
  /** The schema steps to apply; only tests pass this. */
  migrations?: readonly Migration[];
}

/**
 * Opens (creating when needed) a SQLite store and brings its schema up to date.
 * Throws STORE_FAILED when the file cannot be opened or was written by a newer aloft.
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  const { path } = options;
  const changeLogLimit = options.changeLogLimit ?? DEFAULT_CHANGE_LOG_LIMIT;
  if (!Number.isSafeInteger(changeLogLimit) || changeLogLimit < 1) {
    throw invalidField('open the store', 'changeLogLimit', 'a positive integer', changeLogLimit);
  }
  let db: Database.Database | undefined;
  try {
    if (path !== ':memory:' && path !== '') mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
    // WAL lets readers (other processes' watchers, the CLI) run beside the writer;
    // FULL sync because callers act on a write as soon as it resolves.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    db.pragma('foreign_keys = ON');
    migrate(db, options.migrations ?? MIGRATIONS, path);
    return new SqliteStore(db, {
      logger: options.logger ?? silentLogger,
      clock: options.clock ?? systemClock,
      pollIntervalMs: options.pollIntervalMs ?? 50,
      changeLogLimit,
    });
  } catch (err) {
    db?.close();
    if (err instanceof AloftError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new AloftError('STORE_FAILED', `Cannot open the store at ${path}: ${message}`, { cause: err });
  }
}
