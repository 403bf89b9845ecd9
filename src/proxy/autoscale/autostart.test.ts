import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { echoed, send } from '../testing/client.ts';
import { startBackend, type Backend } from '../testing/fixtures.ts';
import { startAutoscaleWorld } from './testing.ts';

const backends: Backend[] = [];
const backend = async (): Promise<Backend> => {
  const b = await startBackend();
  backends.push(b);
  return b;
};
after(async () => {
  for (const b of backends) await b.close();
});

test('a request to an app with only a stopped Machine starts it and is served (source: proxy)', async () => {
  const world = await startAutoscaleWorld();
  try {
    const m = await world.machine((await backend()).port, 'stopped');
    const response = await send(world.port, { host: 'auto.localhost', path: '/woke' });
    assert.equal(response.status, 200, response.text);
    assert.equal(echoed(response).url, '/woke');
    assert.equal((await world.store.getMachine(m.id))?.state, 'started');
    assert.deepEqual(await world.proxyEvents(m.id), ['start:requested']);
    const [event] = (await world.store.listEvents(m.id)).filter((e) => e.source === 'proxy');
    assert.deepEqual(event?.request, { reason: 'autostart' });
  } finally {
    await world.close();
  }
});

test('a burst of requests shares one start (single flight) and all are served', async () => {
  const world = await startAutoscaleWorld();
  try {
    const port = (await backend()).port;
    const a = await world.machine(port, 'stopped');
    const b = await world.machine(port, 'stopped');
    const responses = await Promise.all(Array.from({ length: 20 }, () => send(world.port, { host: 'auto.localhost' })));
    assert.deepEqual(responses.map((r) => r.status), Array(20).fill(200));
    const starts = [...(await world.proxyEvents(a.id)), ...(await world.proxyEvents(b.id))];
    assert.deepEqual(starts, ['start:requested'], 'one Machine started for the whole burst');
  } finally {
    await world.close();
  }
});

test('a suspended Machine is resumed before a stopped one; the nearest region first', async () => {
  const world = await startAutoscaleWorld({ region: 'ams', balance: { rtt: { ams: { iad: 80, fra: 10 } } } });
  try {
    const port = (await backend()).port;
    const far = await world.machine(port, 'suspended', { region: 'iad' });
    const nearStopped = await world.machine(port, 'stopped', { region: 'fra' });
    const nearSuspended = await world.machine(port, 'suspended', { region: 'fra' });
    assert.equal((await send(world.port, { host: 'auto.localhost' })).status, 200);
    assert.deepEqual(await world.proxyEvents(nearSuspended.id), ['start:requested']);
    assert.deepEqual(await world.proxyEvents(nearStopped.id), []);
    assert.deepEqual(await world.proxyEvents(far.id), []);
  } finally {
    await world.close();
  }
});

test('without autostart on the service, a stopped app is a 503 and nothing is started', async () => {
  const world = await startAutoscaleWorld();
  try {
    const m = await world.machine((await backend()).port, 'stopped', { service: { autostart: false } });
    const response = await send(world.port, { host: 'auto.localhost' });
    assert.equal(response.status, 503);
    assert.equal(response.headers['aloft-error'], 'PROXY_NO_STARTED_MACHINE');
    assert.equal((await world.store.getMachine(m.id))?.state, 'stopped');
  } finally {
    await world.close();
  }
});

test('a start that fails is a 503 PROXY_AUTOSTART_FAILED saying why', async () => {
  const world = await startAutoscaleWorld();
  try {
    world.plan.starting = 'failed';
    const m = await world.machine((await backend()).port, 'stopped');
    const response = await send(world.port, { host: 'auto.localhost' });
    assert.equal(response.status, 503);
    assert.equal(response.headers['aloft-error'], 'PROXY_AUTOSTART_FAILED');
    assert.match(JSON.parse(response.text).error, new RegExp(`machine ${m.id}.*went failed`));
  } finally {
    await world.close();
  }
});

