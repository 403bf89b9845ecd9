import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteEntry } from '../route-entry.ts';
import { chooseMachine, type ChooseOptions } from './choose.ts';
import { rttBetween, validateRttTable } from './region-rtt.ts';

function entry(id: string, region = 'ams', soft = 2, hard = 4): RouteEntry {
  return {
    appName: 'a',
    machineId: id,
    instanceId: `I-${id}`,
    region,
    state: 'started',
    ipv4: '127.0.0.1',
    ipv6: '',
    port: 1,
    origin: 'http://127.0.0.1:1',
    startedAt: 0,
    concurrency: { type: 'requests', softLimit: soft, hardLimit: hard },
    checks: [],
  };
}

const rtt = { ams: { fra: 10, iad: 80 } };

function options(loads: Record<string, number>, extra: Partial<ChooseOptions> = {}): ChooseOptions {
  return { region: 'ams', rtt, loadOf: (e) => loads[e.machineId] ?? 0, random: () => 0, ...extra };
}

const choose = (c: RouteEntry[], loads: Record<string, number>, extra: Partial<ChooseOptions> = {}) =>
  chooseMachine(c, options(loads, extra))?.machineId;

test('the least-loaded Machine of the edge region wins', () => {
  const c = [entry('a'), entry('b'), entry('c')];
  assert.equal(choose(c, { a: 1, b: 0, c: 1 }), 'b');
});

test('ties among the least loaded are broken at random', () => {
  const c = [entry('a'), entry('b'), entry('c')];
  const loads = { a: 0, b: 1, c: 0 };
  assert.equal(choose(c, loads, { random: () => 0 }), 'a');
  assert.equal(choose(c, loads, { random: () => 0.99 }), 'c');
  const seen = new Set<string | undefined>();
  for (let i = 0; i < 200; i += 1) seen.add(choose(c, loads, { random: Math.random }));
  assert.deepEqual([...seen].sort(), ['a', 'c']);
});

test('a Machine at or over soft_limit is chosen only when all others are', () => {
  // a is the least loaded but over its own (lower) soft limit; b is under its own.
  const c = [entry('a', 'ams', 1, 10), entry('b', 'ams', 5, 10)];
  assert.equal(choose(c, { a: 1, b: 3 }), 'b');
  // Both at or over soft: the least loaded again.
  assert.equal(choose(c, { a: 2, b: 5 }), 'a');
});

test('a Machine at hard_limit is never chosen; all at hard_limit is undefined', () => {
  const c = [entry('a'), entry('b')];
  assert.equal(choose(c, { a: 4, b: 3 }), 'b');
  assert.equal(choose(c, { a: 4, b: 4 }), undefined);
  assert.equal(choose(c, { a: 9, b: 4 }), undefined);
});

test('other regions only when every local Machine is at hard_limit, nearest first', () => {
  const c = [entry('local'), entry('fra1', 'fra'), entry('iad1', 'iad')];
  // The local one is over soft (3 ≥ 2) but under hard: it still wins over idle remote ones.
  assert.equal(choose(c, { local: 3 }), 'local');
  assert.equal(choose(c, { local: 4 }), 'fra1');
  assert.equal(choose(c, { local: 4, fra1: 4 }), 'iad1');
  // Unhealthy Machines are not candidates at all (the table leaves them out).
  assert.equal(choose([entry('fra1', 'fra'), entry('iad1', 'iad')], {}), 'fra1');
});

test('unknown region pairs are farther than any measured one, and RTTs read both ways', () => {
  const c = [entry('syd1', 'syd'), entry('iad1', 'iad')];
  assert.equal(choose(c, {}), 'iad1');
  assert.equal(choose(c, {}, { region: 'iad', rtt: { ams: { iad: 80 } } }), 'iad1');
  assert.equal(rttBetween(rtt, 'iad', 'ams'), 80);
  assert.equal(rttBetween(rtt, 'ams', 'ams'), 0);
  assert.equal(rttBetween(rtt, 'ams', 'syd'), Number.POSITIVE_INFINITY);
  // Only unknown ones left: still chosen (far is not never).
  assert.equal(choose([entry('syd1', 'syd')], {}), 'syd1');
});

test('fly-prefer-instance-id takes that Machine when it is under hard_limit, else the normal choice', () => {
  const c = [entry('a'), entry('b', 'iad')];
  assert.equal(choose(c, { a: 0, b: 3 }, { preferInstance: 'b' }), 'b');
  assert.equal(choose(c, { a: 0, b: 4 }, { preferInstance: 'b' }), 'a');
  assert.equal(choose(c, {}, { preferInstance: 'ghost' }), 'a');
});

test('fly-prefer-region makes that region the closest when it has room, else the normal choice', () => {
  const c = [entry('a'), entry('i1', 'iad'), entry('i2', 'iad')];
  assert.equal(choose(c, { i1: 1 }, { preferRegion: 'iad' }), 'i2');
  assert.equal(choose(c, { i1: 4, i2: 4 }, { preferRegion: 'iad' }), 'a');
  assert.equal(choose(c, {}, { preferRegion: 'nrt' }), 'a');
});

test('a bad RTT table is refused with the field and value', () => {
  assert.deepEqual(validateRttTable({ ams: { iad: 80 } }), { ams: { iad: 80 } });
  assert.throws(() => validateRttTable([]), { code: 'INVALID_ARGUMENT', message: /'rtt' must be an object/ });
  assert.throws(() => validateRttTable({ ams: { iad: -1 } }), {
    message: "Cannot configure proxy as 'rtt.ams.iad' must be a finite number of milliseconds ≥ 0: got -1",
  });
  assert.throws(() => validateRttTable({ 'AMS!': {} }), { message: /must be keyed by region names/ });
});
