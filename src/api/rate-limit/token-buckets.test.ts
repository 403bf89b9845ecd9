import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../lib/clock.ts';
import { TokenBuckets } from './token-buckets.ts';

const rule = { perSecond: 1, burst: 3 };

test('a bucket lets the burst through, then one per interval', () => {
  const clock = new ManualClock(1_000);
  const buckets = new TokenBuckets(clock);
  for (let i = 0; i < 3; i++) assert.equal(buckets.take('k', rule).allowed, true);
  assert.deepEqual(buckets.take('k', rule), { allowed: false, retryAfterS: 1 });
  clock.advance(999);
  assert.equal(buckets.take('k', rule).allowed, false);
  clock.advance(1);
  assert.equal(buckets.take('k', rule).allowed, true);
  assert.equal(buckets.take('k', rule).allowed, false);
});

test('keys are independent', () => {
  const buckets = new TokenBuckets(new ManualClock());
  for (let i = 0; i < 3; i++) buckets.take('a', rule);
  assert.equal(buckets.take('a', rule).allowed, false);
  assert.equal(buckets.take('b', rule).allowed, true);
});

test('Retry-After rounds up to whole seconds at slow rates', () => {
  const buckets = new TokenBuckets(new ManualClock());
  const slow = { perSecond: 0.25, burst: 1 };
  buckets.take('k', slow);
  assert.deepEqual(buckets.take('k', slow), { allowed: false, retryAfterS: 4 });
});

test('buckets that refilled are dropped, so idle clients cost no memory', () => {
  const clock = new ManualClock();
  const buckets = new TokenBuckets(clock);
  for (let i = 0; i < 10; i++) buckets.take(`k${i}`, rule);
  assert.equal(buckets.size, 10);
  clock.advance(1_000); // one token back: full again (burst 3, one taken)
  buckets.take('other', rule);
  assert.equal(buckets.size, 1);
});

test('memory stays bounded under a flood of distinct keys (regression guard)', () => {
  const buckets = new TokenBuckets(new ManualClock(), { maxKeys: 100 });
  for (let i = 0; i < 10_000; i++) buckets.take(`k${i}`, rule);
  assert.equal(buckets.size, 100);
});
