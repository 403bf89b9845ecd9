import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { after, before, test } from 'node:test';
import { send } from '../testing/client.ts';
import { fakeApp, fakeMachine, startBackend, type Backend } from '../testing/fixtures.ts';
import { startProxyWorld, type ProxyWorld } from '../testing/world.ts';
import { slowClient } from './raw-client.ts';

let backend: Backend;
let world: ProxyWorld;
/** Emits 'post' each time a POST's headers reach the backend. */
const arrivals = new EventEmitter();
let posts = 0;

before(async () => {
  backend = await startBackend((req, res) => {
    if (req.method === 'POST') {
      posts += 1;
      arrivals.emit('post');
    }
    req.resume();
    req.on('end', () => res.end('served'));
  });
  world = await startProxyWorld(
    (store) => {
      store.putApp(fakeApp('web'));
      // A slow body is streamed to the Machine as it comes, so each one holds one of
      // its concurrency slots until cut; a high hard_limit keeps this test about the
      // edge (with Fly's default of 25 the normal request would rightly queue).
      const machine = fakeMachine('web', backend.port);
      machine.config.services![0]!.concurrency = { type: 'requests', soft_limit: 500, hard_limit: 1000 };
      store.putMachine(machine);
    },
    // Short limits so the test runs in about a second; defaults are 10 s / 30 s.
    { limits: { headersTimeoutMs: 1000, bodyIdleTimeoutMs: 1000, requestTimeoutMs: 5000, checkIntervalMs: 50 } },
  );
});

after(async () => {
  await world.close();
  await backend.close();
});

test('50 slow clients (headers or bodies) are cut by timeouts and do not delay a normal request', async () => {
  // Warm up first (module loading, the first backend connection), then measure.
  const alone = Date.now();
  await send(world.port, { host: 'web.localhost' });
  const aloneMs = Date.now() - alone;
  const slowHeaders = Array.from({ length: 25 }, () => slowClient(world.port, 'GET / HTTP/1.1\r\nHost: web.localhost\r\nX-Drip: '));
  const slowBodies = Array.from({ length: 25 }, () =>
    slowClient(world.port, 'POST / HTTP/1.1\r\nHost: web.localhost\r\nContent-Length: 100000\r\n\r\nonly a little'),
  );
  let cut = 0;
  for (const client of [...slowHeaders, ...slowBodies]) void client.closed.then(() => (cut += 1));
  // Every slow body is in flight to the Machine before the normal request goes.
  while (posts < 25) await once(arrivals, 'post');
  const started = Date.now();
  const res = await send(world.port, { host: 'web.localhost' });
  const tookMs = Date.now() - started;
  assert.equal(res.text, 'served');
  // Served meanwhile: while all 50 still hang on, not after the timeouts freed the edge.
  assert.equal(cut, 0, 'the normal request was answered only after slow clients were cut');
  assert.ok(tookMs < 500, `a normal request took ${tookMs} ms beside 50 slow clients (${aloneMs} ms when cold and alone)`);

  const headerReplies = await Promise.all(slowHeaders.map((c) => c.closed));
  // Node answers a header block that never completes with 408 and hangs up.
  for (const reply of headerReplies) assert.match(reply, /^(HTTP\/1\.1 408|$)/);
  const bodyReplies = await Promise.all(slowBodies.map((c) => c.closed));
  // A stalled body: the connection is cut (no answer can be given mid-request).
  for (const reply of bodyReplies) assert.doesNotMatch(reply, /served/);
  const cutAfterMs = Date.now() - started;
  assert.ok(cutAfterMs < 4000, `slow clients were cut after ${cutAfterMs} ms`);
  // And the edge still serves.
  assert.equal((await send(world.port, { host: 'web.localhost' })).text, 'served');
});

test('a body that keeps moving is not cut by the idle timeout', async () => {
  const { socket, closed } = slowClient(world.port, 'POST / HTTP/1.1\r\nHost: web.localhost\r\nContent-Length: 6\r\nConnection: close\r\n\r\nab');
  // Two more pieces, each sent when the previous one is surely in (the write callback), well inside 1 s.
  await new Promise<void>((resolve) => socket.write('cd', () => resolve()));
  await new Promise<void>((resolve) => socket.write('ef', () => resolve()));
  assert.match(await closed, /served$/);
});
