import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DnsView } from '../dns/dns-view.ts';
import { RouteTable } from '../proxy/route-table.ts';
import { sampleHostRegistration } from '../store/host-samples.ts';
import { openSqliteStore } from '../store/index.ts';
import { sampleApp, sampleMachine } from '../store/testing.ts';

const T0 = 1_700_000_000_000;

// Regression guard for the `host` Change kind: the proxy's route table and the DNS view
// follow the same watch, and must step over host changes, not misread them as Machines.
test('the route table and the DNS view step over host changes and keep their routes', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  const app = await store.createApp(sampleApp());
  await store.createMachine(sampleMachine({ appName: app.name, state: 'started', addresses: { ipv6: 'fdaa:0:3e9:0:1:0:1:2', ipv4: '172.19.0.2' } }));
  const table = new RouteTable(store);
  const view = new DnsView(store);
  try {
    await table.start();
    await view.start();
    const routes = table.lookup(app.name);
    const started = view.started(app.name);
    assert.equal(started.length, 1);

    const host = await store.registerHost(sampleHostRegistration({ id: 'host-1' }), T0);
    await store.markHostDown(host.id, { reason: 'test', expectHeartbeatAt: T0 });
    await store.removeHost(host.id);
    const head = await store.revision();
    await table.whenRevision(head);
    assert.equal(table.revision, head);
    assert.deepEqual(table.lookup(app.name), routes);
    assert.equal(view.revision, head);
    assert.deepEqual(view.started(app.name), started);
  } finally {
    table.stop();
    view.stop();
    await store.close();
  }
});
