import type { Logger } from '../../lib/log.ts';
import { AloftError, invalidField } from '../../lib/errors.ts';
import type { Change, ChangeListener, WatchOptions } from '../store.ts';

/** What the feed reads: the change log, plus a cheap "did another connection commit?" probe. */
export interface FeedSource {
  head(): number;
  horizon(): number;
  since(revision: number, limit: number): Change[];
  /** SQLite's `PRAGMA data_version`: changes when another connection commits. */
  dataVersion(): number;
}

interface Watcher {
  listener: ChangeListener;
  onError: ((error: AloftError) => void) | undefined;
  /** The revision of the last change this watcher was given. */
  cursor: number;
  active: boolean;
}

/** Rows read per round while catching watchers up, to bound memory on long replays. */
const BATCH = 500;

/**
 * Delivers the change log to watchers. There is one path for everything: each watcher
 * has a cursor, and `pump()` reads the log after the lowest cursor and hands each change
 * to every watcher still behind it. Local writes pump right after they commit (so
 * listeners run before the write's promise resolves); a timer pumps when another
 * connection has committed; a new watcher with `fromRevision` is caught up the same
 * way. Because replay and live delivery are the same loop over the same log, a watcher
 * can neither miss nor repeat a change, whatever is written while it catches up.
 */
export class ChangeFeed {
  readonly #source: FeedSource;
  readonly #pollIntervalMs: number;
  readonly #log: Logger;
  readonly #watchers = new Set<Watcher>();
  #pumping = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #dataVersion = 0;

  constructor(source: FeedSource, options: { pollIntervalMs: number; logger: Logger }) {
    this.#source = source;
    this.#pollIntervalMs = options.pollIntervalMs;
    this.#log = options.logger;
  }

  /** See Store.watch. Throws STORE_FAILED when `fromRevision` was compacted away. */
  watch(listener: ChangeListener, options: WatchOptions = {}): () => void {
    if (this.#closed) throw new AloftError('STORE_FAILED', 'Cannot watch the store as it must be open: got a closed store');
    const { fromRevision } = options;
    if (fromRevision !== undefined && !(Number.isSafeInteger(fromRevision) && fromRevision >= 0)) {
      throw invalidField('watch the store', 'fromRevision', 'a non-negative integer', fromRevision);
    }
    if (fromRevision !== undefined) this.#checkHorizon(fromRevision);
    const watcher: Watcher = {
      listener,
      onError: options.onError,
      cursor: fromRevision ?? this.#source.head(),
      active: true,
    };
    this.#watchers.add(watcher);
    this.#startPolling();
    // Replay after watch() returns, so the listener can already hold its stop function.
    if (watcher.cursor < this.#source.head()) queueMicrotask(() => this.pump());
    return () => this.#remove(watcher);
  }

  /** Hands every change not yet delivered to the watchers behind it. Safe to re-enter. */
  pump(): void {
    if (this.#closed || this.#watchers.size === 0) return;
    // A listener wrote (or watched): the running loop re-reads the head before it
    // returns, so it picks that up, in order.
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      this.#catchUp();
    } catch (err) {
      // The write that pumped has committed; failing it now would lie to its caller.
      this.#log.error({ err }, 'store watch delivery failed');
    } finally {
      this.#pumping = false;
    }
  }

  #catchUp(): void {
    for (;;) {
      if (this.#closed) return;
      const head = this.#source.head();
      const behind = [...this.#watchers].filter((w) => w.active && w.cursor < head);
      if (behind.length === 0) return;
      const horizon = this.#source.horizon();
      for (const w of behind) if (w.cursor < horizon) this.#fail(w, horizon);
      const from = Math.min(...behind.filter((w) => w.active).map((w) => w.cursor));
      if (!Number.isFinite(from)) continue;
      for (const change of this.#source.since(from, BATCH)) {
        for (const w of behind) {
          if (!w.active || change.revision <= w.cursor) continue;
          w.cursor = change.revision;
          this.#deliver(w, change);
        }
      }
    }
  }

  /** Stops the poll timer and drops every watcher. */
  close(): void {
    this.#closed = true;
    for (const w of this.#watchers) w.active = false;
    this.#watchers.clear();
    this.#stopPolling();
  }

  #deliver(w: Watcher, change: Change): void {
    try {
      w.listener(change);
    } catch (err) {
      // One bad listener must not starve the others or fail the write that triggered it.
      this.#log.error({ err, revision: change.revision }, 'store watch listener threw');
    }
  }

  #checkHorizon(fromRevision: number): void {
    const horizon = this.#source.horizon();
    if (fromRevision < horizon) throw compacted(fromRevision, horizon);
  }

  /** A watcher fell behind what the log keeps (only possible via another process's bulk writes). */
  #fail(w: Watcher, horizon: number): void {
    this.#remove(w);
    const error = compacted(w.cursor, horizon);
    this.#log.error({ err: error }, 'store watch stopped: its position was compacted away');
    try {
      w.onError?.(error);
    } catch (err) {
      this.#log.error({ err }, 'store watch onError threw');
    }
  }

  #remove(w: Watcher): void {
    w.active = false;
    this.#watchers.delete(w);
    if (this.#watchers.size === 0) this.#stopPolling();
  }

  #startPolling(): void {
    if (this.#timer !== undefined) return;
    this.#dataVersion = this.#source.dataVersion();
    this.#timer = setInterval(() => this.#poll(), this.#pollIntervalMs);
    // Watching must not keep the process alive on its own.
    this.#timer.unref();
  }

  #stopPolling(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #poll(): void {
    try {
      const version = this.#source.dataVersion();
      if (version === this.#dataVersion) return;
      this.#dataVersion = version;
      this.pump();
    } catch (err) {
      this.#log.error({ err }, 'store watch poll failed');
    }
  }
}

function compacted(fromRevision: number, horizon: number): AloftError {
  return new AloftError(
    'STORE_FAILED',
    `Cannot watch the store from revision ${fromRevision} as 'fromRevision' must be at least ${horizon}, because older changes are compacted: got ${fromRevision} (list again and watch from revision())`,
    { details: { fromRevision, horizon, reason: 'compacted' } },
  );
}
