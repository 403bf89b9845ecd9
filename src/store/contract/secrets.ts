import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { SealedSecret } from '../secret-store.ts';
import { givenApp, rejectsWith, storeTest, type OpenStore } from './helpers.ts';

let counter = 0;

/** Opaque sealed bytes: the store never looks inside them. */
function sealed(tag = `v${++counter}`): SealedSecret {
  return { ciphertext: Buffer.from(`cipher-${tag}`), nonce: Buffer.alloc(12, counter), digest: `digest-${tag}`.padEnd(16, '0').slice(0, 16) };
}

/** App secrets: wrapped org keys, staged writes, unsets, deploy marks, validation. */
export function secretsContract(open: OpenStore): void {
  describe('secrets', () => {
    storeTest(open, "an org's data key is stored once: the first writer's key is what every caller gets", async (store) => {
      assert.equal(await store.getOrgDataKey('personal'), undefined);
      const first = { orgSlug: 'personal', wrapped: Buffer.from('first'), keyId: 'k1', createdAt: 1 };
      assert.deepEqual(await store.putOrgDataKey(first), first);
      assert.deepEqual(await store.putOrgDataKey({ ...first, wrapped: Buffer.from('second'), createdAt: 2 }), first);
      assert.deepEqual(await store.getOrgDataKey('personal'), first);
    });

    storeTest(open, 'set secrets are staged, listed by name with their sealed bytes, and keep createdAt when set again', async (store) => {
      const app = await givenApp(store);
      const a = sealed();
      const listed = await store.writeSecrets(app.name, { set: [{ name: 'DB_URL', ...a }, { name: 'API_KEY', ...sealed() }] });
      assert.deepEqual(listed.map((s) => [s.name, s.status]), [['API_KEY', 'staged'], ['DB_URL', 'staged']]);
      const db = listed.find((s) => s.name === 'DB_URL')!;
      assert.deepEqual(db.sealed, a);
      assert.equal(db.appName, app.name);
      const b = sealed();
      const again = (await store.writeSecrets(app.name, { set: [{ name: 'DB_URL', ...b }] })).find((s) => s.name === 'DB_URL')!;
      assert.deepEqual(again.sealed, b);
      assert.equal(again.createdAt, db.createdAt);
      assert.ok(again.updatedAt > db.updatedAt, 'every write moves updatedAt forward');
      assert.deepEqual(await store.listSecrets(app.name), await store.listSecrets(app.name));
      assert.deepEqual(await store.listSecrets('no-such-app'), []);
    });

    storeTest(open, 'marking deployed covers only what the rollout saw; a staged unset is then removed', async (store) => {
      const app = await givenApp(store);
      const before = await store.writeSecrets(app.name, { set: [{ name: 'A', ...sealed() }, { name: 'B', ...sealed() }] });
      const seen = before.map((s) => ({ name: s.name, updatedAt: s.updatedAt }));
      // B is written again while the rollout runs: it must stay staged.
      await store.writeSecrets(app.name, { set: [{ name: 'B', ...sealed() }] });
      const after = await store.markSecretsDeployed(app.name, seen);
      assert.deepEqual(after.map((s) => [s.name, s.status]), [['A', 'deployed'], ['B', 'staged']]);

      const unset = await store.writeSecrets(app.name, { unset: ['A'] });
      const a = unset.find((s) => s.name === 'A')!;
      assert.equal(a.status, 'staged_unset');
      assert.equal(a.sealed, undefined, 'an unset drops the value at once');
      const done = await store.markSecretsDeployed(app.name, unset.map((s) => ({ name: s.name, updatedAt: s.updatedAt })));
      assert.deepEqual(done.map((s) => [s.name, s.status]), [['B', 'deployed']]);
    });

    storeTest(open, 'an unset of a missing name changes nothing (SECRET_NOT_FOUND); a staged unset can be set again', async (store) => {
      const app = await givenApp(store);
      await store.writeSecrets(app.name, { set: [{ name: 'KEEP', ...sealed() }] });
      await rejectsWith(store.writeSecrets(app.name, { set: [{ name: 'NEW', ...sealed() }], unset: ['KEEP', 'NOPE'] }), 'SECRET_NOT_FOUND', /NOPE/);
      assert.deepEqual((await store.listSecrets(app.name)).map((s) => [s.name, s.status]), [['KEEP', 'staged']]);
      await store.writeSecrets(app.name, { unset: ['KEEP'] });
      const back = await store.writeSecrets(app.name, { set: [{ name: 'KEEP', ...sealed() }] });
      assert.deepEqual(back.map((s) => [s.name, s.status, s.sealed !== undefined]), [['KEEP', 'staged', true]]);
    });

    storeTest(open, 'names follow Fly\'s rule; a name both set and unset, or an unknown app, is refused', async (store) => {
      const app = await givenApp(store);
      for (const name of ['1ABC', 'A-B', 'A B', '', 'FLY_REGION', 'É']) {
        await rejectsWith(store.writeSecrets(app.name, { set: [{ name, ...sealed() }] }), 'SECRET_INVALID', /'name' must/);
      }
      await rejectsWith(store.writeSecrets(app.name, { set: [{ name: 'X', ...sealed() }], unset: ['X'] }), 'SECRET_INVALID', /either set or unset/);
      await rejectsWith(store.writeSecrets('no-such-app', { set: [{ name: 'X', ...sealed() }] }), 'APP_NOT_FOUND');
      assert.deepEqual(await store.listSecrets(app.name), []);
      await store.writeSecrets(app.name, { set: [{ name: '_lower_ok1', ...sealed() }, { name: 'fly_lowercase', ...sealed() }] });
    });

    storeTest(open, "secrets go with their app, and are each app's own", async (store) => {
      const web = await givenApp(store);
      const api = await givenApp(store);
      await store.writeSecrets(web.name, { set: [{ name: 'ONLY_WEB', ...sealed() }] });
      assert.deepEqual(await store.listSecrets(api.name), []);
      await store.deleteApp(web.name);
      await store.createApp({ ...web });
      assert.deepEqual(await store.listSecrets(web.name), []);
    });
  });
}
