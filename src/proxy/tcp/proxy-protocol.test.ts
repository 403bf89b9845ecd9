import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PROXY_V2_SIGNATURE, proxyHeader } from './proxy-protocol.ts';

const v4 = { sourceAddress: '::ffff:203.0.113.7', sourcePort: 51000, destinationAddress: '198.51.100.1', destinationPort: 443 };
const v6 = { sourceAddress: '2001:db8::7', sourcePort: 51000, destinationAddress: '::1', destinationPort: 5432 };

test('v1 is one line: TCP4 with IPv4-mapped addresses unwrapped, TCP6, else UNKNOWN', () => {
  assert.equal(proxyHeader(1, v4).toString(), 'PROXY TCP4 203.0.113.7 198.51.100.1 51000 443\r\n');
  assert.equal(proxyHeader(1, v6).toString(), 'PROXY TCP6 2001:db8::7 ::1 51000 5432\r\n');
  assert.equal(proxyHeader(1, { ...v4, destinationAddress: '::1' }).toString(), 'PROXY UNKNOWN\r\n');
});

test('v2 IPv4: signature, PROXY over TCP4, 12 address bytes', () => {
  const header = proxyHeader(2, v4);
  assert.deepEqual(header.subarray(0, 12), PROXY_V2_SIGNATURE);
  assert.deepEqual([...header.subarray(12, 16)], [0x21, 0x11, 0, 12]);
  assert.deepEqual([...header.subarray(16, 24)], [203, 0, 113, 7, 198, 51, 100, 1]);
  assert.equal(header.readUInt16BE(24), 51000);
  assert.equal(header.readUInt16BE(26), 443);
  assert.equal(header.length, 28);
});

test('v2 IPv6: 36 address bytes with "::" expanded; mixed families send LOCAL', () => {
  const header = proxyHeader(2, v6);
  assert.deepEqual([...header.subarray(12, 16)], [0x21, 0x21, 0, 36]);
  assert.equal(header.subarray(16, 32).toString('hex'), '20010db8000000000000000000000007');
  assert.equal(header.subarray(32, 48).toString('hex'), '00000000000000000000000000000001');
  assert.equal(header.readUInt16BE(48), 51000);
  assert.equal(header.readUInt16BE(50), 5432);
  assert.equal(proxyHeader(2, { ...v6, sourceAddress: '::ffff:10.0.0.1' }).toString('hex'), `${PROXY_V2_SIGNATURE.toString('hex')}20000000`);
});
