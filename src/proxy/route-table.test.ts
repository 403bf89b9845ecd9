import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../lib/clock.ts';
import { RouteTable } from './route-table.ts';
import { FakeStore } from './testing/fake-store.ts';
import { fakeApp, fakeMachine, startBackend } from './testing/fixtures.ts';
import { HealthChecker } from './health/health-checker.ts';

async function loaded(store: FakeStore, clock = new ManualClock(1_000_000)) {
  const table = new RouteTable(store, { clock });
  await table.start();
  return table;
}

const ids = (table: RouteTable, app: string) => {
  const routes = table.lookup(app);
  return routes.known ? routes.started.map((e) => e.machineId).sort() : undefined;
};

test('the table loads apps and started Machines with their address and HTTP port', async () => {
  const store = new FakeStore();
  store.putApp(fakeApp('a'));
  store.putApp(fakeApp('empty'));
  store.putMachine(fakeMachine('a', 3001, 'started', 'm1'));
  store.putMachine(fakeMachine('a', 3002, 'stopped', 'm2'));
  store.putMachine(fakeMachine('a', 3003, 'starting', 'm3'));
  const table = await loaded(store);
  const routes = table.lookup('a');
  assert.ok(routes.known);
  assert.deepEqual(routes.started.map((e) => [e.machineId, e.ipv4, e.port, e.region, e.state]), [['m1', '127.0.0.1', 3001, 'local', 'started']]);
  assert.equal(routes.starting, 1);
  assert.deepEqual(table.lookup('empty'), { known: true, started: [], starting: 0, unhealthy: 0, wakeable: [] });
  assert.deepEqual(table.lookup('nope'), { known: false });
  table.stop();
});

test('each change is applied as it arrives: started routes, stopping is removed at once', async () => {
  const store = new FakeStore();
  store.putApp(fakeApp('a'));
  const table = await loaded(store);
  await table.whenRevision(store.putMachine(fakeMachine('a', 3001, 'starting', 'm1')));
  assert.deepEqual(ids(table, 'a'), []);
  await table.whenRevision(store.patchMachine('m1', { state: 'started' }));
  assert.deepEqual(ids(table, 'a'), ['m1']);
  await table.whenRevision(store.patchMachine('m1', { state: 'stopping' }));
  assert.deepEqual(ids(table, 'a'), []);
  await table.whenRevision(store.patchMachine('m1', { state: 'destroyed' }));
  assert.equal(table.entry('m1'), undefined);
  table.stop();
});

test('a started Machine keeps the time it started across later writes', async () => {
  const store = new FakeStore();
  const clock = new ManualClock(5000);
  const table = await loaded(store, clock);
  await table.whenRevision(store.putMachine(fakeMachine('a', 3001, 'started', 'm1')));
  assert.equal(table.entry('m1')?.startedAt, 5000);
  clock.advance(1000);
  await table.whenRevision(store.patchMachine('m1', { region: 'ams' }));
  assert.equal(table.entry('m1')?.startedAt, 5000);
  assert.equal(table.entry('m1')?.region, 'ams');
  table.stop();
});

test('apps come and go with their changes; machines make their app known', async () => {
  const store = new FakeStore();
  const table = await loaded(store);
  await table.whenRevision(store.putApp(fakeApp('b')));
  assert.equal(table.lookup('b').known, true);
  await table.whenRevision(store.putMachine(fakeMachine('c', 3001, 'started', 'mc')));
  assert.equal(table.lookup('c').known, true);
  await table.whenRevision(store.deleteApp('c'));
  assert.deepEqual(table.lookup('c'), { known: false });
  assert.equal(table.entry('mc'), undefined);
  table.stop();
});