test('a start that takes longer than the wait is a 503 after the wait, not a hang', async () => {
  const world = await startAutoscaleWorld({ autostartWaitMs: 150 });
  try {
    world.plan.starting = 'ignore';
    await world.machine((await backend()).port, 'stopped');
    const began = Date.now();
    const response = await send(world.port, { host: 'auto.localhost' });
    assert.equal(response.status, 503);
    assert.match(JSON.parse(response.text).error, /within 150 ms/);
    assert.ok(Date.now() - began < 3000);
  } finally {
    await world.close();
  }
});

test('when every started Machine is at its soft limit, another is started in the background', async () => {
  const world = await startAutoscaleWorld();
  try {
    // A backend that holds requests while `holding`, so the running Machine stays loaded.
    let holding = true;
    const held: (() => void)[] = [];
    const slow = await startBackend((_req, res) => (holding ? held.push(() => res.end('slow')) : res.end('slow')));
    backends.push(slow);
    const limits = { concurrency: { type: 'requests' as const, soft_limit: 1, hard_limit: 10 } };
    const busy = await world.machine(slow.port, 'started', { service: limits });
    const spare = await world.machine((await backend()).port, 'stopped', { service: limits });
    const first = send(world.port, { host: 'auto.localhost' });
    while (world.proxy.balancer.loads.requests(busy.id) < 1) await new Promise((r) => setImmediate(r));
    // The next request sees the only started Machine at its soft limit: the spare is started.
    const routable = world.proxy.table.whenRoutable(spare.id);
    const second = send(world.port, { host: 'auto.localhost' });
    await routable;
    assert.deepEqual(await world.proxyEvents(spare.id), ['start:requested']);
    holding = false;
    for (const release of held.splice(0)) release();
    // The second went to the loaded Machine (over soft, under hard) meanwhile, or to the spare.
    assert.deepEqual([(await first).status, (await second).status], [200, 200]);
    for (const release of held.splice(0)) release();
  } finally {
    await world.close();
  }
});

test('with no routable Machine in its own region, the edge wakes a local one instead of crossing to a far running one', async () => {
  const world = await startAutoscaleWorld({ region: 'ams', balance: { rtt: { ams: { iad: 80 } } } });
  try {
    const farServer = await startBackend((_req, res) => res.end('iad'));
    const localServer = await startBackend((_req, res) => res.end('ams'));
    backends.push(farServer, localServer);
    await world.machine(farServer.port, 'started', { region: 'iad' });
    const local = await world.machine(localServer.port, 'stopped', { region: 'ams' });
    const response = await send(world.port, { host: 'auto.localhost' });
    assert.equal(response.text, 'ams', 'answered by the woken local Machine');
    assert.deepEqual(await world.proxyEvents(local.id), ['start:requested']);
    // Now local: later requests stay here without another start.
    assert.equal((await send(world.port, { host: 'auto.localhost' })).text, 'ams');
    assert.deepEqual(await world.proxyEvents(local.id), ['start:requested']);
  } finally {
    await world.close();
  }
});

test('a local wake that fails still serves the request from the far running Machine', async () => {
  const world = await startAutoscaleWorld({ region: 'ams', balance: { rtt: { ams: { iad: 80 } } } });
  try {
    world.plan.starting = 'failed';
    const farServer = await startBackend((_req, res) => res.end('iad'));
    backends.push(farServer);
    await world.machine(farServer.port, 'started', { region: 'iad' });
    const local = await world.machine((await backend()).port, 'stopped', { region: 'ams' });
    const response = await send(world.port, { host: 'auto.localhost' });
    assert.equal(response.status, 200);
    assert.equal(response.text, 'iad');
    assert.equal((await world.store.getMachine(local.id))?.state, 'failed');
  } finally {
    await world.close();
  }
});

test('a far region\'s stopped Machine is not woken while a running one can take the request', async () => {
  const world = await startAutoscaleWorld({ region: 'ams', balance: { rtt: { ams: { iad: 80, sin: 160 } } } });
  try {
    const running = await startBackend((_req, res) => res.end('iad'));
    backends.push(running);
    await world.machine(running.port, 'started', { region: 'iad' });
    const far = await world.machine((await backend()).port, 'stopped', { region: 'sin' });
    assert.equal((await send(world.port, { host: 'auto.localhost' })).text, 'iad');
    assert.deepEqual(await world.proxyEvents(far.id), []);
  } finally {
    await world.close();
  }
});
