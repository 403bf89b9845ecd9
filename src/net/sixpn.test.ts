import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isAloftError } from '../lib/errors.ts';
import { expandIpv6, formatIpv6, machineIpv6, parse6pn, sixpnGateway } from './sixpn.ts';

describe('sixpn', () => {
  it('lays out fdaa | network | host | machine | 2', () => {
    assert.equal(machineIpv6(1, 1, 5), 'fdaa:0:1:0:1:0:5:2');
    assert.equal(machineIpv6(0x3b99, 0x0a7b007d, 0x5e955bee), 'fdaa:0:3b99:a7b:7d:5e95:5bee:2');
    assert.equal(machineIpv6(0xffffffff, 0xffffffff, 0xffffffff), 'fdaa:ffff:ffff:ffff:ffff:ffff:ffff:2');
    assert.equal(machineIpv6(0, 0, 0), 'fdaa::2');
  });

  it('puts the gateway at fdaa:<net>:<host>::1', () => {
    assert.equal(sixpnGateway(1, 1), 'fdaa:0:1:0:1::1');
    assert.equal(sixpnGateway(0x12345678, 0x9abcdef0), 'fdaa:1234:5678:9abc:def0::1');
  });

  it('parses addresses back into their parts', () => {
    assert.deepEqual(parse6pn('fdaa:0:3b99:a7b:7d:5e95:5bee:2'), {
      network: 0x3b99,
      host: 0x0a7b007d,
      machine: 0x5e955bee,
      suffix: 2,
    });
    assert.deepEqual(parse6pn('fdaa:0:1:0:1::1'), { network: 1, host: 1, machine: 0, suffix: 1 });
    for (const [n, h, m] of [
      [0, 0, 0],
      [0xffffffff, 1, 0x10000],
      [7, 0xdeadbeef, 42],
    ] as const) {
      assert.deepEqual(parse6pn(machineIpv6(n, h, m)), { network: n, host: h, machine: m, suffix: 2 });
    }
  });

  it('refuses out-of-range parts with the field and value', () => {
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) {
      assert.throws(
        () => machineIpv6(1, 1, bad),
        (err) => isAloftError(err, 'INVALID_ARGUMENT') && /'machine' must be an integer from 0 to 4294967295/.test(err.message),
      );
    }
    assert.throws(() => sixpnGateway(2 ** 32, 0), /'network'/);
  });

  it('refuses addresses outside 6PN', () => {
    assert.throws(() => parse6pn('fd00::2'), /inside fdaa::\/16/);
    assert.throws(() => parse6pn('10.0.0.1'), /an IPv6 address/);
    assert.throws(() => parse6pn('fdaa::zz'), /an IPv6 address/);
  });

  it('formats and expands IPv6 text per RFC 5952', () => {
    assert.equal(formatIpv6([0xfdaa, 0, 0, 1, 0, 0, 0, 1]), 'fdaa:0:0:1::1');
    assert.equal(formatIpv6([0, 0, 0, 0, 0, 0, 0, 1]), '::1');
    assert.equal(formatIpv6([1, 0, 0, 0, 0, 0, 0, 0]), '1::');
    assert.equal(formatIpv6([1, 0, 2, 0, 3, 0, 4, 0]), '1:0:2:0:3:0:4:0');
    assert.deepEqual(expandIpv6('::'), [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(expandIpv6('fdaa:0:1::1'), [0xfdaa, 0, 1, 0, 0, 0, 0, 1]);
    assert.equal(expandIpv6('::ffff:1.2.3.4'), null);
  });
});
