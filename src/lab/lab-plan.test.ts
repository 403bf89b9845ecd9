import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isAloftError } from '../lib/errors.ts';
import { planLab, planNamespaces, resolvePlace } from './lab-plan.ts';
import { labRtt } from './rtt.ts';
import { summarize } from './failover.ts';

describe('planLab', () => {
  const plan = planLab({ name: 'demo', regions: 'ams,iad,sin', hostsPerRegion: 2 });

  it('names every namespace with the lab prefix and gives each region a router, edge, client and hosts', () => {
    assert.equal(plan.prefix, 'al-demo-');
    const all = planNamespaces(plan);
    assert.equal(all.length, 1 + 3 * 5);
    assert.ok(all.every((ns) => ns.startsWith('al-demo-')));
    assert.deepEqual(
      plan.regions.map((r) => [r.code, r.routerNs, r.edge.ns, r.client.ns, r.hosts.map((h) => h.place)]),
      [
        ['ams', 'al-demo-ams-router', 'al-demo-ams-edge', 'al-demo-ams-client', ['ams-h1', 'ams-h2']],
        ['iad', 'al-demo-iad-router', 'al-demo-iad-edge', 'al-demo-iad-client', ['iad-h1', 'iad-h2']],
        ['sin', 'al-demo-sin-router', 'al-demo-sin-edge', 'al-demo-sin-client', ['sin-h1', 'sin-h2']],
      ],
    );
  });

  it('joins every pair of regions with the realistic RTT', () => {
    assert.deepEqual(
      plan.backbone.map((l) => [l.name, l.rttMs]),
      [
        ['ams-iad', 80],
        ['ams-sin', 160],
        ['iad-sin', 220],
      ],
    );
    const ports = plan.backbone.flatMap((l) => Object.values(l.ports));
    assert.equal(new Set(ports).size, ports.length, 'relay ports are unique');
  });

  it('gives addresses in canonical form (as ip prints them) without overlaps', () => {
    const ams = plan.regions[0]!;
    assert.deepEqual(ams.edge.addresses.ipv6, { near: 'fd10:0:1::1', far: 'fd10:0:1::2', bits: 64 });
    const v4 = plan.regions.flatMap((r) => [r.edge, r.client, ...r.hosts].flatMap((a) => [a.addresses.ipv4.near, a.addresses.ipv4.far]));
    assert.equal(new Set(v4).size, v4.length);
  });

  it('refuses names that would not fit interface and namespace rules, unknown regions, too many hosts', () => {
    assert.throws(() => planLab({ name: 'Has-Dash', regions: 'ams' }), /'name' must be a letter then up to 7 of \[a-z0-9\]/);
    assert.throws(() => planLab({ name: 'x', regions: 'ams,zzz' }), (err) => isAloftError(err, 'REGION_UNKNOWN'));
    assert.throws(() => planLab({ name: 'x', regions: 'ams', hostsPerRegion: 9 }), /'hosts-per-region' must be an integer from 0 to 8: got 9/);
  });

  it('resolves places: a region is its client, names without the prefix, inet', () => {
    assert.equal(resolvePlace(plan, 'iad'), 'al-demo-iad-client');
    assert.equal(resolvePlace(plan, 'sin-edge'), 'al-demo-sin-edge');
    assert.equal(resolvePlace(plan, 'inet'), 'al-demo-inet');
    assert.throws(() => resolvePlace(plan, 'fra'), /'place' must be a region, inet, or one of/);
  });
});

describe('labRtt', () => {
  it('reads the table either way round and estimates unlisted pairs by area', () => {
    assert.equal(labRtt('iad', 'ams'), 80);
    assert.equal(labRtt('ams', 'ams'), 0);
    assert.equal(labRtt('ams', 'arn'), 25);
    assert.equal(labRtt('arn', 'bog'), 150);
  });
});

describe('summarize (failover arithmetic)', () => {
  it('measures from the fault to the first probe the new edge answered, counting the lost ones between', () => {
    const records = [
      { seq: 0, sentMs: 1000, region: 'ams' },
      { seq: 1, sentMs: 1010, region: 'ams' },
      { seq: 2, sentMs: 1020, region: null },
      { seq: 3, sentMs: 1030, region: null },
      { seq: 4, sentMs: 1040, region: 'iad' },
      { seq: 5, sentMs: 1050, region: null },
    ];
    assert.deepEqual(summarize(records, 1015), { from: 'ams', to: 'iad', failoverMs: 25, lost: 2, sent: 6 });
  });
});
