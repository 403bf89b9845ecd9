import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, startBackend } from '../testing/fixtures.ts';
import type { HealthCheckSpec } from './check-spec.ts';
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

test('http checks pass on 2xx only and never follow redirects', async () => {
  const seen: string[] = [];
  const backend = await startBackend((req, res) => {
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
  let hold: () => void = () => {};
  const backend = await startBackend((_req, res) => {
    hold = () => res.end();
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
    hold();
    await backend.close();
  }
});
