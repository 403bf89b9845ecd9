import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4Capacity, ipv4Gateway, machineIpv4, parseIpv4Subnet } from './ipv4-subnet.ts';

describe('ipv4-subnet', () => {
  const subnet = parseIpv4Subnet('172.19.0.0/16');

  it('puts the gateway at the first host address', () => {
    assert.equal(ipv4Gateway(subnet), '172.19.0.1');
  });

  it('numbers machines from .0.2, skipping .0, .1 of block 0 and .255', () => {
    assert.equal(machineIpv4(subnet, 0), '172.19.0.2');
    assert.equal(machineIpv4(subnet, 252), '172.19.0.254');
    assert.equal(machineIpv4(subnet, 253), '172.19.1.1');
    assert.equal(machineIpv4(subnet, 506), '172.19.1.254');
    assert.equal(machineIpv4(subnet, 507), '172.19.2.1');
    assert.equal(machineIpv4(subnet, ipv4Capacity(subnet) - 1), '172.19.255.254');
  });

  it('never hands out the same address twice or a .0/.255', () => {
    const small = parseIpv4Subnet('10.9.0.0/22');
    const seen = new Set<string>();
    for (let i = 0; i < ipv4Capacity(small); i++) {
      const address = machineIpv4(small, i);
      assert.ok(!seen.has(address), address);
      assert.ok(!/\.(0|255)$/.test(address), address);
      assert.notEqual(address, '10.9.0.1');
      seen.add(address);
    }
    assert.equal(seen.size, 4 * 254 - 1);
  });

  it('refuses indexes beyond the subnet', () => {
    assert.throws(() => machineIpv4(subnet, ipv4Capacity(subnet)), /'index' must be an integer from 0 to 65022/);
    assert.throws(() => machineIpv4(subnet, -1), /'index'/);
  });

  it('refuses malformed subnets', () => {
    assert.throws(() => parseIpv4Subnet('172.19.0.0'), /CIDR notation/);
    assert.throws(() => parseIpv4Subnet('172.19.0.0/25'), /prefix length from 8 to 24/);
    assert.throws(() => parseIpv4Subnet('172.19.0.1/16'), /host bits zero/);
    assert.throws(() => parseIpv4Subnet('300.1.0.0/16'), /CIDR notation/);
  });
});
