import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AloftError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import type { Change } from '../store.ts';
import { ChangeFeed, type FeedSource } from './change-feed.ts';

/** A change log in memory, standing in for SQLite; `commitElsewhere` is another process writing. */
class FakeLog implements FeedSource {
  changes: Change[] = [];
  version = 1;

  head(): number {
    return this.changes.at(-1)?.revision ?? 0;
  }
  horizon(): number {
    const first = this.changes[0];
    return first === undefined ? this.head() : first.revision - 1;
  }
  since(revision: number, limit: number): Change[] {
    return this.changes.filter((c) => c.revision > revision).slice(0, limit);
  }
  dataVersion(): number {
    return this.version;
  }
  append(key: string): void {
    this.changes.push({ revision: this.head() + 1, kind: 'app', op: 'delete', key });
  }
  commitElsewhere(key: string): void {
    this.append(key);
    this.version += 1;
  }
  compactTo(keep: number): void {
    this.changes = this.changes.slice(-keep);
  }
}

function feedOn(log: FakeLog): ChangeFeed {
  return new ChangeFeed(log, { pollIntervalMs: 5, logger: silentLogger });
}

test('the poll delivers commits made by another connection', async () => {
  const log = new FakeLog();
  const feed = feedOn(log);
  // The poll timer is unref'd (watching alone must not keep a process alive), so this
  // guard timer is what keeps the test's event loop running until the change arrives.
  let guard: NodeJS.Timeout | undefined;
  const seen = new Promise<Change>((resolve, reject) => {
    guard = setTimeout(() => reject(new Error('no change within 2 s')), 2000);
    feed.watch(resolve);
  });
  log.commitElsewhere('elsewhere');
  try {
    assert.equal((await seen).key, 'elsewhere');
  } finally {
    clearTimeout(guard);
  }
  feed.close();
});

test('a pump started from inside a listener keeps every watcher in order', () => {
  const log = new FakeLog();
  const feed = feedOn(log);
  const a: string[] = [];
  const b: string[] = [];
  feed.watch((c) => {
    a.push(c.key);
    if (c.key === 'first') {
      log.append('from-listener');
      feed.pump();
    }
  });
  feed.watch((c) => b.push(c.key));
  log.append('first');
  log.append('second');
  feed.pump();
  assert.deepEqual(a, ['first', 'second', 'from-listener']);
  assert.deepEqual(b, a);
  feed.close();
});

test('a watcher left behind the compacted log is stopped and told why; others go on', () => {
  const log = new FakeLog();
  const feed = feedOn(log);
  for (const key of ['a', 'b', 'c']) log.append(key);
  const errors: AloftError[] = [];
  const lagging: string[] = [];
  const current: string[] = [];
  feed.watch((c) => lagging.push(c.key), { fromRevision: 1, onError: (e) => errors.push(e) });
  feed.watch((c) => current.push(c.key));
  // Another process writes more than the log keeps before this one catches up.
  for (const key of ['d', 'e', 'f']) log.append(key);
  log.compactTo(3);
  feed.pump();
  assert.equal(errors.length, 1);
  assert.equal(errors[0]?.code, 'STORE_FAILED');
  assert.match(errors[0]?.message ?? '', /compacted/);
  assert.deepEqual(lagging, []);
  assert.deepEqual(current, ['d', 'e', 'f']);
  log.append('g');
  feed.pump();
  assert.deepEqual(lagging, []);
  assert.deepEqual(current, ['d', 'e', 'f', 'g']);
  feed.close();
});

test('watch refuses a fromRevision the log no longer holds', () => {
  const log = new FakeLog();
  const feed = feedOn(log);
  for (const key of ['a', 'b', 'c', 'd']) log.append(key);
  log.compactTo(2);
  assert.throws(() => feed.watch(() => {}, { fromRevision: 1 }), /compacted/);
  const stop = feed.watch(() => {}, { fromRevision: 2 });
  stop();
  feed.close();
});
