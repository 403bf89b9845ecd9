import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planLab } from './lab-plan.ts';
import { LAB_PORTS, planLabPlatform } from './lab-platform-plan.ts';

test('the platform plan: etcd on the first host of three regions, API and registry in the first, an agent per host, a proxy per edge', () => {
  const plan = planLab({ name: 'p', regions: 'ams,iad,sin,syd', hostsPerRegion: 2 });
  const platform = planLabPlatform(plan, '/run/aloft-lab/p');
  assert.deepEqual(platform.etcd.map((m) => [m.name, m.place, m.clientUrl]), [
    ['etcd-ams', 'ams-h1', 'http://10.1.11.2:2379'],
    ['etcd-iad', 'iad-h1', 'http://10.2.11.2:2379'],
    ['etcd-sin', 'sin-h1', 'http://10.3.11.2:2379'],
  ]);
  assert.equal(platform.storeUrl, 'etcd://10.1.11.2:2379,10.2.11.2:2379,10.3.11.2:2379');
  assert.equal(platform.api.url, `http://10.1.11.2:${LAB_PORTS.api}`);
  assert.equal(platform.registry.url, `http://10.1.11.2:${LAB_PORTS.registry}`);
  assert.equal(platform.agents.length, 8);
  // Host numbers, subnets and Machine namespace prefixes never collide; edges take N×10.
  const numbers = [...platform.agents.map((a) => a.hostNumber), ...platform.edges.map((e) => e.hostNumber)];
  assert.equal(new Set(numbers).size, numbers.length);
  assert.deepEqual(platform.edges.map((e) => [e.place, e.hostNumber, e.underlay]), [
    ['ams-edge', 10, '10.1.0.2'],
    ['iad-edge', 20, '10.2.0.2'],
    ['sin-edge', 30, '10.3.0.2'],
    ['syd-edge', 40, '10.4.0.2'],
  ]);
  assert.equal(new Set(platform.agents.map((a) => a.ipv4Subnet)).size, 8);
  assert.deepEqual(platform.agents.slice(0, 2).map((a) => [a.hostId, a.hostNumber, a.ipv4Subnet, a.netnsPrefix, a.underlay]), [
    ['ams-h1', 11, '172.20.11.0/24', 'al-p-m11-', '10.1.11.2'],
    ['ams-h2', 12, '172.20.12.0/24', 'al-p-m12-', '10.1.12.2'],
  ]);
  // The RTT table the API and proxies choose by is the backbone's, both ways.
  assert.equal(platform.rtt['ams']!['iad'], 80);
  assert.equal(platform.rtt['iad']!['ams'], 80);
  assert.equal(platform.rtt['sin']!['syd'], 95);
});

test('one or two regions get one etcd member each', () => {
  assert.equal(planLabPlatform(planLab({ name: 'q', regions: 'ams' }), '/x').etcd.length, 1);
  assert.equal(planLabPlatform(planLab({ name: 'q', regions: 'ams,iad' }), '/x').etcd.length, 2);
});

test('a region without hosts cannot hold the platform: the error names the field', () => {
  assert.throws(() => planLabPlatform(planLab({ name: 'q', regions: 'ams,iad', hostsPerRegion: 0 }), '/x'), /'hosts-per-region' must be at least 1 .*got 0/);
});
