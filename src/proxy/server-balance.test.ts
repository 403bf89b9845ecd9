import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { after, before, test } from 'node:test';
import type { Machine, MachineService } from '../model/index.ts';
import { send, type TestResponse } from './testing/client.ts';
import { fakeApp, fakeMachine, startBackend, type Backend } from './testing/fixtures.ts';
import { startProxyWorld, type ProxyWorld } from './testing/world.ts';

// Four real backends: l1, l2, l3 in the edge's region (ams), r1 in iad (80 ms away).
// Each answers its name; `/slow` requests are held until the test lets them go.
const NAMES = ['l1', 'l2', 'l3', 'r1'] as const;
type Name = (typeof NAMES)[number];
const backends = new Map<Name, Backend>();
const held: { name: Name; finish: () => void }[] = [];
let arrivals: ((name: Name) => void)[] = [];
let healthy: Record<Name, boolean> = { l1: true, l2: true, l3: true, r1: true };
let world: ProxyWorld;

/** Resolves with the backend the next request reaches. */
const nextArrival = (): Promise<Name> => new Promise((resolve) => arrivals.push(resolve));

function machine(name: Name, app: string, extra: Partial<MachineService> = {}): Machine {
  const m = fakeMachine(app, backends.get(name)!.port, 'started', `${app}-${name}`);
  m.region = name.startsWith('l') ? 'ams' : 'iad';
  m.config.services = [{ ...m.config.services![0]!, ...extra }];
  return m;
}

before(async () => {
  for (const name of NAMES) {
    const backend = await startBackend((req, res) => {
      if (req.url === '/health') {
        res.writeHead(healthy[name] ? 200 : 503).end();
        return;
      }
      const finish = () => res.end(name);
      if (req.url === '/slow') held.push({ name, finish });
      else finish();
      const waiting = arrivals;
      arrivals = [];
      for (const resolve of waiting) resolve(name);
    });
    backends.set(name, backend);
  }
  const limited = { concurrency: { type: 'requests' as const, soft_limit: 1, hard_limit: 2 } };
  const checked = { checks: [{ type: 'http' as const, path: '/health', interval: '100ms', timeout: '1s' }] };
  world = await startProxyWorld(
    (store) => {
      for (const app of ['busy', 'checked', 'steer']) store.putApp(fakeApp(app));
      for (const name of NAMES) {
        store.putMachine(machine(name, 'busy', limited));
        store.putMachine(machine(name, 'checked', checked));
        store.putMachine(machine(name, 'steer'));
      }
    },
    { region: 'ams', balance: { rtt: { ams: { iad: 80 } }, queue: { maxLength: 1, maxWaitMs: 300 } } },
  );
  // The checked app's Machines are routable once their first check passed.
  await Promise.all(NAMES.map((name) => world.proxy.table.whenRoutable(`checked-${name}`)));
});

after(async () => {
  for (const h of held.splice(0)) h.finish();
  await world.close();
  for (const backend of backends.values()) await backend.close();
});

/** Sends a held request to app `busy` and resolves with the backend it reached. */
async function hold(): Promise<{ name: Name; response: Promise<TestResponse> }> {
  const arrived = nextArrival();
  const response = send(world.port, { host: 'busy.localhost', path: '/slow' });
  return { name: await arrived, response };
}

function release(name: Name): void {
  const at = held.findIndex((h) => h.name === name);
  assert.ok(at >= 0, `a request is held on ${name}`);
  held.splice(at, 1)[0]!.finish();
}

test('slow requests spread over the least-loaded local Machines, stay local past soft_limit, leave the region only at hard_limit, then queue and 503', async () => {
  const loads = world.proxy.balancer.loads;
  // Three at once land one on each local Machine (each is the least loaded in turn).
  const first = [await hold(), await hold(), await hold()];
  assert.deepEqual(first.map((h) => h.name).sort(), ['l1', 'l2', 'l3']);
  // All at soft_limit (1) but under hard_limit (2): still local, never iad.
  const second = [await hold(), await hold(), await hold()];
  assert.deepEqual(second.map((h) => h.name).sort(), ['l1', 'l2', 'l3']);
  assert.deepEqual(['l1', 'l2', 'l3'].map((n) => loads.requests(`busy-${n}`)), [2, 2, 2]);
  // Every local Machine at hard_limit: the next ones go to iad, until it is full too.
  const remote = [await hold(), await hold()];
  assert.deepEqual(remote.map((h) => h.name), ['r1', 'r1']);

  // Everything at hard_limit: one request may wait (maxLength 1), the next is a 503 at once.
  const queued = send(world.port, { host: 'busy.localhost', path: '/slow' });
  await world.proxy.balancer.queue.whenLength('busy', 1);
  const refused = await send(world.port, { host: 'busy.localhost', path: '/slow' });
  assert.equal(refused.status, 503);
  assert.equal(refused.headers['aloft-error'], 'PROXY_AT_CAPACITY');
  assert.equal(refused.headers['retry-after'], '1');
  assert.match(JSON.parse(refused.text).error, /hard_limit and the queue of 1 waiting requests is full/);

  // A slot frees on l2: the queued request takes it.
  const arrived = nextArrival();
  release('l2');
  assert.equal(await arrived, 'l2');
  assert.equal(await first.concat(second).find((h) => h.name === 'l2')!.response.then((r) => r.text), 'l2');

  // Nothing frees now: a waiting request gives up after maxWaitMs with a 503.
  const started = Date.now();
  const timedOut = await send(world.port, { host: 'busy.localhost', path: '/slow' });
  assert.equal(timedOut.status, 503);
  assert.match(JSON.parse(timedOut.text).error, /no slot freed within 300 ms/);
  assert.ok(Date.now() - started >= 290);

  for (const h of held.splice(0)) h.finish();
  const all = await Promise.all([...first, ...second, ...remote].map((h) => h.response).concat(queued));
  assert.ok(all.every((r) => r.status === 200));
  assert.deepEqual(NAMES.map((n) => loads.requests(`busy-${n}`)), [0, 0, 0, 0]);
});

