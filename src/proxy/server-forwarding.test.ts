import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { echoed, send } from './testing/client.ts';
import { fakeApp, fakeMachine, startBackend, type Backend } from './testing/fixtures.ts';
import { startProxyWorld, type ProxyWorld } from './testing/world.ts';

/** Each test sets how the one backend answers. */
let handler: (req: IncomingMessage, res: ServerResponse) => void;
let backend: Backend;
let world: ProxyWorld;

before(async () => {
  backend = await startBackend((req, res) => handler(req, res));
  world = await startProxyWorld(
    (store) => {
      store.putApp(fakeApp('web'));
      store.putMachine(fakeMachine('web', backend.port, 'started', 'm-web'));
    },
    { region: 'ams' },
  );
});

after(async () => {
  await world.close();
  await backend.close();
});

test('requests carry Fly’s headers, minus hop-by-hop ones; responses get Fly-Request-Id and Via', async () => {
  const { echo } = await import('./testing/fixtures.ts');
  handler = (req, res) => {
    res.setHeader('connection', 'keep-alive, x-hop');
    res.setHeader('x-hop', 'secret');
    res.setHeader('keep-alive', 'timeout=77');
    echo(req, res);
  };
  const res = await send(world.port, {
    host: 'web.localhost',
    path: '/p?q=1',
    headers: ['X-Forwarded-For', '203.0.113.7', 'Connection', 'X-Private', 'X-Private', '1', 'TE', 'trailers', 'Fly-Client-IP', '6.6.6.6', 'X-App', 'kept'],
  });
  assert.equal(res.status, 200);
  const seen = echoed(res);
  assert.equal(seen.url, '/p?q=1');
  assert.equal(seen.headers['host'], 'web.localhost');
  assert.equal(seen.headers['x-app'], 'kept');
  assert.equal(seen.headers['fly-client-ip'], '127.0.0.1');
  assert.equal(seen.headers['fly-region'], 'ams');
  assert.equal(seen.headers['fly-forwarded-port'], String(world.port));
  assert.equal(seen.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers['x-forwarded-port'], String(world.port));
  assert.equal(seen.headers['via'], '1.1 aloft');
  assert.equal(seen.headers['x-private'], undefined);
  assert.equal(seen.headers['te'], undefined);
  assert.match(String(res.headers['fly-request-id']), /-ams$/);
  assert.equal(seen.headers['fly-request-id'], res.headers['fly-request-id']);
  assert.equal(res.headers['via'], '1.1 aloft');
  assert.equal(res.headers['x-hop'], undefined);
  // The edge's own keep-alive with the client (Node's), not the backend's.
  assert.notEqual(res.headers['keep-alive'], 'timeout=77');
});

test('a large body passes both ways', async () => {
  const size = 24 * 1024 * 1024;
  handler = (req, res) => {
    let received = 0;
    req.on('data', (chunk: Buffer) => void (received += chunk.length));
    req.on('end', () => {
      res.setHeader('x-received', String(received));
      const chunk = Buffer.alloc(64 * 1024, 7);
      Readable.from((function* () { for (let sent = 0; sent < size; sent += chunk.length) yield chunk; })()).pipe(res);
    });
  };
  const upload = Readable.from((function* () { const c = Buffer.alloc(64 * 1024, 1); for (let n = 0; n < size; n += c.length) yield c; })());
  const res = await send(world.port, { host: 'web.localhost', method: 'POST', body: upload });
  assert.equal(res.headers['x-received'], String(size));
  assert.equal(res.body.length, size);
});

