import assert from 'node:assert/strict';
import { test } from 'node:test';
import { underlayEndpoint } from '../platform/private-network.ts';
import { hostPrefix, hostRegistration } from './host-registration.ts';

const HOST = { id: 'h', region: 'ams', number: 7, ipv4Subnet: '172.19.0.0/16', drivers: ['runsc' as const] };

test('a host publishes the underlay endpoint it was given, and none without one', async () => {
  const withMesh = await hostRegistration('/tmp', HOST, 'k'.repeat(43) + '=', 'http://10.0.0.7:4281', underlayEndpoint('10.0.0.7', 51820));
  assert.deepEqual(withMesh.addresses, { underlay: '10.0.0.7:51820', sixpnPrefix: hostPrefix(7) });
  const embedded = await hostRegistration('/tmp', HOST, null, null);
  assert.equal(embedded.addresses.underlay, null);
});

test('an IPv6 underlay is bracketed, so the port stays apart', () => {
  assert.equal(underlayEndpoint('fd00:77::2', 51820), '[fd00:77::2]:51820');
  assert.equal(underlayEndpoint('192.0.2.1', 1), '192.0.2.1:1');
});
