import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { echoed, send } from './testing/client.ts';
import { fakeApp, fakeMachine, startBackend, type Backend } from './testing/fixtures.ts';
import { startProxyWorld, type ProxyWorld } from './testing/world.ts';

let world: ProxyWorld;
let one: Backend;
let two: Backend;

before(async () => {
  one = await startBackend((_req, res) => res.end('one'));
  two = await startBackend((_req, res) => res.end('two'));
  world = await startProxyWorld((store) => {
    store.putApp(fakeApp('one'));
    store.putApp(fakeApp('two'));
    store.putApp(fakeApp('idle'));
    store.putMachine(fakeMachine('one', one.port, 'started', 'm-one'));
    store.putMachine(fakeMachine('two', two.port, 'started', 'm-two'));
    store.putMachine(fakeMachine('idle', two.port, 'stopped', 'm-idle'));
  });
});

after(async () => {
  await world.close();
  await one.close();
  await two.close();
});

test('the Host header picks the app, any case, with or without a port', async () => {
  assert.equal((await send(world.port, { host: 'one.localhost' })).text, 'one');
  assert.equal((await send(world.port, { host: 'TWO.localhost:8080' })).text, 'two');
  const absolute = await send(world.port, { host: 'one.localhost', path: `http://two.localhost:${world.port}/x` });
  assert.equal(absolute.text, 'two');
});

test('a host outside the domain is a 404 naming the host', async () => {
  const res = await send(world.port, { host: 'example.com' });
  assert.equal(res.status, 404);
  assert.equal(res.headers['aloft-error'], 'PROXY_NO_ROUTE');
  assert.match(JSON.parse(res.text).error, /'Host' must be '<app>\.localhost': got "example\.com"/);
  assert.ok(res.headers['fly-request-id']);
});

test('an unknown app is a 404 that says so', async () => {
  const res = await send(world.port, { host: 'ghost.localhost' });
  assert.equal(res.status, 404);
  assert.deepEqual(JSON.parse(res.text), { error: 'no app named "ghost" (host "ghost.localhost")', code: 'APP_NOT_FOUND' });
});

test('a known app with no started machine is a 503 with Retry-After', async () => {
  const res = await send(world.port, { host: 'idle.localhost' });
  assert.equal(res.status, 503);
  assert.equal(res.headers['retry-after'], '5');
  assert.equal(JSON.parse(res.text).error, 'app "idle" has no started machine');
});

test('routes follow the store: starting says so, started routes, stopping is a 503 again', async () => {
  const { store, proxy } = world;
  await proxy.table.whenRevision(store.patchMachine('m-idle', { state: 'starting' }));
  const starting = await send(world.port, { host: 'idle.localhost' });
  assert.equal(starting.status, 503);
  assert.equal(starting.headers['retry-after'], '1');
  assert.match(JSON.parse(starting.text).error, /1 starting/);

  await proxy.table.whenRevision(store.patchMachine('m-idle', { state: 'started' }));
  assert.equal((await send(world.port, { host: 'idle.localhost' })).text, 'two');

  await proxy.table.whenRevision(store.patchMachine('m-idle', { state: 'stopping' }));
  assert.equal((await send(world.port, { host: 'idle.localhost' })).status, 503);
});

test('requests are counted per app and status', async () => {
  const before = world.proxy.metrics.requests('one', 200);
  await send(world.port, { host: 'one.localhost' });
  assert.equal(world.proxy.metrics.requests('one', 200), before + 1);
  assert.ok(world.proxy.metrics.requests('ghost', 404) >= 1);
  assert.ok(world.proxy.metrics.requests('', 404) >= 1);
});

test('an app’s machines share its traffic', async () => {
  const echo = await startBackend();
  try {
    const { store, proxy } = world;
    store.putApp(fakeApp('shared'));
    store.putMachine(fakeMachine('shared', one.port, 'started', 's1'));
    await proxy.table.whenRevision(store.putMachine(fakeMachine('shared', echo.port, 'started', 's2')));
    const seen = new Set<string>();
    for (let i = 0; i < 60 && seen.size < 2; i += 1) {
      const res = await send(world.port, { host: 'shared.localhost' });
      seen.add(res.text === 'one' ? 'one' : echoed(res).method);
    }
    assert.deepEqual([...seen].sort(), ['GET', 'one']);
  } finally {
    await echo.close();
  }
});
