import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { ChangeRecorder, sampleApp, sampleEvent, sampleMachine } from '../testing.ts';
import { givenApp, rejectsWith, storeTest, type OpenStore } from './helpers.ts';

/** The contract for apps: create, read, list, delete (with its machines and events). */
export function appsContract(open: OpenStore): void {
  describe('apps', () => {
    storeTest(open, 'createApp returns the app and getApp reads it back', async (store) => {
      const app = sampleApp({ status: 'deployed' });
      assert.deepEqual(await store.createApp(app), app);
      assert.deepEqual(await store.getApp(app.name), app);
    });

    storeTest(open, 'getApp of an unknown name is undefined', async (store) => {
      assert.equal(await store.getApp('nope'), undefined);
    });

    storeTest(open, 'createApp with a taken name throws APP_EXISTS and changes nothing', async (store) => {
      const app = await givenApp(store);
      const before = await store.revision();
      await rejectsWith(store.createApp(sampleApp({ name: app.name, orgSlug: 'other' })), 'APP_EXISTS', new RegExp(app.name));
      assert.equal(await store.revision(), before);
      assert.deepEqual(await store.getApp(app.name), app);
    });

    storeTest(open, 'listApps lists by name and filters by org', async (store) => {
      const b = await givenApp(store, { name: 'bravo', orgSlug: 'acme' });
      const a = await givenApp(store, { name: 'alpha', orgSlug: 'personal' });
      const c = await givenApp(store, { name: 'charlie', orgSlug: 'acme' });
      assert.deepEqual(await store.listApps(), [a, b, c]);
      assert.deepEqual(await store.listApps({ orgSlug: 'acme' }), [b, c]);
      assert.deepEqual(await store.listApps({ orgSlug: 'nobody' }), []);
    });

    storeTest(open, 'deleteApp of an unknown name throws APP_NOT_FOUND', async (store) => {
      await rejectsWith(store.deleteApp('ghost'), 'APP_NOT_FOUND', /ghost/);
    });

    storeTest(open, 'deleteApp removes the app, its machines and their events, and leaves others', async (store) => {
      const app = await givenApp(store);
      const other = await givenApp(store);
      const m1 = await store.createMachine(sampleMachine({ appName: app.name }), [sampleEvent()]);
      const m2 = await store.createMachine(sampleMachine({ appName: app.name, state: 'destroyed' }));
      const kept = await store.createMachine(sampleMachine({ appName: other.name }), [sampleEvent()]);
      await store.deleteApp(app.name);
      assert.equal(await store.getApp(app.name), undefined);
      assert.equal(await store.getMachine(m1.id), undefined);
      assert.equal(await store.getMachine(m2.id), undefined);
      assert.deepEqual(await store.listEvents(m1.id), []);
      assert.deepEqual(await store.listMachines({ appName: app.name, includeDestroyed: true }), []);
      assert.deepEqual(await store.getMachine(kept.id), kept);
      assert.equal((await store.listEvents(kept.id)).length, 1);
      // The name is free again.
      await store.createApp(sampleApp({ name: app.name }));
    });

    storeTest(open, 'deleteApp publishes a delete for each machine, then for the app', async (store) => {
      const app = await givenApp(store);
      const m1 = await store.createMachine(sampleMachine({ appName: app.name }));
      const m2 = await store.createMachine(sampleMachine({ appName: app.name, state: 'destroyed' }));
      const recorder = new ChangeRecorder(store);
      await store.deleteApp(app.name);
      const changes = await recorder.waitFor((c) => c.some((x) => x.kind === 'app'));
      recorder.stop();
      const described = changes.map((c) => `${c.kind} ${c.op} ${c.key}`);
      // Machines may go in any order; the app's own delete comes last.
      assert.equal(described.at(-1), `app delete ${app.name}`);
      assert.deepEqual(described.slice(0, -1).sort(), [`machine delete ${m1.id}`, `machine delete ${m2.id}`].sort());
    });
  });
}
