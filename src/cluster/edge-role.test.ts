import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../lib/clock.ts';
import { Scheduler } from '../scheduler/index.ts';
import { sampleHostRegistration } from '../store/host-samples.ts';
import { openSqliteStore, type HostRegistration } from '../store/index.ts';
import { sampleApp, sampleMachine } from '../store/testing.ts';
import { HostDirectory } from './host-directory.ts';
import { HostMonitor } from './host-monitor.ts';

const T0 = 1_700_000_000_000;
const BEAT = 1000;
const EDGE: Partial<HostRegistration> = { role: 'edge', ipv4Subnet: '', drivers: [], capacity: { cpus: 64, memoryMb: 1 << 20, diskGb: 10_000, gpus: [] } };

test('the scheduler never places on an edge, however much room it claims, nor finds one by id', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  const directory = new HostDirectory(store);
  try {
    await store.registerHost(sampleHostRegistration({ id: 'edge-ams', region: 'ams', ...EDGE }), T0);
    await directory.start();
    const scheduler = new Scheduler(directory, { capacity: directory.capacity });
    assert.deepEqual(scheduler.hosts(), [], 'an edge alone is no host');
    assert.throws(() => scheduler.place({ region: 'ams' }), { code: 'NO_HOSTS' });
    assert.equal(scheduler.host('edge-ams'), undefined);

    // Followed live: a host that registers later takes every placement, the edge none.
    await store.registerHost(sampleHostRegistration({ id: 'host-ams', region: 'ams', capacity: { cpus: 2, memoryMb: 2048, diskGb: 10, gpus: [] } }), T0);
    assert.deepEqual(scheduler.hosts().map((h) => h.id), ['host-ams']);
    const placed = await scheduler.spread(store, { count: 4, demand: { cpus: 0, memoryMb: 256, diskGb: 0, gpus: 0 } });
    assert.deepEqual([...new Set(placed.map((h) => h.id))], ['host-ams']);
    // An edge registered after the directory started is left out too.
    await store.registerHost(sampleHostRegistration({ id: 'edge-iad', region: 'iad', ...EDGE }), T0);
    assert.deepEqual(scheduler.regions(), ['ams']);
  } finally {
    directory.stop();
    await store.close();
  }
});

test('the HostMonitor marks a silent edge down but re-places nothing for it', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  const clock = new ManualClock(T0);
  const directory = new HostDirectory(store);
  await directory.start();
  const scheduler = new Scheduler(directory, { capacity: directory.capacity });
  const monitor = new HostMonitor({ store, scheduler, heartbeatIntervalMs: BEAT, missedHeartbeats: 3, clock, holder: 'api-1' });
  try {
    await store.registerHost(sampleHostRegistration({ id: 'edge-1', region: 'ams', ...EDGE }), T0);
    await store.registerHost(sampleHostRegistration({ id: 'host-1', region: 'ams' }), T0);
    // No Machine is ever placed on an edge; one written there by hand must still stay put.
    const app = await store.createApp(sampleApp());
    const stray = await store.createMachine(sampleMachine({ appName: app.name, hostId: 'edge-1', region: 'ams', state: 'started' }));
    clock.advance(5 * BEAT);
    await store.heartbeatHost('host-1', clock.now());
    const result = await monitor.sweep();
    assert.deepEqual(result.markedDown, ['edge-1']);
    assert.equal((await store.getHost('edge-1'))?.status, 'down');
    assert.deepEqual(result.outcomes, []);
    assert.equal((await store.getMachine(stray.id))?.state, 'started');
    assert.equal((await store.listMachines({ appName: app.name })).length, 1);
  } finally {
    await monitor.stop();
    directory.stop();
    await store.close();
  }
});
