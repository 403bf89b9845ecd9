import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Machine } from '../../model/index.ts';
import { sampleEvent, sampleMachine } from '../testing.ts';
import { givenApp, rejectsWith, storeTest, type OpenStore } from './helpers.ts';

/** The contract for machines: create, read, list with filters, update rules, delete. */
export function machinesContract(open: OpenStore): void {
  describe('machines', () => {
    storeTest(open, 'createMachine round-trips every field, config and addresses included', async (store) => {
      const app = await givenApp(store);
      const bare = sampleMachine({ appName: app.name });
      const full = sampleMachine({
        appName: app.name,
        state: 'started',
        addresses: { ipv6: 'fdaa:0:1:a7b:1::2', ipv4: '172.19.0.2' },
        config: { image: 'x:1', metadata: { role: 'web' }, mounts: [{ path: '/data', volume: 'vol_1' }], unknown_field: [1] },
      });
      assert.deepEqual(await store.createMachine(bare), bare);
      assert.deepEqual(await store.createMachine(full), full);
      assert.deepEqual(await store.getMachine(bare.id), bare);
      assert.deepEqual(await store.getMachine(full.id), full);
    });

    storeTest(open, 'getMachine of an unknown id is undefined', async (store) => {
      assert.equal(await store.getMachine('00000000000000'), undefined);
    });

    storeTest(open, 'createMachine stores its first events', async (store) => {
      const app = await givenApp(store);
      const first = sampleEvent({ type: 'launch', status: 'created', timestamp: 1 });
      const second = sampleEvent({ type: 'start', status: 'starting', timestamp: 2 });
      const m = await store.createMachine(sampleMachine({ appName: app.name }), [first, second]);
      assert.deepEqual(await store.listEvents(m.id), [second, first]);
    });

    storeTest(open, 'createMachine in an unknown app throws APP_NOT_FOUND and stores nothing', async (store) => {
      const m = sampleMachine({ appName: 'ghost' });
      await rejectsWith(store.createMachine(m), 'APP_NOT_FOUND', /ghost/);
      assert.equal(await store.getMachine(m.id), undefined);
    });

    storeTest(open, 'names are unique among an app’s live machines only', async (store) => {
      const app = await givenApp(store);
      const other = await givenApp(store);
      const first = await store.createMachine(sampleMachine({ appName: app.name, name: 'web' }));
      const clash = sampleMachine({ appName: app.name, name: 'web' });
      await rejectsWith(store.createMachine(clash, [sampleEvent()]), 'MACHINE_NAME_TAKEN', /web/);
      assert.equal(await store.getMachine(clash.id), undefined);
      assert.deepEqual(await store.listEvents(clash.id), []);
      // Another app may use it, and so may a machine once the first is destroyed.
      await store.createMachine(sampleMachine({ appName: other.name, name: 'web' }));
      await store.updateMachine(first.id, { patch: { state: 'destroyed' } });
      await store.createMachine(clash);
    });

    storeTest(open, 'updateMachine cannot rename onto a live machine’s name', async (store) => {
      const app = await givenApp(store);
      await store.createMachine(sampleMachine({ appName: app.name, name: 'web' }));
      const m = await store.createMachine(sampleMachine({ appName: app.name, name: 'worker' }));
      await rejectsWith(store.updateMachine(m.id, { patch: { name: 'web' } }), 'MACHINE_NAME_TAKEN');
      assert.equal((await store.getMachine(m.id))?.name, 'worker');
    });

    storeTest(open, 'listMachines filters by app, host and region and hides terminal states', async (store) => {
      const a = await givenApp(store);
      const b = await givenApp(store);
      const m1 = await store.createMachine(sampleMachine({ appName: a.name, hostId: 'h1', region: 'ams', createdAt: 1 }));
      const m2 = await store.createMachine(sampleMachine({ appName: a.name, hostId: 'h2', region: 'iad', createdAt: 2 }));
      const m3 = await store.createMachine(sampleMachine({ appName: b.name, hostId: 'h1', region: 'iad', createdAt: 3 }));
      const gone: Machine[] = [];
      for (const state of ['destroyed', 'replaced', 'migrated'] as const) {
        gone.push(await store.createMachine(sampleMachine({ appName: a.name, hostId: 'h1', state, createdAt: 4 })));
      }
      const ids = (ms: Machine[]): string[] => ms.map((m) => m.id).sort();
      assert.deepEqual(ids(await store.listMachines()), ids([m1, m2, m3]));
      assert.deepEqual(ids(await store.listMachines({ appName: a.name })), ids([m1, m2]));
      assert.deepEqual(ids(await store.listMachines({ hostId: 'h1' })), ids([m1, m3]));
      assert.deepEqual(ids(await store.listMachines({ region: 'iad' })), ids([m2, m3]));
      assert.deepEqual(ids(await store.listMachines({ appName: a.name, region: 'iad' })), ids([m2]));
      assert.deepEqual(ids(await store.listMachines({ appName: a.name, includeDestroyed: true })), ids([m1, m2, ...gone]));
      assert.deepEqual(await store.listMachines({ appName: 'ghost' }), []);
    });

    storeTest(open, 'updateMachine applies the patch, bumps version and updatedAt, appends events', async (store) => {
      const app = await givenApp(store);
      const m = await store.createMachine(sampleMachine({ appName: app.name, updatedAt: 0 }), [sampleEvent({ timestamp: 1 })]);
      const event = sampleEvent({ type: 'start', status: 'started', timestamp: 2 });
      const before = Date.now();
      const updated = await store.updateMachine(m.id, {
        patch: { state: 'started', addresses: { ipv6: 'fdaa::2', ipv4: '172.19.0.2' } },
        events: [event],
      });
      assert.equal(updated.state, 'started');
      assert.deepEqual(updated.addresses, { ipv6: 'fdaa::2', ipv4: '172.19.0.2' });
      assert.equal(updated.version, m.version + 1);
      assert.ok(updated.updatedAt >= before, `updatedAt ${updated.updatedAt} >= ${before}`);
      assert.equal(updated.createdAt, m.createdAt);
      assert.deepEqual(updated.config, m.config);
      assert.deepEqual(await store.getMachine(m.id), updated);
      assert.deepEqual((await store.listEvents(m.id))[0], event);
      const again = await store.updateMachine(m.id, {});
      assert.equal(again.version, m.version + 2);
    });

    storeTest(open, 'updateMachine keeps identity and bookkeeping fields out of the patch', async (store) => {
      const app = await givenApp(store);
      const m = await store.createMachine(sampleMachine({ appName: app.name }));
      // Callers outside TypeScript can send anything; the store must not let it through.
      const patch = { id: 'other', appName: 'other', version: 99, createdAt: 5, region: 'sin' } as unknown as Partial<Machine>;
      const updated = await store.updateMachine(m.id, { patch });
      assert.equal(updated.id, m.id);
      assert.equal(updated.appName, m.appName);
      assert.equal(updated.version, m.version + 1);
      assert.equal(updated.createdAt, m.createdAt);
      assert.equal(updated.region, 'sin');
    });

    storeTest(open, 'updateMachine of an unknown id throws MACHINE_NOT_FOUND', async (store) => {
      await rejectsWith(store.updateMachine('00000000000000', { patch: { state: 'started' } }), 'MACHINE_NOT_FOUND');
    });

    storeTest(open, 'updateMachine with a stale expectVersion throws STORE_CONFLICT and changes nothing', async (store) => {
      const app = await givenApp(store);
      const m = await store.createMachine(sampleMachine({ appName: app.name }));
      await store.updateMachine(m.id, { patch: { state: 'starting' }, expectVersion: m.version });
      const revision = await store.revision();
      await rejectsWith(
        store.updateMachine(m.id, { patch: { state: 'stopped' }, events: [sampleEvent()], expectVersion: m.version }),
        'STORE_CONFLICT',
      );
      const stored = await store.getMachine(m.id);
      assert.equal(stored?.state, 'starting');
      assert.equal(stored?.version, m.version + 1);
      assert.deepEqual(await store.listEvents(m.id), []);
      assert.equal(await store.revision(), revision);
    });

    storeTest(open, 'updateMachine with expectState throws ILLEGAL_TRANSITION naming the states', async (store) => {
      const app = await givenApp(store);
      const m = await store.createMachine(sampleMachine({ appName: app.name, state: 'created' }));
      await rejectsWith(
        store.updateMachine(m.id, { action: 'stop', patch: { state: 'stopping' }, expectState: ['started', 'stopped'] }),
        'ILLEGAL_TRANSITION',
        new RegExp(`^Cannot stop machine ${m.id} as its state must be one of started, stopped: got created$`),
      );
      await rejectsWith(
        store.updateMachine(m.id, { patch: { state: 'stopping' }, expectState: ['started'] }),
        'ILLEGAL_TRANSITION',
        /^Cannot update machine/,
      );
      assert.equal((await store.getMachine(m.id))?.version, m.version);
      const started = await store.updateMachine(m.id, { patch: { state: 'starting' }, expectState: ['created', 'stopped'] });
      assert.equal(started.state, 'starting');
    });

    storeTest(open, 'deleteMachine removes the record and its events', async (store) => {
      const app = await givenApp(store);
      const m = await store.createMachine(sampleMachine({ appName: app.name }), [sampleEvent()]);
      await store.deleteMachine(m.id);
      assert.equal(await store.getMachine(m.id), undefined);
      assert.deepEqual(await store.listEvents(m.id), []);
      await rejectsWith(store.deleteMachine(m.id), 'MACHINE_NOT_FOUND');
    });
  });
}
