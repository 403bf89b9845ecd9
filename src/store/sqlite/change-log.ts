import type { Database, Statement } from 'better-sqlite3';
import type { Change } from '../store.ts';
import { changeFromRow, type ChangeRow } from './rows.ts';

/** How many changes the log keeps by default: enough for watchers to resume after a restart. */
export const DEFAULT_CHANGE_LOG_LIMIT = 10_000;

/**
 * The `changes` table: every write appends here in its own transaction, which is what
 * gives the store one global, gap-free revision order that watchers (in this process or
 * another) can replay. Trimmed to the newest `limit` rows so it does not grow forever.
 */
export class ChangeLog {
  readonly #limit: number;
  readonly #insert: Statement<[string, string, string, string | null]>;
  readonly #trim: Statement<[number]>;
  readonly #head: Statement<[], { revision: number | null }>;
  readonly #oldest: Statement<[], { revision: number | null }>;
  readonly #since: Statement<[number, number], ChangeRow>;

  constructor(db: Database, limit: number = DEFAULT_CHANGE_LOG_LIMIT) {
    this.#limit = limit;
    this.#insert = db.prepare('INSERT INTO changes (kind, op, key, value) VALUES (?, ?, ?, ?)');
    this.#trim = db.prepare('DELETE FROM changes WHERE revision <= (SELECT MAX(revision) FROM changes) - ?');
    this.#head = db.prepare('SELECT MAX(revision) AS revision FROM changes');
    this.#oldest = db.prepare('SELECT MIN(revision) AS revision FROM changes');
    this.#since = db.prepare('SELECT * FROM changes WHERE revision > ? ORDER BY revision LIMIT ?');
  }

  /** Records a put (with the record as written) or a delete; call inside the write's transaction. */
  append(kind: Change['kind'], op: Change['op'], key: string, value?: unknown): number {
    const json = op === 'put' ? JSON.stringify(value) : null;
    return Number(this.#insert.run(kind, op, key, json).lastInsertRowid);
  }

  /** Drops all but the newest `limit` changes; call once per write transaction. */
  trim(): void {
    this.#trim.run(this.#limit);
  }

  /** The latest revision, 0 when nothing was ever written. */
  head(): number {
    return this.#head.get()?.revision ?? 0;
  }

  /**
   * The oldest revision a watcher may resume from: changes after it are all still kept.
   * Older positions were compacted away.
   */
  horizon(): number {
    const oldest = this.#oldest.get()?.revision;
    return oldest === null || oldest === undefined ? this.head() : oldest - 1;
  }

  /** Up to `limit` changes with revision > `revision`, oldest first. */
  since(revision: number, limit: number): Change[] {
    return this.#since.all(revision, limit).map(changeFromRow);
  }
}
