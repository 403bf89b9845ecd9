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
