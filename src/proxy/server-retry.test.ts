import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteEntry } from './route-entry.ts';
import type { RetryEvent } from './steps/forward.ts';
import { echoed, send } from './testing/client.ts';
import { fakeApp, fakeMachine, freePort, startBackend, type Backend } from './testing/fixtures.ts';
import { startProxyWorld } from './testing/world.ts';

/** A picker that always tries machine `id` first, so retries are deterministic. */
const prefer = (id: string) => (candidates: readonly RouteEntry[]) =>
  candidates.find((c) => c.machineId === id) ?? candidates[0]!;

test('a refused connection is retried on another started machine, body and all', async () => {
  const live = await startBackend();
  const dead = await freePort();
  const retries: RetryEvent[] = [];
  const world = await startProxyWorld(
    (store) => {
      store.putApp(fakeApp('a'));
      store.putMachine(fakeMachine('a', dead, 'started', 'm-dead'));
      store.putMachine(fakeMachine('a', live.port, 'started', 'm-live'));
    },
    { picker: prefer('m-dead'), onRetry: (e) => retries.push(e) },
  );
  try {
    const res = await send(world.port, { host: 'a.localhost', method: 'POST', body: 'twelve bytes' });
    assert.equal(res.status, 200);
    assert.equal(echoed(res).bodyLength, 12);
    assert.deepEqual(retries.map((r) => [r.machineId, (r.error as NodeJS.ErrnoException).code]), [['m-dead', 'ECONNREFUSED']]);
    assert.equal(world.proxy.metrics.retries('a'), 1);
  } finally {
    await world.close();
    await live.close();
  }
});

test('a machine that just started is retried until it listens', async () => {
  const port = await freePort();
  let backend: Backend | undefined;
  let listening: Promise<Backend> | undefined;
  const world = await startProxyWorld(
    (store) => {
      store.putApp(fakeApp('a'));
      store.putMachine(fakeMachine('a', port, 'started', 'm1'));
    },
    {
      // Its process "binds its port" once the proxy has been refused once.
      onRetry: () => void (listening ??= startBackend(undefined, port)),
    },
  );
  try {
    const res = await send(world.port, { host: 'a.localhost' });
    backend = await listening;
    assert.equal(res.status, 200);
    assert.equal(echoed(res).method, 'GET');
    assert.ok(world.proxy.metrics.retries('a') >= 1);
  } finally {
    await world.close();
    await backend?.close();
  }
});

test('a just-started machine that never listens is a 502 once the retry budget is spent', async () => {
  const port = await freePort();
  let attempts = 0;
  const world = await startProxyWorld(
    (store) => {
      store.putApp(fakeApp('a'));
      store.putMachine(fakeMachine('a', port, 'started', 'm1'));
    },
    { retry: { budgetMs: 150 }, onRetry: (e) => void (attempts = e.attempts) },
  );
  try {
    const res = await send(world.port, { host: 'a.localhost' });
    assert.equal(res.status, 502);
    assert.equal(res.headers['aloft-error'], 'PROXY_BACKEND_UNREACHABLE');
    assert.match(JSON.parse(res.text).error, new RegExp(`Cannot reach app "a".*machine m1 at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    assert.ok(attempts > 1, `retried the just-started machine (${attempts} attempts)`);
  } finally {
    await world.close();
  }
});

test('a machine started long ago that refuses is a 502 at once', async () => {
  const port = await freePort();
  let attempts = 0;
  const world = await startProxyWorld(
    (store) => {
      store.putApp(fakeApp('a'));
      store.putMachine(fakeMachine('a', port, 'started', 'm1'));
    },
    { retry: { justStartedMs: 0 }, onRetry: (e) => void (attempts = e.attempts) },
  );
  try {
    const res = await send(world.port, { host: 'a.localhost' });
    assert.equal(res.status, 502);
    assert.match(JSON.parse(res.text).error, /1 attempt on 1 machine/);
    assert.equal(attempts, 0, 'no retry was made');
    assert.equal(world.proxy.metrics.retries('a'), 0);
  } finally {
    await world.close();
  }
});

test('a pooled connection the backend closed is retried once for a GET', async () => {
  // The first connection answers one request, then is reset when the next one comes:
  // what a backend closing an idle keep-alive connection looks like to the proxy.
  let requests = 0;
  const backend = await startBackend((req, res) => {
    requests += 1;
    if (requests === 2) req.socket.destroy();
    else res.end(`answer ${requests}`);
  });
  const world = await startProxyWorld((store) => {
    store.putApp(fakeApp('a'));
    store.putMachine(fakeMachine('a', backend.port, 'started', 'm1'));
  }, { retry: { justStartedMs: 0 } });
  try {
    assert.equal((await send(world.port, { host: 'a.localhost' })).text, 'answer 1');
    assert.equal((await send(world.port, { host: 'a.localhost' })).text, 'answer 3');
  } finally {
    await world.close();
    await backend.close();
  }
});
