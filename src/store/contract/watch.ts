import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import type { Change } from '../store.ts';
import { ChangeRecorder, describeChange, sampleApp, sampleMachine } from '../testing.ts';
import { givenApp, storeTest, type OpenStore } from './helpers.ts';

/** The contract for revisions and watch: order, payloads, replay, and isolation of listeners. */
export function watchContract(open: OpenStore): void {
  describe('revision and watch', () => {
    storeTest(open, 'every app and machine write raises the revision', async (store) => {
      let last = await store.revision();
      const raised = async (what: string, write: () => Promise<unknown>): Promise<void> => {
        await write();
        const now = await store.revision();
        assert.ok(now > last, `${what}: revision ${now} > ${last}`);
        last = now;
      };
      const app = sampleApp();
      const m = sampleMachine({ appName: app.name });
      await raised('createApp', () => store.createApp(app));
      await raised('createMachine', () => store.createMachine(m));
      await raised('updateMachine', () => store.updateMachine(m.id, { patch: { state: 'started' } }));
      await raised('deleteMachine', () => store.deleteMachine(m.id));
      await raised('deleteApp', () => store.deleteApp(app.name));
    });

    storeTest(open, 'a watch sees each write as a change with its record, in revision order', async (store) => {
      const recorder = new ChangeRecorder(store);
      const app = await givenApp(store);
      const created = await store.createMachine(sampleMachine({ appName: app.name }));
      const updated = await store.updateMachine(created.id, { patch: { state: 'started' } });
      await store.deleteMachine(created.id);
      await store.deleteApp(app.name);
      const head = await store.revision();
      const changes = await recorder.waitForRevision(head);
      recorder.stop();
      assert.deepEqual(strip(changes), [
        { kind: 'app', op: 'put', key: app.name, app },
        { kind: 'machine', op: 'put', key: created.id, machine: created },
        { kind: 'machine', op: 'put', key: created.id, machine: updated },
        { kind: 'machine', op: 'delete', key: created.id },
        { kind: 'app', op: 'delete', key: app.name },
      ]);
      assertIncreasing(changes);
      assert.equal(changes.at(-1)?.revision, head);
    });

    storeTest(open, 'a watch without fromRevision sees only later changes', async (store) => {
      await givenApp(store);
      const recorder = new ChangeRecorder(store);
      const later = await givenApp(store);
      const changes = await recorder.waitForRevision(await store.revision());
      recorder.stop();
      assert.deepEqual(
        changes.map((c) => c.key),
        [later.name],
      );
    });

    storeTest(open, 'a watch from a revision replays what came after it, then goes on live', async (store) => {
      const everything = new ChangeRecorder(store);
      await givenApp(store);
      const from = await store.revision();
      const app = await givenApp(store);
      await store.createMachine(sampleMachine({ appName: app.name }));
      const resumed = new ChangeRecorder(store, { fromRevision: from });
      await store.setMeta('unrelated', 'x');
      await givenApp(store);
      const head = await store.revision();
      const all = await everything.waitForRevision(head);
      const got = await resumed.waitForRevision(head);
      everything.stop();
      resumed.stop();
      assert.deepEqual(got.map(describeChange), all.filter((c) => c.revision > from).map(describeChange));
      assert.equal(got.length, 3);
    });

    storeTest(open, 'a resumed watch has no gap and no repeat while writes land during its replay', async (store) => {
      const everything = new ChangeRecorder(store);
      const app = await givenApp(store);
      for (let i = 0; i < 20; i++) await store.createMachine(sampleMachine({ appName: app.name }));
      const from = (await store.revision()) - 15;
      let listenerWrite: Promise<unknown> | undefined;
      const replaying = new ChangeRecorder(store, {
        fromRevision: from,
        // Write from inside the replay, as an agent reacting to a change would.
        onChange: () => {
          listenerWrite ??= store.createMachine(sampleMachine({ appName: app.name }));
        },
      });
      // And write from outside, before the replay has had a chance to run.
      const writes = Array.from({ length: 5 }, () => store.createMachine(sampleMachine({ appName: app.name })));
      await Promise.all(writes);
      await replaying.waitFor(() => listenerWrite !== undefined);
      await listenerWrite;
      const head = await store.revision();
      const all = await everything.waitForRevision(head);
      const got = await replaying.waitForRevision(head);
      const resumed = new ChangeRecorder(store, { fromRevision: from });
      await resumed.waitForRevision(head);
      everything.stop();
      replaying.stop();
      resumed.stop();
      const expected = all.filter((c) => c.revision > from).map(describeChange);
      assert.equal(expected.length, 21);
      assert.deepEqual(got.map(describeChange), expected);
      assert.deepEqual(resumed.changes.map(describeChange), expected);
    });

    storeTest(open, 'stopping a watch ends its delivery', async (store) => {
      const stopped = new ChangeRecorder(store);
      const other = new ChangeRecorder(store);
      await givenApp(store);
      await stopped.waitFor((c) => c.length === 1);
      stopped.stop();
      await givenApp(store);
      await other.waitFor((c) => c.length === 2);
      other.stop();
      assert.equal(stopped.changes.length, 1);
    });

    storeTest(open, 'a listener that throws breaks neither the others nor the store', async (store) => {
      const stopBad = store.watch(() => {
        throw new Error('listener bug');
      });
      const good = new ChangeRecorder(store);
      const a = await givenApp(store);
      const b = await givenApp(store);
      const changes = await good.waitFor((c) => c.length === 2);
      assert.deepEqual(
        changes.map((c) => c.key),
        [a.name, b.name],
      );
      assert.deepEqual(await store.getApp(b.name), b);
      stopBad();
      good.stop();
    });

    storeTest(open, 'a failed write publishes nothing', async (store) => {
      const app = await givenApp(store);
      const recorder = new ChangeRecorder(store);
      await assert.rejects(store.createApp(sampleApp({ name: app.name })));
      await assert.rejects(store.deleteApp('ghost'));
      await assert.rejects(store.createMachine(sampleMachine({ appName: 'ghost' })));
      const last = await givenApp(store);
      const changes = await recorder.waitFor((c) => c.length >= 1);
      recorder.stop();
      assert.deepEqual(
        changes.map((c) => c.key),
        [last.name],
      );
    });

    storeTest(open, 'watch rejects a negative fromRevision', async (store) => {
      assert.throws(
        () => store.watch(() => {}, { fromRevision: -1 }),
        (err: unknown) => isAloftError(err, 'INVALID_ARGUMENT'),
      );
    });
  });
}

/** Changes without their revisions, which differ between implementations. */
function strip(changes: readonly Change[]): Omit<Change, 'revision'>[] {
  return changes.map(({ revision: _revision, ...rest }) => rest);
}

function assertIncreasing(changes: readonly Change[]): void {
  for (let i = 1; i < changes.length; i++) {
    assert.ok(changes[i]!.revision > changes[i - 1]!.revision, `revisions increase: ${changes.map(describeChange).join(', ')}`);
  }
}
