import type { Database } from 'better-sqlite3';

interface PendingWrite {
  action: string;
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitHooks {
  /** Runs inside the transaction after the batch's writes (the change log's trim). */
  beforeCommit(): void;
  /** Runs after the commit, before any write's promise settles (the change feed's pump). */
  afterCommit(): void;
  /** Turns what one write threw into the error its caller sees. */
  toError(action: string, err: unknown): unknown;
}

/**
 * Group commit: writes that arrive while one event-loop turn runs are committed together
 * in one transaction, so concurrent API requests share one fsync instead of paying one
 * each, with `synchronous=FULL` durability kept: no write's promise resolves before its
 * commit is on disk.
 *
 * Each write runs in its own savepoint, so one that throws (a taken name, a wrong state)
 * is rolled back alone and fails alone; the others commit. Writes run in arrival order,
 * each seeing the ones before it, as if they had been committed one by one.
 */
export class GroupCommit {
  readonly #db: Database;
  readonly #hooks: GroupCommitHooks;
  #pending: PendingWrite[] = [];
  #scheduled: NodeJS.Immediate | undefined;

  constructor(db: Database, hooks: GroupCommitHooks) {
    this.#db = db;
    this.#hooks = hooks;
  }

  /** Queues `fn` for the next commit; settles with its result once that commit is durable. */
  run<T>(action: string, fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ action, fn, resolve: resolve as (value: unknown) => void, reject });
      this.#scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Commits whatever is queued now (also used before the database closes). */
  flush(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;

    const outcomes: ({ ok: true; value: unknown } | { ok: false; err: unknown })[] = [];
    try {
      this.#db
        .transaction(() => {
          for (const write of batch) {
            try {
              // A nested better-sqlite3 transaction is a savepoint: a throw undoes only this write.
              outcomes.push({ ok: true, value: this.#db.transaction(write.fn)() });
            } catch (err) {
              outcomes.push({ ok: false, err });
            }
          }
          this.#hooks.beforeCommit();
        })
        .immediate();
    } catch (err) {
      // The commit itself failed (disk full, I/O): nothing of the batch was written.
      for (const write of batch) write.reject(this.#hooks.toError(write.action, err));
      return;
    }
    this.#hooks.afterCommit();
    batch.forEach((write, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(this.#hooks.toError(write.action, outcome.err));
    });
  }
}
