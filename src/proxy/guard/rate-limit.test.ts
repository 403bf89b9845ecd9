import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { ManualClock } from '../../lib/clock.ts';
import { fakeApp, fakeMachine, startBackend, type Backend } from '../testing/fixtures.ts';
import { startProxyWorld, type ProxyWorld } from '../testing/world.ts';

let backend: Backend;
let world: ProxyWorld;
let served = 0;
const clock = new ManualClock(1_000_000);

before(async () => {
  backend = await startBackend((_req, res) => {
    served += 1;
    res.end('ok');
  });
  world = await startProxyWorld(
    (store) => {
      store.putApp(fakeApp('web'));
      store.putMachine(fakeMachine('web', backend.port));
    },
    { clock, limits: { rateLimit: { ratePerSecond: 2, burst: 5 } } },
  );
});

after(async () => {
  await world.close();
  await backend.close();
});

/** One GET from `localAddress` (127.0.0.1 and 127.0.0.2 are both loopback). */
function get(localAddress: string): Promise<{ status: number; retryAfter: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: world.port, localAddress, headers: { host: 'web.localhost' }, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], text }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a flood from one address gets 429 with Retry-After; another address is not affected', async () => {
  const flood = await Promise.all(Array.from({ length: 12 }, () => get('127.0.0.1')));
  const statuses = flood.map((r) => r.status).sort();
  assert.deepEqual(statuses, [...Array(5).fill(200), ...Array(7).fill(429)]);
  const refused = flood.find((r) => r.status === 429)!;
  assert.equal(refused.retryAfter, '1');
  assert.match(JSON.parse(refused.text).error, /client 127\.0\.0\.1 must make at most 2 requests\/s \(burst 5\)/);
  assert.equal(served, 5, 'refused requests never reached the Machine');

  const other = await Promise.all(Array.from({ length: 5 }, () => get('127.0.0.2')));
  assert.deepEqual(other.map((r) => r.status), [200, 200, 200, 200, 200]);

  // Half a second later the flooding address has one token again.
  clock.advance(500);
  assert.equal((await get('127.0.0.1')).status, 200);
  assert.equal((await get('127.0.0.1')).status, 429);
});

test('upgrade requests (WebSockets) meet the same limit: over it, 429 with Retry-After and nothing reaches the Machine', async () => {
  const address = '127.0.0.3';
  const before = served;
  // Use up this address's burst with plain requests, then ask for an upgrade.
  for (let i = 0; i < 5; i++) assert.equal((await get(address)).status, 200);
  const answer = await new Promise<{ status: number; retryAfter: string | undefined }>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: world.port,
      localAddress: address,
      headers: { host: 'web.localhost', connection: 'upgrade', upgrade: 'websocket' },
      agent: false,
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] });
    });
    req.on('upgrade', () => reject(new Error('the upgrade went through')));
    req.on('error', reject);
    req.end();
  });
  assert.equal(answer.status, 429);
  assert.equal(answer.retryAfter, '1');
  assert.equal(served, before + 5);
});
