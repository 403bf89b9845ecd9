import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { sampleEvent, sampleMachine } from '../testing.ts';
import { givenApp, rejectsWith, storeTest, type OpenStore } from './helpers.ts';

/** The contract for machine events, meta values and sequences. */
export function eventsAndMetaContract(open: OpenStore): void {
  describe('events', () => {
    storeTest(open, 'listEvents is newest first and honours limit', async (store) => {
      const app = await givenApp(store);
      const m = await store.createMachine(sampleMachine({ appName: app.name }));
      const events = [1, 2, 3, 4].map((t) => sampleEvent({ timestamp: t, request: { n: t } }));
      for (const event of events) await store.appendEvent(m.id, event);
      assert.deepEqual(await store.listEvents(m.id), [...events].reverse());
      assert.deepEqual(await store.listEvents(m.id, { limit: 2 }), [events[3], events[2]]);
      assert.deepEqual(await store.listEvents(m.id, { limit: 0 }), []);
    });

    storeTest(open, 'events belong to their machine', async (store) => {
      const app = await givenApp(store);
      const a = await store.createMachine(sampleMachine({ appName: app.name }));
      const b = await store.createMachine(sampleMachine({ appName: app.name }));
      const event = sampleEvent();
      await store.appendEvent(a.id, event);
      assert.deepEqual(await store.listEvents(a.id), [event]);
      assert.deepEqual(await store.listEvents(b.id), []);
    });

    storeTest(open, 'appendEvent to an unknown machine throws MACHINE_NOT_FOUND', async (store) => {
      await rejectsWith(store.appendEvent('00000000000000', sampleEvent()), 'MACHINE_NOT_FOUND');
    });

    storeTest(open, 'listEvents of an unknown machine is empty', async (store) => {
      assert.deepEqual(await store.listEvents('00000000000000'), []);
    });
  });

  describe('meta and sequences', () => {
    storeTest(open, 'getMeta is undefined until setMeta, which overwrites', async (store) => {
      assert.equal(await store.getMeta('hosts/h1'), undefined);
      await store.setMeta('hosts/h1', '{"region":"ams"}');
      assert.equal(await store.getMeta('hosts/h1'), '{"region":"ams"}');
      await store.setMeta('hosts/h1', '');
      assert.equal(await store.getMeta('hosts/h1'), '');
    });

    storeTest(open, 'nextSequence starts at 1 and counts each name on its own', async (store) => {
      assert.equal(await store.nextSequence('a'), 1);
      assert.equal(await store.nextSequence('a'), 2);
      assert.equal(await store.nextSequence('b'), 1);
      assert.equal(await store.nextSequence('a'), 3);
    });

    storeTest(open, 'nextSequence never hands out a number twice, even when called at once', async (store) => {
      const values = await Promise.all(Array.from({ length: 50 }, () => store.nextSequence('ip')));
      assert.deepEqual(
        [...values].sort((x, y) => x - y),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
    });
  });
}
