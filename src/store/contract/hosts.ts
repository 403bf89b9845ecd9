import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { sampleHostRegistration } from '../host-samples.ts';
import { ChangeRecorder } from '../testing.ts';
import { rejectsWith, storeTest, type OpenStore } from './helpers.ts';

const T0 = 1_700_000_000_000;

/** The host registry: register, heartbeat, mark down (compare-and-set), remove, watch; roles. */
export function hostsContract(open: OpenStore): void {
  describe('hosts', () => {
    storeTest(open, 'a registered host is up with its record, registeredAt and heartbeatAt at now', async (store) => {
      const registration = sampleHostRegistration({
        capacity: { cpus: 16, memoryMb: 65_536, diskGb: 500, diskAvailableGb: 400, gpus: [{ index: 0, model: 'NVIDIA H100' }] },
        wireguardPublicKey: 'k'.repeat(43) + '=',
        addresses: { underlay: '10.0.0.2:51820', sixpnPrefix: 'fdaa:0:0:2::/80' },
        controlUrl: 'http://10.0.0.2:4281',
      });
      const host = await store.registerHost(registration, T0);
      assert.deepEqual(host, { ...registration, registeredAt: T0, heartbeatAt: T0, status: 'up' });
      assert.deepEqual(await store.getHost(registration.id), host);
      assert.equal(await store.getHost('nope'), undefined);
    });

    storeTest(open, 'listHosts orders by id and filters by region and status', async (store) => {
      const b = await store.registerHost(sampleHostRegistration({ id: 'b', region: 'iad' }), T0);
      const a = await store.registerHost(sampleHostRegistration({ id: 'a', region: 'ams' }), T0);
      const c = await store.registerHost(sampleHostRegistration({ id: 'c', region: 'ams' }), T0);
      assert.deepEqual((await store.listHosts()).map((h) => h.id), ['a', 'b', 'c']);
      assert.deepEqual((await store.listHosts({ region: 'ams' })).map((h) => h.id), [a.id, c.id]);
      await store.markHostDown('c', { reason: 'test', expectHeartbeatAt: T0 });
      assert.deepEqual((await store.listHosts({ status: 'up' })).map((h) => h.id), [a.id, b.id]);
      assert.deepEqual((await store.listHosts({ region: 'ams', status: 'down' })).map((h) => h.id), ['c']);
    });

    storeTest(open, 'an edge keeps its role through register, heartbeat and down; listHosts filters by role (no role = host)', async (store) => {
      const edge = await store.registerHost(sampleHostRegistration({ id: 'edge-1', role: 'edge', ipv4Subnet: '', drivers: [], capacity: { cpus: 0, memoryMb: 0, diskGb: 0, gpus: [] } }), T0);
      const host = await store.registerHost(sampleHostRegistration({ id: 'host-x' }), T0);
      const tagged = await store.registerHost(sampleHostRegistration({ id: 'host-y', role: 'host' }), T0);
      assert.equal(edge.role, 'edge');
      assert.equal((await store.getHost('edge-1'))?.role, 'edge');
      assert.equal((await store.heartbeatHost('edge-1', T0 + 1)).role, 'edge');
      assert.deepEqual((await store.listHosts({ role: 'edge' })).map((h) => h.id), ['edge-1']);
      assert.deepEqual((await store.listHosts({ role: 'host' })).map((h) => h.id), [host.id, tagged.id]);
      assert.equal((await store.markHostDown('edge-1', { reason: 'missed', expectHeartbeatAt: T0 + 1 })).role, 'edge');
      assert.deepEqual((await store.listHosts({ role: 'edge', status: 'down' })).map((h) => h.id), ['edge-1']);
      assert.deepEqual(await store.listHosts({ role: 'edge', status: 'up' }), []);
    });

    storeTest(open, 'a heartbeat moves heartbeatAt only; unknown hosts are HOST_NOT_FOUND', async (store) => {
      const host = await store.registerHost(sampleHostRegistration(), T0);
      const beat = await store.heartbeatHost(host.id, T0 + 2000);
      assert.deepEqual(beat, { ...host, heartbeatAt: T0 + 2000 });
      assert.equal((await store.getHost(host.id))?.heartbeatAt, T0 + 2000);
      await rejectsWith(store.heartbeatHost('ghost', T0), 'HOST_NOT_FOUND', /Cannot record a heartbeat of host ghost as it must be registered/);
    });

    storeTest(open, 'markHostDown is a compare-and-set on the heartbeat the caller judged', async (store) => {
      const host = await store.registerHost(sampleHostRegistration(), T0);
      await store.heartbeatHost(host.id, T0 + 3000);
      await rejectsWith(store.markHostDown(host.id, { reason: 'missed', expectHeartbeatAt: T0 }), 'STORE_CONFLICT', /it beat since/);
      assert.equal((await store.getHost(host.id))?.status, 'up');
      const down = await store.markHostDown(host.id, { reason: 'missed 3 heartbeats', expectHeartbeatAt: T0 + 3000 });
      assert.equal(down.status, 'down');
      assert.equal(down.downReason, 'missed 3 heartbeats');
      // Again: nothing changes, whatever the caller read.
      assert.deepEqual(await store.markHostDown(host.id, { reason: 'other', expectHeartbeatAt: 0 }), down);
      await rejectsWith(store.markHostDown('ghost', { reason: 'x', expectHeartbeatAt: 0 }), 'HOST_NOT_FOUND');
    });

    storeTest(open, 'a down host cannot heartbeat (HOST_DOWN) until it registers again', async (store) => {
      const host = await store.registerHost(sampleHostRegistration(), T0);
      await store.markHostDown(host.id, { reason: 'missed', expectHeartbeatAt: T0 });
      await rejectsWith(store.heartbeatHost(host.id, T0 + 9000), 'HOST_DOWN', /must be up: got down \(missed\)/);
      const again = await store.registerHost(sampleHostRegistration({ id: host.id, number: host.number }), T0 + 10_000);
      assert.equal(again.status, 'up');
      assert.equal(again.downReason, undefined);
      assert.equal(again.registeredAt, T0 + 10_000);
      assert.equal((await store.heartbeatHost(host.id, T0 + 12_000)).status, 'up');
    });

    storeTest(open, "a host's 6PN number is unique among hosts (STORE_CONFLICT naming the holder)", async (store) => {
      await store.registerHost(sampleHostRegistration({ id: 'h1', number: 7 }), T0);
      await rejectsWith(store.registerHost(sampleHostRegistration({ id: 'h2', number: 7 }), T0), 'STORE_CONFLICT', /'number' must be unique.*taken by h1/);
      assert.equal((await store.registerHost(sampleHostRegistration({ id: 'h1', number: 7, region: 'iad' }), T0 + 1)).region, 'iad');
    });

    storeTest(open, 'removeHost deletes the record; unknown ids are HOST_NOT_FOUND', async (store) => {
      const host = await store.registerHost(sampleHostRegistration(), T0);
      await store.removeHost(host.id);
      assert.equal(await store.getHost(host.id), undefined);
      await rejectsWith(store.removeHost(host.id), 'HOST_NOT_FOUND');
    });

    storeTest(open, 'registrations, downs and removals are published as host changes; heartbeats are not', async (store) => {
      const from = await store.revision();
      const recorder = new ChangeRecorder(store, { fromRevision: from });
      const host = await store.registerHost(sampleHostRegistration(), T0);
      await store.heartbeatHost(host.id, T0 + 1);
      const down = await store.markHostDown(host.id, { reason: 'missed', expectHeartbeatAt: T0 + 1 });
      await store.removeHost(host.id);
      const changes = await recorder.waitFor((c) => c.length >= 3);
      recorder.stop();
      assert.deepEqual(
        changes.map(({ revision: _r, ...rest }) => rest),
        [
          { kind: 'host', op: 'put', key: host.id, host },
          { kind: 'host', op: 'put', key: host.id, host: down },
          { kind: 'host', op: 'delete', key: host.id },
        ],
      );
    });

    storeTest(open, 'a role has one holder until it expires or is released', async (store) => {
      const a = await store.claimRole({ role: 'host-monitor', holder: 'api-a', ttlMs: 10_000, now: T0 });
      assert.deepEqual(a, { role: 'host-monitor', holder: 'api-a', expiresAt: T0 + 10_000 });
      assert.equal(await store.claimRole({ role: 'host-monitor', holder: 'api-b', ttlMs: 10_000, now: T0 + 5000 }), undefined);
      // The holder renews; another role is independent.
      assert.equal((await store.claimRole({ role: 'host-monitor', holder: 'api-a', ttlMs: 10_000, now: T0 + 5000 }))?.expiresAt, T0 + 15_000);
      assert.ok(await store.claimRole({ role: 'other', holder: 'api-b', ttlMs: 1000, now: T0 }));
      // Expired: the next claimant takes it.
      assert.equal((await store.claimRole({ role: 'host-monitor', holder: 'api-b', ttlMs: 10_000, now: T0 + 15_000 }))?.holder, 'api-b');
      // Release by a non-holder does nothing; by the holder frees it at once.
      await store.releaseRole('host-monitor', 'api-a');
      assert.equal(await store.claimRole({ role: 'host-monitor', holder: 'api-a', ttlMs: 10_000, now: T0 + 16_000 }), undefined);
      await store.releaseRole('host-monitor', 'api-b');
      assert.equal((await store.claimRole({ role: 'host-monitor', holder: 'api-a', ttlMs: 10_000, now: T0 + 16_000 }))?.holder, 'api-a');
    });
  });
}
