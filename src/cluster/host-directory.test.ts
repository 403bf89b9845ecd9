import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Scheduler } from '../scheduler/index.ts';
import { sampleHostRegistration } from '../store/host-samples.ts';
import { openSqliteStore } from '../store/index.ts';
import { HostDirectory } from './host-directory.ts';
import { hostPrefix, hostRegistration } from './host-registration.ts';

const T0 = 1_700_000_000_000;

test('the scheduler over the registry places only on hosts that are up, following every change', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  const directory = new HostDirectory(store);
  try {
    await store.registerHost(sampleHostRegistration({ id: 'a', region: 'ams', capacity: { cpus: 4, memoryMb: 2048, diskGb: 10, gpus: [{ index: 0 }, { index: 1 }] } }), T0);
    await directory.start();
    const scheduler = new Scheduler(directory, { capacity: directory.capacity });
    assert.deepEqual(scheduler.hosts().map((h) => h.id), ['a']);
    const [load] = await scheduler.loads(store);
    assert.deepEqual(load?.total, { cpus: 4, memoryMb: 2048, diskGb: 10, gpus: 2 }, 'capacity is what the agent registered');

    await store.registerHost(sampleHostRegistration({ id: 'b', region: 'iad' }), T0);
    assert.deepEqual(scheduler.regions(), ['ams', 'iad']);
    await store.markHostDown('a', { reason: 'test', expectHeartbeatAt: T0 });
    assert.deepEqual(scheduler.hosts().map((h) => h.id), ['b']);
    assert.equal(scheduler.place({ region: 'iad' }).id, 'b');
    assert.throws(() => scheduler.place({ region: 'ams' }), { code: 'INVALID_ARGUMENT' });
    assert.equal(scheduler.host('a')?.region, 'ams', 'a down host is still found by id');

    await store.removeHost('b');
    assert.equal(scheduler.host('b'), undefined);
    assert.throws(() => scheduler.place({}), { code: 'NO_HOSTS', message: /Cannot place machine as at least one host must be up: got none/ });
    await assert.rejects(scheduler.spread(store, { count: 1, demand: { cpus: 0, memoryMb: 1, diskGb: 0, gpus: 0 } }), { code: 'NO_HOSTS' });
  } finally {
    directory.stop();
    await store.close();
  }
});

test("a host's registration: measured capacity and its own 6PN /80 in network 0", async () => {
  assert.equal(hostPrefix(2), 'fdaa::2:0:0:0/80');
  assert.equal(hostPrefix(70_000), 'fdaa:0:0:1:1170::/80');
  const registration = await hostRegistration('/tmp', { id: 'h', region: 'ams', number: 2, ipv4Subnet: '172.19.0.0/16', drivers: ['runsc'] }, null, 'http://10.0.0.2:4281');
  assert.ok(registration.capacity.cpus >= 1 && registration.capacity.memoryMb > 0 && registration.capacity.diskGb > 0);
  assert.deepEqual({ ...registration, capacity: undefined }, {
    id: 'h', region: 'ams', number: 2, ipv4Subnet: '172.19.0.0/16', capacity: undefined, drivers: ['runsc'],
    wireguardPublicKey: null, addresses: { underlay: null, sixpnPrefix: 'fdaa::2:0:0:0/80' }, controlUrl: 'http://10.0.0.2:4281',
  });
});
