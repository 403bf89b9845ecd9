import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { createApiApp } from '../api/server.ts';
import { fakeImages as images } from '../api/testing/fake-images.ts';
import { machineEvent } from '../model/index.ts';
import { singleHostScheduler } from '../scheduler/testing.ts';
import { openSqliteStore } from '../store/index.ts';
import { sampleMachine } from '../store/testing.ts';
import { FakeAgent } from './testing.ts';
import { SecretVault } from './vault.ts';

const TOKEN = 'test-token';
const dir = mkdtempSync(join(tmpdir(), 'aloft-at-rest-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Distinct, unguessable plaintexts, so a hit can only be a leak. */
const PLAIN = {
  DATABASE_URL: `postgres://app:${randomBytes(12).toString('hex')}@db.internal/app`,
  STRIPE_KEY: `sk_live_${randomBytes(12).toString('hex')}`,
  PEM: `-----BEGIN KEY-----\n${randomBytes(48).toString('base64')}\n-----END KEY-----`,
};
/** Sent only in rejected requests: they must not be kept or logged either. */
const REFUSED = `refused-${randomBytes(12).toString('hex')}`;

/** Every form a plaintext could take in a file: UTF-8, UTF-16, hex and base64. */
function forms(value: string): Buffer[] {
  const utf8 = Buffer.from(value, 'utf8');
  return [utf8, Buffer.from(value, 'utf16le'), Buffer.from(utf8.toString('hex')), Buffer.from(utf8.toString('base64'))];
}

function assertAbsent(path: string, what: string): void {
  const bytes = readFileSync(path);
  for (const value of [...Object.values(PLAIN), REFUSED]) {
    // A line of the PEM is what a partial leak would show; each is long enough to be unique.
    for (const piece of [value, ...value.split('\n').filter((line) => line.length >= 24)]) {
      for (const form of forms(piece)) assert.equal(bytes.includes(form), false, `${what} (${path}) holds a plaintext`);
    }
  }
}

describe('secrets at rest: no plaintext in the SQLite files or the logs', () => {
  test('after set, staged set, list, deploy, unset and refused requests, the db, its -wal and a trace-level log hold no plaintext', async () => {
    const dbPath = join(dir, 'aloft.db');
    const logPath = join(dir, 'platform.log');
    const log = pino({ level: 'trace' }, pino.destination({ dest: logPath, sync: true }));
    const store = await openSqliteStore({ path: dbPath, logger: log });
    const vault = new SecretVault(store, randomBytes(32));
    const agent = new FakeAgent(store, { secrets: vault });
    const api = createApiApp({ store, images, scheduler: singleHostScheduler(), token: TOKEN, rateLimits: false, secretVault: vault, log });
    const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> => {
      const response = await api.request(`/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await response.text();
      log.info({ method, path, status: response.status, response: text }, 'test: answer');
      return { status: response.status, text };
    };

    assert.equal((await call('POST', '/apps', { app_name: 'web' })).status, 201);
    await store.createMachine(sampleMachine({ appName: 'web', state: 'started' }), [machineEvent('launch', 'created', 'user')]);
    assert.equal((await call('POST', '/apps/web/secrets', { secrets: { DATABASE_URL: PLAIN.DATABASE_URL, PEM: PLAIN.PEM } })).status, 200);
    assert.equal((await call('POST', '/apps/web/secrets', { secrets: { STRIPE_KEY: PLAIN.STRIPE_KEY }, stage: true })).status, 200);
    assert.equal((await call('GET', '/apps/web/secrets')).status, 200);
    assert.equal((await call('POST', '/apps/web/secrets/deploy')).status, 200);
    assert.equal((await call('POST', '/apps/web/secrets', { secrets: { TEMP: REFUSED }, stage: true })).status, 200);
    assert.equal((await call('DELETE', '/apps/web/secrets/TEMP')).status, 200);
    assert.equal((await call('POST', '/apps/web/secrets', { secrets: { 'BAD NAME': REFUSED } })).status, 400);
    assert.equal((await call('POST', '/apps/web/secrets', { secrets: { NUL: `${REFUSED}\0` } })).status, 400);
    assert.equal((await call('POST', '/apps/web/secrets', `{"secrets": {"X": "${REFUSED}"`)).status, 400);
    assert.equal((await call('POST', '/apps/web/secrets', { secrets: { X: REFUSED }, stage: 'nope' })).status, 400);

    // Not vacuous: the Machines got the values, and the files do hold what is not secret.
    assert.deepEqual(agent.boots.at(-1)?.env, { DATABASE_URL: PLAIN.DATABASE_URL, PEM: PLAIN.PEM, STRIPE_KEY: PLAIN.STRIPE_KEY });
    agent.stop();
    const wal = `${dbPath}-wal`;
    assert.ok(existsSync(wal) && statSync(wal).size > 0, 'the writes are still in the -wal file');
    const stored = Buffer.concat([readFileSync(dbPath), readFileSync(wal)]);
    assert.ok(stored.includes(Buffer.from('STRIPE_KEY')), 'secret names are stored in the clear (the search works)');
    assert.ok(readFileSync(logPath, 'utf8').includes('test: answer'), 'the log was written');

    assertAbsent(dbPath, 'the database');
    assertAbsent(wal, 'the write-ahead log');
    assertAbsent(logPath, 'the log');
    await store.close(); // checkpoints the -wal into the database file
    assertAbsent(dbPath, 'the database after its checkpoint');
    log.flush();
    assertAbsent(logPath, 'the log');
  });
});
