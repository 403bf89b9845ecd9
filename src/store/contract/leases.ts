import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import type { Store } from '../store.ts';
import { sampleMachine } from '../testing.ts';
import { givenApp, rejectsWith, storeTest, type OpenStore } from './helpers.ts';

const T0 = 1_700_000_000_000;

async function givenMachine(store: Store): Promise<string> {
  const app = await givenApp(store);
  return (await store.createMachine(sampleMachine({ appName: app.name }))).id;
}

function request(machineId: string, overrides: { newNonce?: string; heldNonce?: string; now?: number; ttlMs?: number; owner?: string } = {}) {
  return { machineId, newNonce: 'n1', owner: 'alice', description: 'deploy', ttlMs: 30_000, now: T0, ...overrides };
}

/** Leases: acquire, refresh with the nonce, conflicts, expiry at use, release. */
export function leasesContract(open: OpenStore): void {
  describe('leases', () => {
    storeTest(open, 'acquiring a free machine records the lease with its app and version', async (store) => {
      const id = await givenMachine(store);
      const lease = await store.acquireLease(request(id));
      assert.deepEqual(
        { ...lease },
        { machineId: id, appName: lease.appName, nonce: 'n1', owner: 'alice', description: 'deploy', expiresAt: T0 + 30_000, machineVersion: 1 },
      );
      assert.deepEqual(await store.getLease(id, T0 + 1), lease);
    });

    storeTest(open, 'a second acquirer is refused with MACHINE_LEASED naming the holder', async (store) => {
      const id = await givenMachine(store);
      await store.acquireLease(request(id));
      await rejectsWith(store.acquireLease(request(id, { newNonce: 'n2', owner: 'bob' })), 'MACHINE_LEASED', /held by alice/);
      await rejectsWith(store.acquireLease(request(id, { newNonce: 'n2', heldNonce: 'wrong' })), 'MACHINE_LEASED');
    });

    storeTest(open, 'the holder refreshes with its nonce: same nonce, later expiry', async (store) => {
      const id = await givenMachine(store);
      await store.acquireLease(request(id));
      const refreshed = await store.acquireLease(request(id, { newNonce: 'ignored', heldNonce: 'n1', now: T0 + 10_000 }));
      assert.equal(refreshed.nonce, 'n1');
      assert.equal(refreshed.expiresAt, T0 + 40_000);
    });

    storeTest(open, 'an expired lease is gone at use: not shown, and anyone may take the machine', async (store) => {
      const id = await givenMachine(store);
      await store.acquireLease(request(id));
      assert.equal(await store.getLease(id, T0 + 30_000), undefined);
      const next = await store.acquireLease(request(id, { newNonce: 'n2', owner: 'bob', now: T0 + 30_000 }));
      assert.equal(next.nonce, 'n2');
      assert.equal(next.owner, 'bob');
    });

    storeTest(open, 'release needs the nonce; then the machine is free', async (store) => {
      const id = await givenMachine(store);
      await store.acquireLease(request(id));
      await rejectsWith(store.releaseLease(id, 'wrong', T0), 'MACHINE_LEASED');
      await store.releaseLease(id, 'n1', T0);
      assert.equal(await store.getLease(id, T0), undefined);
      await rejectsWith(store.releaseLease(id, 'n1', T0), 'LEASE_NOT_FOUND');
    });

    storeTest(open, 'leasing an unknown machine is MACHINE_NOT_FOUND; deleting a machine drops its lease', async (store) => {
      await rejectsWith(store.acquireLease(request('0123456789abcd')), 'MACHINE_NOT_FOUND');
      const id = await givenMachine(store);
      await store.acquireLease(request(id));
      await store.deleteMachine(id);
      assert.equal(await store.getLease(id, T0), undefined);
    });

    storeTest(open, 'of 50 concurrent acquirers exactly one wins', async (store) => {
      const id = await givenMachine(store);
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => store.acquireLease(request(id, { newNonce: `n${i}`, owner: `o${i}` }))),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1);
      for (const r of results) if (r.status === 'rejected') assert.ok(isAloftError(r.reason, 'MACHINE_LEASED'));
      assert.equal((await store.getLease(id, T0))?.nonce, won[0]!.value.nonce);
    });
  });
}
