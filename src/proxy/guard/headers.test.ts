import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fakeApp, fakeMachine, startBackend, type Backend } from '../testing/fixtures.ts';
import { startProxyWorld, type ProxyWorld } from '../testing/world.ts';
import { rawExchange } from './raw-client.ts';

let backend: Backend;
let world: ProxyWorld;
let lastHeaders: Record<string, string | string[] | undefined> = {};

before(async () => {
  backend = await startBackend((req, res) => {
    lastHeaders = req.headers;
    // Hop-by-hop headers a careless app might send back.
    res.setHeader('connection', 'keep-alive, x-resp-hop');
    res.setHeader('x-resp-hop', 'private');
    res.setHeader('keep-alive', 'timeout=99');
    res.setHeader('proxy-authenticate', 'Basic');
    res.setHeader('trailer', 'x-checksum');
    res.setHeader('upgrade', 'h2c');
    res.setHeader('x-kept', 'yes');
    res.end('ok');
  });
  world = await startProxyWorld(
    (store) => {
      store.putApp(fakeApp('web'));
      store.putMachine(fakeMachine('web', backend.port));
    },
    { limits: { maxHeaders: 20, maxHeaderBytes: 4096 } },
  );
});

after(async () => {
  await world.close();
  await backend.close();
});

function request(extra: string[]): string {
  return `GET / HTTP/1.1\r\nHost: web.localhost\r\nConnection: close\r\n${extra.map((h) => `${h}\r\n`).join('')}\r\n`;
}

test('more header fields than the limit answer 431; at the limit they pass', async () => {
  // Host and Connection count too: 18 more make 20.
  const at = await rawExchange(world.port, request(Array.from({ length: 18 }, (_, i) => `X-H${i}: ${i}`)));
  assert.equal(at.status, 200);
  const over = await rawExchange(world.port, request(Array.from({ length: 19 }, (_, i) => `X-H${i}: ${i}`)));
  assert.equal(over.status, 431);
  assert.match(over.text, /aloft-error: PROXY_TOO_MANY_HEADERS/);
  assert.match(over.text, /header fields must number at most 20/);
  // Far over: Node keeps one past the limit, the guard still sees the excess.
  const flood = await rawExchange(world.port, request(Array.from({ length: 500 }, (_, i) => `X-H${i}: ${i}`)));
  assert.equal(flood.status, 431);
});

test('a header block over the size limit answers 431 and closes', async () => {
  const big = await rawExchange(world.port, request([`X-Big: ${'a'.repeat(5000)}`]));
  assert.equal(big.status, 431);
  const fits = await rawExchange(world.port, request([`X-Big: ${'a'.repeat(3000)}`]));
  assert.equal(fits.status, 200);
});

test('hop-by-hop headers are stripped both ways, Connection-listed ones included', async () => {
  const reply = await rawExchange(
    world.port,
    'GET / HTTP/1.1\r\nHost: web.localhost\r\nConnection: close, X-Secret\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\n' +
      'TE: trailers\r\nTrailer: x-sum\r\nProxy-Authorization: Basic Zm9v\r\nProxy-Connection: keep-alive\r\nX-Kept: 1\r\n\r\n',
  );
  assert.equal(reply.status, 200);
  for (const name of ['x-secret', 'keep-alive', 'te', 'trailer', 'proxy-authorization', 'proxy-connection']) {
    assert.equal(lastHeaders[name], undefined, `${name} reached the backend`);
  }
  assert.equal(lastHeaders['x-kept'], '1');
  const head = reply.text.split('\r\n\r\n')[0]!.toLowerCase();
  for (const name of ['x-resp-hop', 'proxy-authenticate', 'trailer', 'upgrade', 'keep-alive: timeout=99']) {
    assert.ok(!head.includes(name), `${name} reached the client:\n${head}`);
  }
  assert.match(head, /x-kept: yes/);
});
