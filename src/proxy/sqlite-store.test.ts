import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSqliteStore } from '../store/index.ts';
import { sampleApp, sampleMachine } from '../store/testing.ts';
import { createProxy } from './server.ts';
import { echoed, send } from './testing/client.ts';
import { startBackend } from './testing/fixtures.ts';

test('the proxy follows the real SQLite store: started routes, stopping is a 503', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  const backend = await startBackend();
  const app = await store.createApp(sampleApp({ name: 'lite' }));
  const machine = await store.createMachine(
    sampleMachine({
      appName: app.name,
      state: 'starting',
      addresses: { ipv4: '127.0.0.1', ipv6: 'fdaa::9' },
      config: { image: 'x', services: [{ protocol: 'tcp', internal_port: backend.port, ports: [{ port: 80, handlers: ['http'] }] }] },
    }),
  );
  const proxy = createProxy({ store, port: 0 });
  try {
    const { port } = await proxy.listen();
    const starting = await send(port, { host: 'lite.localhost' });
    assert.equal(starting.status, 503);
    assert.match(JSON.parse(starting.text).error, /1 starting/);

    await store.updateMachine(machine.id, { patch: { state: 'started' } });
    await proxy.table.whenRevision(await store.revision());
    const routed = await send(port, { host: 'lite.localhost', path: '/hi' });
    assert.equal(routed.status, 200);
    assert.equal(echoed(routed).url, '/hi');

    await store.updateMachine(machine.id, { patch: { state: 'stopping' } });
    await proxy.table.whenRevision(await store.revision());
    assert.equal((await send(port, { host: 'lite.localhost' })).status, 503);
    assert.equal((await send(port, { host: 'other.localhost' })).status, 404);
  } finally {
    await proxy.close();
    await backend.close();
    await store.close();
  }
});
