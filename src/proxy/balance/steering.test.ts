import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toRouteEntry, type RouteEntry } from '../route-entry.ts';
import { fakeMachine } from '../testing/fixtures.ts';
import { forcedCandidates, readSteering } from './steering.ts';

test('the four steering headers are read, regions in lowercase', () => {
  assert.equal(readSteering({}), undefined);
  assert.deepEqual(
    readSteering({
      'fly-force-region': 'AMS',
      'fly-force-instance-id': '3d8d413b29d089',
      'fly-prefer-region': 'iad',
      'fly-prefer-instance-id': 'm-1',
    }),
    { forceRegion: 'ams', forceInstance: '3d8d413b29d089', preferRegion: 'iad', preferInstance: 'm-1' },
  );
  // The same value twice (a header repeated by a client library) is still one value.
  assert.deepEqual(readSteering({ 'fly-prefer-region': 'ams, ams' }), { preferRegion: 'ams' });
});

test('a malformed or ambiguous steering header says which header and what it held', () => {
  assert.deepEqual(readSteering({ 'fly-force-region': 'ams, iad' }), {
    header: 'fly-force-region',
    rule: 'a region name such as "ams"',
    value: 'ams, iad',
  });
  assert.deepEqual(readSteering({ 'fly-force-instance-id': '../etc' }), {
    header: 'fly-force-instance-id',
    rule: 'a Machine ID such as "3d8d413b29d089"',
    value: '../etc',
  });
  assert.equal((readSteering({ 'fly-prefer-region': '' }) as { header: string }).header, 'fly-prefer-region');
});

test('forcing keeps only the named region or Machine; preferring keeps all', () => {
  const at = (id: string, region: string): RouteEntry => ({ ...toRouteEntry(fakeMachine('a', 1, 'started', id), 0)!, region });
  const all = [at('m1', 'ams'), at('m2', 'iad'), at('m3', 'iad')];
  const ids = (list: readonly RouteEntry[]) => list.map((e) => e.machineId);
  assert.deepEqual(ids(forcedCandidates(all, undefined)), ['m1', 'm2', 'm3']);
  assert.deepEqual(ids(forcedCandidates(all, { preferRegion: 'ams', preferInstance: 'm2' })), ['m1', 'm2', 'm3']);
  assert.deepEqual(ids(forcedCandidates(all, { forceRegion: 'iad' })), ['m2', 'm3']);
  assert.deepEqual(ids(forcedCandidates(all, { forceInstance: 'm3' })), ['m3']);
  assert.deepEqual(ids(forcedCandidates(all, { forceRegion: 'ams', forceInstance: 'm3' })), []);
});
