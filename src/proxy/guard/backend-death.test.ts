import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { send } from '../testing/client.ts';
import { fakeApp, fakeMachine, startBackend, type Backend } from '../testing/fixtures.ts';
import { startProxyWorld, type ProxyWorld } from '../testing/world.ts';

let backend: Backend;
let world: ProxyWorld;
let midSent: () => void = () => {};

before(async () => {
  backend = await startBackend((req, res) => {
    req.resume();
    if (req.url === '/die-mid') {
      res.writeHead(200, { 'content-length': '1000000' });
      res.write('the first part', () => {
        midSent();
        // The Machine's process dies with most of the body unsent.
        res.socket?.destroy();
      });
    } else if (req.url === '/die-before') {
      req.socket.destroy();
    } else {
      req.on('end', () => res.end(`ok ${req.url}`));
    }
  });
  world = await startProxyWorld((store) => {
    store.putApp(fakeApp('web'));
    const machine = fakeMachine('web', backend.port);
    machine.config.services![0]!.concurrency = { type: 'requests', soft_limit: 100, hard_limit: 200 };
    store.putMachine(machine);
  });
});

after(async () => {
  await world.close();
  await backend.close();
});

/** A GET whose outcome is told as data: the status, the bytes before the end, and how it ended. */
function fetchOutcome(path: string): Promise<{ status: number; received: string; ended: 'complete' | 'cut' }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: world.port, path, headers: { host: 'web.localhost' }, agent: false }, (res) => {
      let received = '';
      res.on('data', (c: Buffer) => (received += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, received, ended: 'complete' }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, received, ended: 'cut' }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, received, ended: 'cut' }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a Machine dying mid-response cuts that client off; requests beside it are unaffected', async () => {
  const dying = fetchOutcome('/die-mid');
  await new Promise<void>((resolve) => (midSent = resolve));
  const beside = await Promise.all(Array.from({ length: 10 }, (_, i) => send(world.port, { host: 'web.localhost', path: `/n${i}` })));
  const outcome = await dying;
  assert.equal(outcome.status, 200);
  assert.equal(outcome.ended, 'cut', 'the client must see a broken response, not a short one that looks complete');
  assert.equal(outcome.received, 'the first part');
  assert.deepEqual(beside.map((r) => r.text), Array.from({ length: 10 }, (_, i) => `ok /n${i}`));
});

test('a Machine dying before answering gives that client a clean 502', async () => {
  const post = await send(world.port, { host: 'web.localhost', path: '/die-before', method: 'POST', body: 'data' });
  assert.equal(post.status, 502);
  assert.match(String(post.headers['aloft-error']), /^PROXY_BACKEND_(FAILED|UNREACHABLE)$/);
  assert.ok(typeof JSON.parse(post.text).error === 'string');
  const get = await send(world.port, { host: 'web.localhost', path: '/die-before' });
  assert.equal(get.status, 502);
  assert.equal((await send(world.port, { host: 'web.localhost', path: '/after' })).text, 'ok /after');
});
