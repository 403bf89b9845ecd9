import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpServicePort, toRouteEntry } from './route-entry.ts';
import { fakeMachine } from './testing/fixtures.ts';

test('the HTTP service is the one with port 80 or 443 and the http handler, else the first', () => {
  const services = [
    { protocol: 'tcp' as const, internal_port: 5432, ports: [{ port: 5432 }] },
    { protocol: 'tcp' as const, internal_port: 8080, ports: [{ port: 443, handlers: ['tls' as const, 'http' as const] }] },
  ];
  assert.equal(httpServicePort({ image: 'x', services }), 8080);
  assert.equal(httpServicePort({ image: 'x', services: [services[0]!] }), 5432);
  assert.equal(httpServicePort({ image: 'x' }), undefined);
});

test('a Machine without an address or services has no route entry', () => {
  const machine = fakeMachine('a', 3000);
  const entry = toRouteEntry(machine, 7);
  assert.equal(entry?.origin, 'http://127.0.0.1:3000');
  assert.equal(entry?.ipv6, 'fdaa::2');
  assert.equal(entry?.startedAt, 7);
  assert.equal(toRouteEntry({ ...machine, addresses: null }, 0), undefined);
  assert.equal(toRouteEntry({ ...machine, config: { image: 'x' } }, 0), undefined);
  assert.equal(toRouteEntry({ ...machine, addresses: { ipv4: '', ipv6: 'fdaa::5' } }, 0)?.origin, 'http://[fdaa::5]:3000');
});

test('the HTTP service’s concurrency and checks come with the entry, with Fly’s defaults', () => {
  const machine = fakeMachine('a', 3000);
  const plain = toRouteEntry(machine, 0)!;
  assert.deepEqual(plain.concurrency, { type: 'connections', softLimit: 20, hardLimit: 25 });
  assert.deepEqual(plain.checks, []);
  assert.equal(plain.instanceId, 'I1');
  const service = {
    ...machine.config.services![0]!,
    concurrency: { type: 'requests' as const, soft_limit: 50, hard_limit: 10 },
    checks: [
      { type: 'http' as const, path: 'healthz', interval: '1s', timeout: '500ms', grace_period: '2s', method: 'head' },
      { port: 3001 },
      { interval: 'soon' },
    ],
  };
  const configured = toRouteEntry({ ...machine, config: { ...machine.config, services: [service] } }, 0)!;
  // A soft limit above the hard one is clamped to it.
  assert.deepEqual(configured.concurrency, { type: 'requests', softLimit: 10, hardLimit: 10 });
  assert.deepEqual(configured.checks, [
    { type: 'http', port: 3000, method: 'HEAD', path: '/healthz', intervalMs: 1000, timeoutMs: 500, gracePeriodMs: 2000 },
    { type: 'tcp', port: 3001, method: 'GET', path: '/', intervalMs: 15_000, timeoutMs: 2000, gracePeriodMs: 0 },
    // An unreadable interval falls back to the default rather than dropping the check.
    { type: 'tcp', port: 3000, method: 'GET', path: '/', intervalMs: 15_000, timeoutMs: 2000, gracePeriodMs: 0 },
  ]);
});

test('dialled by 6PN (an edge on the backhaul), the entry has no IPv4 and its origin is the 6PN address', () => {
  const machine = fakeMachine('a', 3000);
  const six = toRouteEntry(machine, 0, 'ipv6')!;
  assert.equal(six.origin, 'http://[fdaa::2]:3000');
  assert.deepEqual([six.ipv4, six.ipv6, six.port], ['', 'fdaa::2', 3000]);
  // The default stays the host-local IPv4 (embedded `aloft up`).
  assert.equal(toRouteEntry(machine, 0, 'ipv4')?.origin, 'http://127.0.0.1:3000');
  assert.deepEqual(toRouteEntry(machine, 0), toRouteEntry(machine, 0, 'ipv4'));
  // No 6PN address: nothing an edge could dial, so no route rather than an IPv4 it cannot reach.
  assert.equal(toRouteEntry({ ...machine, addresses: { ipv4: '127.0.0.1', ipv6: '' } }, 0, 'ipv6'), undefined);
});