test('every byte value passes unchanged, whatever the body size and framing, over one kept-alive connection each side', async () => {
  // The last chunk of a small body reaches the client by another path than a large
  // one's (exchange.ts sends it as a latin1 string with the head): both must be exact.
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) % 256));
  const cases = [0, 1, 256, 2047, 2048, 2049, 70_000].flatMap((size) => [
    { size, chunked: false },
    { size, chunked: true },
  ]);
  handler = (req, res) => {
    const size = Number(req.headers['x-size']);
    if (req.headers['x-chunked'] === '1') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(bytes(size).subarray(0, size >> 1));
      res.end(bytes(size).subarray(size >> 1));
    } else {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
      res.end(bytes(size));
    }
  };
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (const { size, chunked } of cases) {
      const res = await send(world.port, { host: 'web.localhost', agent, headers: ['x-size', String(size), 'x-chunked', chunked ? '1' : '0'] });
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(bytes(size)), `${size} bytes, ${chunked ? 'chunked' : 'with a length'}`);
      assert.equal(res.headers['via'], '1.1 aloft');
    }
  } finally {
    agent.destroy();
  }
});

test('bodies stream: each side sees the first bytes before the other side has finished', async () => {
  // The backend answers the first request chunk before the client sends the rest, and
  // the client sends the rest only once it saw the answer's first chunk: a proxy that
  // buffered either body would deadlock here.
  handler = (req, res) => {
    req.once('data', () => {
      res.writeHead(200);
      res.write('first;');
      req.on('data', () => {});
      req.on('end', () => res.end('last'));
    });
  };
  const body = new PassThrough();
  const req = httpRequest({ host: '127.0.0.1', port: world.port, method: 'POST', headers: { host: 'web.localhost' }, agent: false });
  body.pipe(req);
  body.write('hello');
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  const [first] = (await once(res, 'data')) as [Buffer];
  assert.equal(first.toString(), 'first;');
  const rest: Buffer[] = [];
  res.on('data', (chunk: Buffer) => rest.push(chunk));
  body.end('bye');
  await once(res, 'end');
  assert.equal(Buffer.concat(rest).toString(), 'last');
});

test('backend connections are pooled and reused; client connections are kept alive', async () => {
  handler = (_req, res) => res.end('ok');
  await send(world.port, { host: 'web.localhost' });
  const before = backend.connections;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const reused: boolean[] = [];
    for (let i = 0; i < 5; i += 1) {
      const req = httpRequest({ host: '127.0.0.1', port: world.port, headers: { host: 'web.localhost' }, agent });
      req.end();
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      res.resume();
      await once(res, 'end');
      reused.push(req.reusedSocket);
    }
    assert.deepEqual(reused, [false, true, true, true, true]);
    assert.equal(backend.connections, before);
  } finally {
    agent.destroy();
  }
});

test('a client that goes away aborts its backend request', async () => {
  let backendClosed!: Promise<unknown[]>;
  const arrived = new Promise<void>((resolve) => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('working');
      backendClosed = once(res, 'close');
      resolve();
    };
  });
  const req = httpRequest({ host: '127.0.0.1', port: world.port, headers: { host: 'web.localhost' }, agent: false });
  req.on('error', () => {});
  req.end();
  await arrived;
  req.destroy();
  await backendClosed;
});

test('a backend that fails mid-response cuts the client connection', async () => {
  handler = (_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
    setImmediate(() => res.destroy());
  };
  await assert.rejects(send(world.port, { host: 'web.localhost' }), (err: NodeJS.ErrnoException) =>
    ['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE'].includes(err.code ?? '') || /aborted/.test(err.message),
  );
});

test('a backend that drops a request after reading its body is a 502, not a replay', async () => {
  let calls = 0;
  handler = (req) => {
    calls += 1;
    req.once('data', () => req.socket.destroy());
  };
  const res = await send(world.port, { host: 'web.localhost', method: 'POST', body: Buffer.alloc(1024 * 1024, 1) });
  assert.equal(res.status, 502);
  assert.equal(res.headers['aloft-error'], 'PROXY_BACKEND_FAILED');
  assert.equal(calls, 1);
});

test('HEAD and 204 answers pass without a body', async () => {
  handler = (req, res) => {
    if (req.method === 'HEAD') res.writeHead(200, { 'content-length': '10' }).end();
    else res.writeHead(204).end();
  };
  const head = await send(world.port, { host: 'web.localhost', method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '10');
  assert.equal(head.body.length, 0);
  const empty = await send(world.port, { host: 'web.localhost', method: 'DELETE' });
  assert.equal(empty.status, 204);
  assert.equal(empty.body.length, 0);
});
