import assert from 'node:assert/strict';
import { test } from 'node:test';
import { machineConfigSchema, parseDurationMs } from './machine-config.ts';

test('a config needs only an image, and keeps fields it does not know', () => {
  const parsed = machineConfigSchema.parse({ image: 'hello', future_field: { a: 1 } });
  assert.equal(parsed.image, 'hello');
  assert.deepEqual((parsed as Record<string, unknown>)['future_field'], { a: 1 });
});

test('a config without an image, or with a bad port, fails naming the field', () => {
  const missing = machineConfigSchema.safeParse({});
  assert.ok(!missing.success);
  assert.deepEqual(missing.error.issues[0]?.path, ['image']);
  const badPort = machineConfigSchema.safeParse({ image: 'x', services: [{ internal_port: 70000 }] });
  assert.ok(!badPort.success);
  assert.deepEqual(badPort.error.issues[0]?.path, ['services', 0, 'internal_port']);
});

test('durations parse as Go writes them, or as nanoseconds', () => {
  assert.equal(parseDurationMs('5s'), 5000);
  assert.equal(parseDurationMs('1m30s'), 90_000);
  assert.equal(parseDurationMs('250ms'), 250);
  assert.equal(parseDurationMs(2_000_000_000), 2000);
  assert.equal(parseDurationMs('5 seconds'), undefined);
  assert.equal(parseDurationMs(''), undefined);
});
