import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { GroupCommit } from './group-commit.ts';

function setup() {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (v TEXT PRIMARY KEY)');
  const counts = { commits: 0, pumps: 0 };
  const commits = new GroupCommit(db, {
    beforeCommit: () => void counts.commits++,
    afterCommit: () => void counts.pumps++,
    toError: (action, err) => new Error(`${action}: ${(err as Error).message}`),
  });
  const insert = (v: string) => commits.run(`insert ${v}`, () => db.prepare('INSERT INTO t (v) VALUES (?)').run(v).changes);
  const rows = () => db.prepare('SELECT v FROM t ORDER BY v').pluck().all();
  return { db, commits, counts, insert, rows };
}

test('writes queued in one turn share one commit, and each settles with its own result', async () => {
  const { counts, insert, rows } = setup();
  const results = await Promise.all([insert('a'), insert('b'), insert('c')]);
  assert.deepEqual(results, [1, 1, 1]);
  assert.equal(counts.commits, 1, 'one transaction for the three');
  assert.equal(counts.pumps, 1);
  assert.deepEqual(rows(), ['a', 'b', 'c']);
});

test('a write that throws is rolled back alone; the others in its batch commit', async () => {
  const { insert, rows } = setup();
  const outcomes = await Promise.allSettled([insert('a'), insert('a'), insert('b')]);
  assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /insert a: UNIQUE constraint failed/);
  assert.deepEqual(rows(), ['a', 'b']);
});

test('a write sees the writes queued before it, in arrival order', async () => {
  const { commits, db, insert } = setup();
  const seen = Promise.all([insert('x'), commits.run('count', () => db.prepare('SELECT COUNT(*) FROM t').pluck().get())]);
  assert.deepEqual(await seen, [1, 1]);
});

test('when the commit itself fails, every write of the batch fails and none is kept', async () => {
  const { commits, db, rows } = setup();
  // A deferred foreign key fails at COMMIT, after each write's savepoint succeeded.
  db.exec('PRAGMA foreign_keys = ON; CREATE TABLE child (p TEXT REFERENCES t (v) DEFERRABLE INITIALLY DEFERRED)');
  const ok = commits.run('insert', () => db.prepare('INSERT INTO t (v) VALUES (?)').run('kept?').changes);
  const broken = commits.run('orphan', () => db.prepare('INSERT INTO child (p) VALUES (?)').run('missing').changes);
  const outcomes = await Promise.allSettled([ok, broken]);
  assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected']);
  assert.deepEqual(rows(), []);
});

test('flush commits what is queued at once (as close does)', async () => {
  const { commits, insert, rows } = setup();
  const pending = insert('now');
  commits.flush();
  assert.deepEqual(rows(), ['now']);
  assert.equal(await pending, 1);
});
