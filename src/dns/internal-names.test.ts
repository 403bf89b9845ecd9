import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInternalName } from './internal-names.ts';

test('each .internal name shape is recognised', () => {
  const cases: [string, unknown][] = [
    ['web.internal', { kind: 'app', app: 'web' }],
    ['global.web.internal', { kind: 'app', app: 'web' }],
    ['ams.web.internal', { kind: 'region', app: 'web', region: 'ams' }],
    ['top2.nearest.of.web.internal', { kind: 'nearest', app: 'web', count: 2 }],
    ['3d8d9d5c9e0e38.vm.web.internal', { kind: 'vm', app: 'web', machineId: '3d8d9d5c9e0e38' }],
    ['worker.process.web.internal', { kind: 'process', app: 'web', group: 'worker' }],
    ['vms.web.internal', { kind: 'vms', app: 'web' }],
    ['regions.web.internal', { kind: 'regions', app: 'web' }],
    ['_apps.internal', { kind: 'apps' }],
    ['_peer.internal', { kind: 'peers' }],
    ['_instances.internal', { kind: 'instances' }],
    ['example.com', { kind: 'external' }],
    ['internal.example.com', { kind: 'external' }],
    ['xinternal', { kind: 'external' }],
  ];
  for (const [name, want] of cases) assert.deepEqual(parseInternalName(name), want, name);
});

test('other names under .internal are unknown (NXDOMAIN), including top0 and top65', () => {
  for (const name of ['internal', '_x.internal', 'a.b.c.web.internal', 'top0.nearest.of.web.internal', 'top65.nearest.of.web.internal', 'top1.nearest.at.web.internal', 'x.y.web.internal', 'a.b.c.d.e.internal']) {
    assert.deepEqual(parseInternalName(name), { kind: 'unknown' }, name);
  }
});
