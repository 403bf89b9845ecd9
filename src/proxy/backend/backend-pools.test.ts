import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse, type IncomingMessage } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { BackendPools } from './backend-pools.ts';
import type { BackendController, BackendRequest } from './types.ts';
import { freePort } from '../../lib/testing/free-port.ts';

let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('ok');
let server: Server;
let origin: string;
const sockets = new Set<Socket>();

before(async () => {
  server = createServer((req, res) => handler(req, res));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

interface Outcome {
  started: boolean;
  status?: number;
  headers?: IncomingHttpHeaders;
  body: string;
  error?: Error & { code?: string };
  controller?: BackendController;
}

/** One exchange through `pools`, resolved when it ended either way. */
function send(pools: BackendPools, request: Partial<BackendRequest> = {}, hooks: { onData?: (c: BackendController) => void } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { started: false, body: '' };
    pools.dispatch(
      { origin, path: '/', method: 'GET', headers: ['host', 'test'], body: null, ...request },
      {
        onRequestStart: (c) => {
          out.started = true;
          out.controller = c;
        },
        onResponseStart: (_c, status, headers) => {
          out.status = status;
          out.headers = headers;
        },
        onResponseData: (c, chunk) => {
          out.body += chunk.toString();
          hooks.onData?.(c);
        },
        onResponseEnd: () => resolve(out),
        onResponseError: (_c, error) => resolve({ ...out, error }),
      },
    );
  });
}

test('one connection carries one request after another; each request head arrives whole', async () => {
  const seen: string[] = [];
  handler = (req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers['host']} ${req.headers['x-n']}`);
    res.end(`n=${req.headers['x-n']}`);
  };
  const pools = new BackendPools();
  try {
    for (let n = 0; n < 3; n++) {
      const out = await send(pools, { path: `/p?n=${n}`, headers: ['host', 'web', 'x-n', String(n)] });
      assert.equal(out.status, 200);
      assert.equal(out.body, `n=${n}`);
    }
    assert.deepEqual(seen, ['GET /p?n=0 web 0', 'GET /p?n=1 web 1', 'GET /p?n=2 web 2']);
    assert.equal(sockets.size, 1, 'the pooled connection was reused');
  } finally {
    await pools.close();
  }
});

test('request bodies: Content-Length sent as is, otherwise chunked', async () => {
  handler = (req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => res.end(`${req.headers['transfer-encoding'] ?? 'length'}:${body}`));
  };
  const pools = new BackendPools();
  try {
    const fixed = new PassThrough();
    fixed.end('abc');
    assert.equal((await send(pools, { method: 'POST', headers: ['host', 'x', 'content-length', '3'], body: fixed })).body, 'length:abc');
    const streamed = new PassThrough();
    const sent = send(pools, { method: 'POST', body: streamed });
    streamed.write('one,');
    streamed.end('two');
    assert.equal((await sent).body, 'chunked:one,two');
  } finally {
    await pools.close();
  }
});

test('a refused connection fails before the request starts, with Node’s code', async () => {
  const pools = new BackendPools();
  const out = await send(pools, { origin: `http://127.0.0.1:${await freePort()}` });
  assert.equal(out.started, false);
  assert.equal(out.error?.code, 'ECONNREFUSED');
  await pools.close();
});

test('a backend that never answers meets the headers timeout', async () => {
  const silent = createNetServer((socket) => socket.on('data', () => {}));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const pools = new BackendPools({ headersTimeoutMs: 100 });
  try {
    const out = await send(pools, { origin: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` });
    assert.equal(out.started, true);
    assert.equal(out.error?.code, 'UND_ERR_HEADERS_TIMEOUT');
  } finally {
    await pools.close();
    silent.close();
  }
});

test('a pooled connection the backend closed is not handed out again', async () => {
  handler = (_req, res) => res.end('ok');
  const pools = new BackendPools();
  try {
    await send(pools);
    const [socket] = sockets;
    socket!.destroy();
    await once(socket!, 'close');
    // Let the proxy side see the FIN before the next dispatch.
    await new Promise((resolve) => setImmediate(resolve));
    const out = await send(pools);
    assert.equal(out.body, 'ok');
  } finally {
    await pools.close();
  }
});

test('idle connections past the keep-alive timeout are closed; closeOrigin closes the rest', async () => {
  handler = (_req, res) => res.end('ok');
  const pools = new BackendPools({ keepAliveTimeoutMs: 300 });
  await send(pools);
  assert.equal(sockets.size, 1);
  const [socket] = sockets;
  await once(socket!, 'close'); // the sweep closed it
  await send(pools);
  assert.ok(pools.has(origin));
  await pools.closeOrigin(origin);
  assert.equal(pools.has(origin), false);
  await pools.close();
});

test('regression: a response that ended while the client paused it leaves the connection readable for the next', async () => {
  const big = 'x'.repeat(256 * 1024);
  handler = (req, res) => res.end(req.url === '/big' ? big : 'small');
  const pools = new BackendPools();
  try {
    let paused: BackendController | undefined;
    const first = await send(pools, { path: '/big' }, {
      onData: (c) => {
        if (paused === undefined) {
          paused = c;
          c.pause();
          setTimeout(() => c.resume(), 20);
        }
      },
    });
    assert.equal(first.body.length, big.length);
    paused!.pause(); // a stale controller: must not touch the connection's next exchange
    const second = await send(pools, { path: '/small' });
    assert.equal(second.body, 'small');
  } finally {
    await pools.close();
  }
});

test('abort ends the exchange with the reason and closes the connection', async () => {
  handler = (_req, res) => {
    res.writeHead(200);
    res.write('part');
  };
  const pools = new BackendPools();
  try {
    const reason = Object.assign(new Error('client left'), { code: 'TEST_GONE' });
    const out = await send(pools, {}, { onData: (c) => c.abort(reason) });
    assert.equal(out.error, reason);
    const [socket] = sockets;
    if (socket !== undefined) await once(socket, 'close'); // the backend sees the connection end
    assert.equal(sockets.size, 0);
  } finally {
    await pools.close();
  }
});
