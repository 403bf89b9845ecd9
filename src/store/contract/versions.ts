import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { sampleMachine } from '../testing.ts';
import { givenApp, storeTest, type OpenStore } from './helpers.ts';

/** The contract for machine versions (Fly's update history) and the cordon flag. */
export function versionsContract(open: OpenStore): void {
  describe('versions and cordon', () => {
    storeTest(open, 'create records the first version; an instance change replaces it; other writes do not', async (store) => {
      const app = await givenApp(store);
      const m = await store.createMachine(sampleMachine({ appName: app.name, instanceId: 'I1' }));
      assert.deepEqual((await store.listMachineVersions(m.id)).map((v) => [v.instanceId, v.replacedAt === undefined]), [['I1', true]]);
      await store.updateMachine(m.id, { patch: { state: 'starting' } });
      assert.equal((await store.listMachineVersions(m.id)).length, 1);
      const config = { ...m.config, env: { NEW: '1' } };
      await store.updateMachine(m.id, { patch: { instanceId: 'I2', config } });
      const versions = await store.listMachineVersions(m.id);
      assert.deepEqual(versions.map((v) => v.instanceId), ['I2', 'I1']);
      assert.deepEqual(versions[0]?.config, config);
      assert.equal(versions[0]?.replacedAt, undefined);
      assert.deepEqual(versions[1]?.config, m.config);
      assert.equal(typeof versions[1]?.replacedAt, 'number');
      assert.deepEqual(await store.listMachineVersions('00000000000000'), []);
    });

    storeTest(open, 'cordoned is kept, and absent again once cleared', async (store) => {
      const app = await givenApp(store);
      const m = await store.createMachine(sampleMachine({ appName: app.name }));
      assert.equal(m.cordoned, undefined);
      assert.equal((await store.updateMachine(m.id, { patch: { cordoned: true } })).cordoned, true);
      assert.equal((await store.getMachine(m.id))?.cordoned, true);
      await store.updateMachine(m.id, { patch: { cordoned: false } });
      assert.equal('cordoned' in (await store.getMachine(m.id))!, false);
    });
  });
}
