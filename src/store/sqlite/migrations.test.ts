import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { isAloftError } from '../../lib/errors.ts';
import { appliedMigrations, migrate, MIGRATIONS } from './migrations.ts';
import { openSqliteStore } from './open-sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'aloft-migrations-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('migrate applies every step once and records it; a second run is a no-op', () => {
  const db = new Database(':memory:');
  assert.deepEqual(
    migrate(db),
    MIGRATIONS.map((m) => m.id),
  );
  assert.deepEqual(
    appliedMigrations(db),
    MIGRATIONS.map((m) => m.id),
  );
  assert.deepEqual(migrate(db), []);
  assert.deepEqual(
    appliedMigrations(db),
    MIGRATIONS.map((m) => m.id),
  );
  db.close();
});

test('migrate applies only the new steps of a longer list, in order', () => {
  const db = new Database(':memory:');
  migrate(db);
  const next = [...MIGRATIONS, { id: '9001-extra', sql: 'CREATE TABLE extra (x INTEGER)' }];
  assert.deepEqual(migrate(db, next), ['9001-extra']);
  assert.equal(appliedMigrations(db).at(-1), '9001-extra');
  db.close();
});

test('a failing step rolls back every step of that run', () => {
  const db = new Database(':memory:');
  const broken = [
    { id: '0001-ok', sql: 'CREATE TABLE ok (x INTEGER)' },
    { id: '0002-bad', sql: 'CREATE TABLE ok (x INTEGER)' },
  ];
  assert.throws(() => migrate(db, broken), /already exists/);
  assert.deepEqual(appliedMigrations(db), []);
  assert.equal(db.prepare("SELECT name FROM sqlite_master WHERE name = 'ok'").get(), undefined);
  db.close();
});

test('opening a database written by a newer aloft fails with STORE_FAILED naming the step', async () => {
  const path = join(dir, 'newer.db');
  await (await openSqliteStore({ path })).close();
  const db = new Database(path);
  db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)').run('0999-from-the-future', Date.now());
  db.close();
  await assert.rejects(openSqliteStore({ path }), (err: unknown) => {
    assert.ok(isAloftError(err, 'STORE_FAILED'));
    assert.match(err.message, /0999-from-the-future/);
    assert.match(err.message, /newer aloft/);
    return true;
  });
});

test('a store file is opened in WAL mode and records its schema version', async () => {
  const path = join(dir, 'wal.db');
  await (await openSqliteStore({ path })).close();
  const db = new Database(path, { readonly: true });
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.deepEqual(
    appliedMigrations(db),
    MIGRATIONS.map((m) => m.id),
  );
  db.close();
});

test('openSqliteStore wraps a file that is not a database in STORE_FAILED', async () => {
  const path = join(dir, 'garbage.db');
  writeFileSync(path, 'this is not a SQLite database, just some text long enough to look like a header');
  await assert.rejects(openSqliteStore({ path }), (err: unknown) => {
    assert.ok(isAloftError(err, 'STORE_FAILED'));
    assert.match(err.message, /garbage\.db/);
    return true;
  });
});
