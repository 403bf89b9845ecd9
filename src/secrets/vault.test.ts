import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { isAloftError, type ErrorCode } from '../lib/errors.ts';
import { openSqliteStore } from '../store/index.ts';
import { sampleApp, sampleMachine } from '../store/testing.ts';
import { SecretVault } from './vault.ts';

const dir = mkdtempSync(join(tmpdir(), 'aloft-vault-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const rejectsCode = async (promise: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<void> => {
  await assert.rejects(promise, (err: unknown) => isAloftError(err, code) && message.test(err.message));
};

describe('SecretVault: sealing into the store and opening for a Machine', () => {
  test('values sealed for an app open again for its Machines; the org gets one data key; staged unsets are left out', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    const vault = new SecretVault(store, randomBytes(32));
    const app = await store.createApp(sampleApp());
    await store.writeSecrets(app.name, { set: await vault.seal(app, { A: 'alpha', B: 'bravo' }) });
    const key = await store.getOrgDataKey(app.orgSlug);
    assert.ok(key);
    const other = await store.createApp(sampleApp());
    await store.writeSecrets(other.name, { set: await vault.seal(other, { A: 'other' }) });
    assert.deepEqual(await store.getOrgDataKey(app.orgSlug), key, 'the second app of the org reuses its data key');
    const machine = sampleMachine({ appName: app.name });
    assert.deepEqual(await vault.envFor(machine), { A: 'alpha', B: 'bravo' });
    assert.deepEqual(await vault.envFor(sampleMachine({ appName: other.name })), { A: 'other' });
    await store.writeSecrets(app.name, { unset: ['B'] });
    assert.deepEqual(await vault.envFor(machine), { A: 'alpha' });
    assert.deepEqual(await vault.envFor(sampleMachine({ appName: 'gone' })), {});
    await store.close();
  });

  test('equal values in two apps of an org show the same digest; other orgs, another', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    await store.createOrg({ slug: 'acme', name: 'Acme', createdAt: 1 });
    const vault = new SecretVault(store, randomBytes(32));
    const [a, b, c] = [sampleApp(), sampleApp(), sampleApp({ orgSlug: 'acme' })];
    const digest = async (app: typeof a): Promise<string> => (await vault.seal(app, { K: 'same' }))[0]!.digest;
    assert.equal(await digest(a), await digest(b));
    assert.notEqual(await digest(a), await digest(c));
    await store.close();
  });

  test('bad names and values are refused before anything is stored', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    const vault = new SecretVault(store, randomBytes(32));
    const app = await store.createApp(sampleApp());
    await rejectsCode(vault.seal(app, { GOOD: 'x', 'BAD-NAME': 'hunter2' }), 'SECRET_INVALID', /'name' must be an environment variable name/);
    await rejectsCode(vault.seal(app, { EMPTY: '' }), 'SECRET_INVALID', /non-empty/);
    assert.equal(await store.getOrgDataKey(app.orgSlug), undefined);
    await store.close();
  });

  test('another platform key cannot open the org key: SECRETS_KEY_INVALID naming both key ids', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    const app = await store.createApp(sampleApp());
    await store.writeSecrets(app.name, { set: await new SecretVault(store, randomBytes(32)).seal(app, { A: 'alpha' }) });
    await rejectsCode(new SecretVault(store, randomBytes(32)).envFor(sampleMachine({ appName: app.name })), 'SECRETS_KEY_INVALID', /must be wrapped under this platform's secrets key \(id [0-9a-f]{16}\): got one wrapped under key id [0-9a-f]{16}/);
    await store.close();
  });

  test('rows swapped between names or apps in the database file fail to open (SECRET_DECRYPT_FAILED)', async () => {
    const path = join(dir, `swap-${++files}.db`);
    const store = await openSqliteStore({ path });
    const vault = new SecretVault(store, randomBytes(32));
    const web = await store.createApp(sampleApp());
    const api = await store.createApp(sampleApp());
    await store.writeSecrets(web.name, { set: await vault.seal(web, { ADMIN_PASSWORD: 'web-admin', PUBLIC_NAME: 'web' }) });
    await store.writeSecrets(api.name, { set: await vault.seal(api, { PUBLIC_NAME: 'api' }) });

    // An attacker with write access to the file moves ciphertexts around.
    const db = new Database(path);
    const row = (app: string, name: string) => db.prepare<[string, string], { ciphertext: Buffer; nonce: Buffer }>('SELECT ciphertext, nonce FROM secrets WHERE app_name = ? AND name = ?').get(app, name)!;
    const put = (app: string, name: string, from: { ciphertext: Buffer; nonce: Buffer }) => db.prepare('UPDATE secrets SET ciphertext = ?, nonce = ? WHERE app_name = ? AND name = ?').run(from.ciphertext, from.nonce, app, name);
    put(web.name, 'PUBLIC_NAME', row(web.name, 'ADMIN_PASSWORD'));
    db.close();
    await rejectsCode(vault.envFor(sampleMachine({ appName: web.name })), 'SECRET_DECRYPT_FAILED', /Cannot open secret PUBLIC_NAME of app/);

    const db2 = new Database(path);
    const adminOfWeb = db2.prepare<[string], { ciphertext: Buffer; nonce: Buffer }>("SELECT ciphertext, nonce FROM secrets WHERE app_name = ? AND name = 'ADMIN_PASSWORD'").get(web.name)!;
    db2.prepare("UPDATE secrets SET ciphertext = ?, nonce = ? WHERE app_name = ? AND name = 'PUBLIC_NAME'").run(adminOfWeb.ciphertext, adminOfWeb.nonce, api.name);
    db2.close();
    await rejectsCode(vault.envFor(sampleMachine({ appName: api.name })), 'SECRET_DECRYPT_FAILED', new RegExp(`PUBLIC_NAME of app "${api.name}"`));
    await store.close();
  });
});
