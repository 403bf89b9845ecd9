import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { freePort } from '../lib/testing/free-port.ts';
import { selfSignedCert } from '../proxy/tls/self-signed.ts';
import { checkSpecOf, type HealthCheckSpec } from './check-spec.ts';
import { probe } from './probe.ts';

const spec = (over: Partial<HealthCheckSpec>): HealthCheckSpec => ({
  type: 'http',
  port: 1,
  method: 'GET',
  path: '/',
  intervalMs: 1000,
  timeoutMs: 1000,
  gracePeriodMs: 0,
  ...over,
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A server on a free loopback port; close() also ends any request still held open. */
async function listen(server: Server, handler: Handler): Promise<{ port: number; close(): Promise<void> }> {
  server.on('request', handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test('http checks pass on 2xx only and never follow redirects', async () => {
  const seen: string[] = [];
  const backend = await listen(createServer(), (req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === '/ok') res.writeHead(204).end();
    else if (req.url === '/moved') res.writeHead(302, { location: '/ok' }).end();
    else res.writeHead(500).end('no');
  });
  try {
    assert.deepEqual(await probe('127.0.0.1', spec({ port: backend.port, path: '/ok', method: 'HEAD' })), { ok: true, detail: '' });
    assert.deepEqual(await probe('127.0.0.1', spec({ port: backend.port, path: '/moved' })), { ok: false, detail: 'status 302' });
    assert.deepEqual(await probe('127.0.0.1', spec({ port: backend.port, path: '/bad' })), { ok: false, detail: 'status 500' });
    assert.deepEqual(seen, ['HEAD /ok', 'GET /moved', 'GET /bad']);
  } finally {
    await backend.close();
  }
});

test('tcp checks pass when the port accepts; refused and silent backends fail within the timeout', async () => {
  const backend = await listen(createServer(), () => {
    // Never answers: the http probe below must give up at its timeout.
  });
  try {
    assert.deepEqual(await probe('127.0.0.1', spec({ type: 'tcp', port: backend.port })), { ok: true, detail: '' });
    const closed = await freePort();
    assert.deepEqual(await probe('127.0.0.1', spec({ type: 'tcp', port: closed })), { ok: false, detail: 'ECONNREFUSED' });
    const started = Date.now();
    assert.deepEqual(await probe('127.0.0.1', spec({ port: backend.port, timeoutMs: 100 })), { ok: false, detail: 'timed out after 100 ms' });
    assert.ok(Date.now() - started < 1000);
    const controller = new AbortController();
    const aborted = probe('127.0.0.1', spec({ port: backend.port, timeoutMs: 10_000 }), controller.signal);
    controller.abort();
    assert.deepEqual(await aborted, { ok: false, detail: 'aborted' });
  } finally {
    await backend.close();
  }
});

test('with outputBytes, the output is the status line and the start of the body, or the error', async () => {
  const backend = await listen(createServer(), (req, res) => {
    if (req.url === '/long') res.writeHead(200).end('x'.repeat(10_000));
    else res.writeHead(503).end('database down\n');
  });
  try {
    assert.deepEqual(await probe('127.0.0.1', spec({ port: backend.port, path: '/long' }), undefined, 16), {
      ok: true,
      detail: '',
      output: `200 OK: ${'x'.repeat(16)}`,
    });
    assert.deepEqual(await probe('127.0.0.1', spec({ port: backend.port, path: '/down' }), undefined, 256), {
      ok: false,
      detail: 'status 503',
      output: '503 Service Unavailable: database down',
    });
    assert.deepEqual(await probe('127.0.0.1', spec({ type: 'tcp', port: backend.port }), undefined, 256), { ok: true, detail: '', output: 'Success' });
    const closed = await freePort();
    assert.deepEqual(await probe('127.0.0.1', spec({ type: 'tcp', port: closed }), undefined, 256), { ok: false, detail: 'ECONNREFUSED', output: 'ECONNREFUSED' });
  } finally {
    await backend.close();
  }
});

test("a check's headers (Fly's [{name, values}]) are sent with the request", async () => {
  let got: IncomingMessage['headers'] = {};
  const backend = await listen(createServer(), (req, res) => {
    got = req.headers;
    res.writeHead(200).end();
  });
  try {
    const check = checkSpecOf({ path: '/', headers: [{ name: 'X-Probe', values: ['a'] }, { name: 'Host', values: ['app.example'] }] }, backend.port);
    assert.equal((await probe('127.0.0.1', check)).ok, true);
    assert.equal(got['x-probe'], 'a');
    assert.equal(got.host, 'app.example');
    assert.equal(got['user-agent'], 'aloft-health-check');
  } finally {
    await backend.close();
  }
});

test('https checks speak TLS; a self-signed certificate fails unless tls_skip_verify', async () => {
  const cert = await selfSignedCert('app.example');
  const backend = await listen(createHttpsServer({ cert: cert.cert, key: cert.key }), (_req, res) => res.writeHead(200).end('secure'));
  try {
    const strict = checkSpecOf({ path: '/', protocol: 'https', tls_server_name: 'app.example' }, backend.port);
    const strictResult = await probe('127.0.0.1', strict);
    assert.equal(strictResult.ok, false);
    assert.match(strictResult.detail, /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
    const lax = checkSpecOf({ path: '/', protocol: 'https', tls_skip_verify: true }, backend.port);
    assert.deepEqual(await probe('127.0.0.1', lax, undefined, 64), { ok: true, detail: '', output: '200 OK: secure' });
    const plain = await probe('127.0.0.1', checkSpecOf({ path: '/' }, backend.port));
    assert.equal(plain.ok, false, 'plain http to a TLS port fails');
  } finally {
    await backend.close();
  }
});
