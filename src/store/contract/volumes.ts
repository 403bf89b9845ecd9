import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { ChangeRecorder } from '../testing.ts';
import { sampleSnapshot, sampleVolume } from '../volume-samples.ts';
import { givenApp, rejectsWith, storeTest, type OpenStore } from './helpers.ts';

/** The contract for volumes and snapshots: create, read, list, update, and their changes. */
export function volumesContract(open: OpenStore): void {
  describe('volumes', () => {
    storeTest(open, 'createVolume returns the volume and getVolume reads it back', async (store) => {
      const app = await givenApp(store);
      const volume = sampleVolume({ appName: app.name, source: { kind: 'snapshot', id: 'vs_x' } });
      assert.deepEqual(await store.createVolume(volume), volume);
      assert.deepEqual(await store.getVolume(volume.id), volume);
      assert.equal(await store.getVolume('vol_nope'), undefined);
    });

    storeTest(open, 'createVolume in an unknown app throws APP_NOT_FOUND; a taken id STORE_CONFLICT', async (store) => {
      await rejectsWith(store.createVolume(sampleVolume({ appName: 'ghost' })), 'APP_NOT_FOUND', /ghost/);
      const app = await givenApp(store);
      const volume = await store.createVolume(sampleVolume({ appName: app.name }));
      await rejectsWith(store.createVolume(sampleVolume({ appName: app.name, id: volume.id })), 'STORE_CONFLICT', new RegExp(volume.id));
    });

    storeTest(open, 'listVolumes filters by app and host and hides destroyed ones unless asked', async (store) => {
      const a = await givenApp(store);
      const b = await givenApp(store);
      const v1 = await store.createVolume(sampleVolume({ appName: a.name, createdAt: 1 }));
      const v2 = await store.createVolume(sampleVolume({ appName: a.name, hostId: 'host-2', createdAt: 2 }));
      const gone = await store.createVolume(sampleVolume({ appName: a.name, state: 'destroyed', createdAt: 3 }));
      const other = await store.createVolume(sampleVolume({ appName: b.name, createdAt: 4 }));
      assert.deepEqual(await store.listVolumes({ appName: a.name }), [v1, v2]);
      assert.deepEqual(await store.listVolumes({ appName: a.name, includeDestroyed: true }), [v1, v2, gone]);
      assert.deepEqual(await store.listVolumes({ hostId: 'host-1' }), [v1, other]);
    });

    storeTest(open, 'updateVolume applies the patch and keeps id, app and createdAt', async (store) => {
      const app = await givenApp(store);
      const volume = await store.createVolume(sampleVolume({ appName: app.name, createdAt: 1, updatedAt: 1 }));
      const updated = await store.updateVolume(volume.id, { patch: { state: 'created', sizeGb: 3 }, expectState: ['creating'] });
      assert.equal(updated.state, 'created');
      assert.equal(updated.sizeGb, 3);
      assert.equal(updated.createdAt, 1);
      assert.ok(updated.updatedAt > 1);
      assert.deepEqual(await store.getVolume(volume.id), updated);
    });

    storeTest(open, 'updateVolume refuses an unexpected state, a changed attachment, and an unknown id', async (store) => {
      const app = await givenApp(store);
      const volume = await store.createVolume(sampleVolume({ appName: app.name }));
      await rejectsWith(
        store.updateVolume(volume.id, { action: 'extend', patch: { state: 'extending' }, expectState: ['created'] }),
        'VOLUME_ILLEGAL_STATE',
        /Cannot extend volume .* must be one of created: got creating/,
      );
      await store.updateVolume(volume.id, { patch: { attachedMachineId: 'm1' }, expectAttachedMachineId: null });
      await rejectsWith(
        store.updateVolume(volume.id, { action: 'attach', patch: { attachedMachineId: 'm2' }, expectAttachedMachineId: null }),
        'VOLUME_IN_USE',
        /got machine m1/,
      );
      await store.updateVolume(volume.id, { patch: { attachedMachineId: 'm2' }, expectAttachedMachineId: 'm1' });
      assert.equal((await store.getVolume(volume.id))?.attachedMachineId, 'm2');
      await rejectsWith(store.updateVolume('vol_nope', { patch: {} }), 'VOLUME_NOT_FOUND', /vol_nope/);
    });

    storeTest(open, 'snapshots: create, list newest first, update; unknown volume or snapshot throws', async (store) => {
      const app = await givenApp(store);
      const volume = await store.createVolume(sampleVolume({ appName: app.name }));
      const first = await store.createSnapshot(sampleSnapshot(volume, { createdAt: 1 }));
      const second = await store.createSnapshot(sampleSnapshot(volume, { createdAt: 2 }));
      assert.deepEqual(await store.listSnapshots(volume.id), [second, first]);
      const done = await store.updateSnapshot(first.id, { status: 'created', size: 4096, digest: 'sha256:abc' });
      assert.deepEqual(await store.getSnapshot(first.id), done);
      assert.equal(done.size, 4096);
      assert.deepEqual(await store.listSnapshots('vol_other'), []);
      await rejectsWith(store.createSnapshot(sampleSnapshot(sampleVolume())), 'VOLUME_NOT_FOUND');
      await rejectsWith(store.updateSnapshot('vs_nope', { status: 'failed' }), 'VOLUME_SNAPSHOT_NOT_FOUND', /vs_nope/);
    });

    storeTest(open, 'volume writes and new snapshots publish a volume put carrying the volume', async (store) => {
      const app = await givenApp(store);
      const recorder = new ChangeRecorder(store);
      const volume = await store.createVolume(sampleVolume({ appName: app.name }));
      await store.updateVolume(volume.id, { patch: { state: 'created' } });
      await store.createSnapshot(sampleSnapshot(volume));
      const changes = await recorder.waitFor((c) => c.filter((x) => x.kind === 'volume').length === 3);
      recorder.stop();
      const puts = changes.flatMap((c) => (c.kind === 'volume' && c.op === 'put' ? [c.volume] : []));
      assert.deepEqual(puts.map((v) => `${v.id} ${v.state}`), [`${volume.id} creating`, `${volume.id} created`, `${volume.id} created`]);
    });
  });
}