test('a watch that fell behind the change log reloads the table in place', async () => {
  const store = new FakeStore();
  store.putApp(fakeApp('a'));
  store.putMachine(fakeMachine('a', 3001, 'started', 'm1'));
  const table = await loaded(store);
  store.compactWatchers(() => {
    store.patchMachine('m1', { state: 'stopped' });
    store.putMachine(fakeMachine('a', 3002, 'started', 'm2'));
  });
  await table.whenRevision(await store.revision());
  assert.deepEqual(ids(table, 'a'), ['m2']);
  // And it follows the store again afterwards.
  await table.whenRevision(store.patchMachine('m1', { state: 'started' }));
  assert.deepEqual(ids(table, 'a'), ['m1', 'm2']);
  table.stop();
});

test('a store that cannot be read fails start with STORE_FAILED', async () => {
  const store = new FakeStore();
  store.listMachines = () => Promise.reject(new Error('disk on fire'));
  const table = new RouteTable(store);
  await assert.rejects(table.start(), { code: 'STORE_FAILED', message: /disk on fire/ });
});

test('a cordoned Machine gets no traffic until it is uncordoned, and stays known to the table', async () => {
  const store = new FakeStore();
  store.putApp(fakeApp('a'));
  store.putMachine(fakeMachine('a', 3001, 'started', 'm1'));
  store.putMachine({ ...fakeMachine('a', 3002, 'started', 'm2'), cordoned: true });
  const table = await loaded(store);
  assert.deepEqual(ids(table, 'a'), ['m1']);
  assert.equal(table.entry('m2'), undefined);
  await table.whenRevision(store.patchMachine('m1', { cordoned: true }));
  assert.deepEqual(ids(table, 'a'), []);
  await table.whenRevision(store.patchMachine('m2', { cordoned: false }));
  assert.deepEqual(ids(table, 'a'), ['m2']);
  table.stop();
});

test('with health checks, a started Machine is routable once its check passes (within 100 ms), and leaves when it fails', async () => {
  let healthy = true;
  const backend = await startBackend((_req, res) => res.writeHead(healthy ? 200 : 500).end());
  const health = new HealthChecker();
  const store = new FakeStore();
  store.putApp(fakeApp('a'));
  const table = new RouteTable(store, { health });
  await table.start();
  try {
    const machine = fakeMachine('a', backend.port, 'starting', 'm1');
    machine.config.services![0]!.checks = [{ type: 'http', path: '/health', interval: '200ms' }];
    await table.whenRevision(store.putMachine(machine));
    const t0 = performance.now();
    store.patchMachine('m1', { state: 'started' });
    await table.whenRoutable('m1');
    const routableMs = performance.now() - t0;
    assert.ok(routableMs < 100, `routable after ${routableMs.toFixed(1)} ms`);
    assert.deepEqual(ids(table, 'a'), ['m1']);

    healthy = false;
    const out = new Promise<void>((resolve) => {
      const off = table.onChange(() => {
        if (table.entry('m1') !== undefined) return;
        off();
        resolve();
      });
    });
    await out;
    const routes = table.lookup('a');
    assert.ok(routes.known);
    assert.deepEqual([routes.started.length, routes.unhealthy], [0, 1]);

    // Stopping takes it out at once and stops its checks.
    healthy = true;
    await table.whenRevision(store.patchMachine('m1', { state: 'stopping' }));
    assert.equal(table.entry('m1'), undefined);
    assert.equal(health.isHealthy('m1'), true);
  } finally {
    table.stop();
    health.close();
    await backend.close();
  }
});

test('without checks a started Machine is routable as soon as its change is applied (under 100 ms)', async () => {
  const store = new FakeStore();
  store.putApp(fakeApp('a'));
  const table = new RouteTable(store, { health: new HealthChecker() });
  await table.start();
  await table.whenRevision(store.putMachine(fakeMachine('a', 3001, 'starting', 'm1')));
  const t0 = performance.now();
  store.patchMachine('m1', { state: 'started' });
  await table.whenRoutable('m1');
  assert.ok(performance.now() - t0 < 100);
  table.stop();
});