test('when every local Machine fails its health check traffic goes to the other region, and comes back', async () => {
  const table = world.proxy.table;
  const answered = async () => (await send(world.port, { host: 'checked.localhost' })).text;
  assert.match(await answered(), /^l[123]$/);
  const allLocalOut = new Promise<void>((resolve) => {
    const off = table.onChange(() => {
      if (['l1', 'l2', 'l3'].some((n) => table.entry(`checked-${n}`) !== undefined)) return;
      off();
      resolve();
    });
  });
  healthy = { l1: false, l2: false, l3: false, r1: true };
  await allLocalOut;
  for (let i = 0; i < 5; i += 1) assert.equal(await answered(), 'r1');

  healthy = { l1: false, l2: true, l3: false, r1: true };
  await table.whenRoutable('checked-l2');
  for (let i = 0; i < 5; i += 1) assert.equal(await answered(), 'l2');
  healthy = { l1: true, l2: true, l3: true, r1: true };
});

test('steering headers: force and prefer a region or a Machine; a forced target with nothing routable is a 503', async () => {
  const steer = (headers: string[]) => send(world.port, { host: 'steer.localhost', headers });
  for (let i = 0; i < 3; i += 1) {
    assert.equal((await steer(['fly-force-instance-id', 'steer-l3'])).text, 'l3');
    assert.equal((await steer(['fly-prefer-instance-id', 'steer-r1'])).text, 'r1');
    assert.equal((await steer(['fly-force-region', 'IAD'])).text, 'r1');
    assert.equal((await steer(['fly-prefer-region', 'iad'])).text, 'r1');
    // A preferred region with no Machine: the normal choice (local).
    assert.match((await steer(['fly-prefer-region', 'nrt'])).text, /^l[123]$/);
  }
  const none = await steer(['fly-force-region', 'nrt']);
  assert.equal(none.status, 503);
  assert.equal(none.headers['aloft-error'], 'PROXY_FORCED_TARGET_UNAVAILABLE');
  assert.match(JSON.parse(none.text).error, /forced region "nrt" has no started, healthy machine/);
  const ghost = await steer(['fly-force-instance-id', 'nope']);
  assert.equal(ghost.status, 503);
  const bad = await steer(['fly-force-region', 'a,b']);
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.text).error, `Cannot route request as 'fly-force-region' must be a region name such as "ams": got "a,b"`);
});

test('a connect failure is retried on another Machine, never the failed one again', async () => {
  const dead = await startBackend();
  const deadPort = dead.port;
  await dead.close();
  const { store, proxy } = world;
  store.putApp(fakeApp('flaky'));
  const broken = fakeMachine('flaky', deadPort, 'started', 'flaky-dead');
  // Started long ago, so the just-started retry on the same Machine does not apply.
  store.putMachine(machine('l1', 'flaky'));
  await proxy.table.whenRevision(store.putMachine({ ...broken, region: 'ams' }));
  for (let i = 0; i < 5; i += 1) {
    const before = proxy.metrics.retries('flaky');
    // Preferring the dead Machine makes it the first try; the retry must go elsewhere.
    const res = await send(world.port, { host: 'flaky.localhost', headers: ['fly-prefer-instance-id', 'flaky-dead'] });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'l1');
    assert.equal(proxy.metrics.retries('flaky') - before, 1);
  }
});

test('with concurrency type connections a keep-alive client holds its slot until it disconnects', async () => {
  const { store, proxy } = world;
  store.putApp(fakeApp('conns'));
  const only = machine('l3', 'conns', { concurrency: { type: 'connections', soft_limit: 1, hard_limit: 1 } });
  await proxy.table.whenRevision(store.putMachine(only));
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    // One client connection, three requests: it never competes with itself.
    for (let i = 0; i < 3; i += 1) assert.equal((await send(world.port, { host: 'conns.localhost', agent: keepAlive })).text, 'l3');
    assert.equal(proxy.balancer.loads.connections('conns-l3'), 1);
    // Another client waits while the first stays connected, and gets in once it leaves.
    const other = send(world.port, { host: 'conns.localhost' });
    await proxy.balancer.queue.whenLength('conns', 1);
    keepAlive.destroy();
    const res = await other;
    assert.equal(res.status, 200);
    assert.equal(res.text, 'l3');
  } finally {
    keepAlive.destroy();
  }
});
