import assert from 'node:assert/strict';
import { test } from 'node:test';
import { instanceId, isMachineId, machineId, machineName } from './ids.ts';

test('machine ids are 14 lowercase hex characters and distinct', () => {
  const ids = new Set(Array.from({ length: 1000 }, machineId));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.ok(isMachineId(id), id);
  assert.ok(!isMachineId('ABCDEF01234567'));
  assert.ok(!isMachineId('0123456789abc'));
});

test('instance ids sort by creation time', () => {
  const a = instanceId(1_000);
  const b = instanceId(2_000_000_000_000);
  assert.ok(a < b);
});

test('machine names are word-word-number', () => {
  assert.match(machineName(), /^[a-z]+-[a-z]+-\d{1,4}$/);
});
