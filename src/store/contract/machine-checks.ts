import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { MachineCheckStatus } from '../../model/index.ts';
import type { Change } from '../store.ts';
import { sampleMachine } from '../testing.ts';
import { givenApp, storeTest, type OpenStore } from './helpers.ts';

/** The contract for a Machine's check statuses (Machine.checks): stored, replaced, watched. */
export function machineChecksContract(open: OpenStore): void {
  describe('machine checks', () => {
    const passing: MachineCheckStatus = { name: 'alive', status: 'passing', output: 'Success', updatedAt: 1_700_000_000_000 };
    const critical: MachineCheckStatus = { name: 'servicecheck-00-http-8080', status: 'critical', output: '500 Internal Server Error: “down” ✗', updatedAt: 1_700_000_000_001 };

    storeTest(open, 'a Machine without checks has none; check statuses round-trip through create, update, get and list', async (store) => {
      const app = await givenApp(store);
      const bare = await store.createMachine(sampleMachine({ appName: app.name }));
      assert.equal((await store.getMachine(bare.id))!.checks, undefined);
      const withChecks = await store.createMachine(sampleMachine({ appName: app.name, state: 'started', checks: [passing] }));
      assert.deepEqual((await store.getMachine(withChecks.id))!.checks, [passing]);
      const updated = await store.updateMachine(withChecks.id, { patch: { checks: [passing, critical] }, expectState: ['started'] });
      assert.deepEqual(updated.checks, [passing, critical]);
      assert.deepEqual((await store.getMachine(withChecks.id))!.checks, [passing, critical]);
      const listed = await store.listMachines({ appName: app.name });
      assert.deepEqual(listed.find((m) => m.id === withChecks.id)!.checks, [passing, critical]);
      // An empty list is kept as empty (a Machine whose config lost its checks), not dropped.
      await store.updateMachine(withChecks.id, { patch: { checks: [] } });
      assert.deepEqual((await store.getMachine(withChecks.id))!.checks, []);
      // Other writes leave the statuses alone.
      await store.updateMachine(withChecks.id, { patch: { checks: [critical] } });
      await store.updateMachine(withChecks.id, { patch: { state: 'stopping' } });
      assert.deepEqual((await store.getMachine(withChecks.id))!.checks, [critical]);
    });

    storeTest(open, 'a check status change is published as a machine put carrying the statuses', async (store) => {
      const app = await givenApp(store);
      const m = await store.createMachine(sampleMachine({ appName: app.name, state: 'started' }));
      const seen: Change[] = [];
      const got = new Promise<void>((resolve) => {
        const stop = store.watch((change) => {
          seen.push(change);
          stop();
          resolve();
        });
      });
      await store.updateMachine(m.id, { patch: { checks: [critical] } });
      await got;
      const [change] = seen;
      assert.ok(change?.kind === 'machine' && change.op === 'put');
      assert.deepEqual(change.machine.checks, [critical]);
    });
  });
}
