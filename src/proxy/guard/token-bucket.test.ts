import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AloftError } from '../../lib/errors.ts';
import { httpServerOptions, resolveLimits } from './limits.ts';
import { TokenBuckets } from './token-bucket.ts';

test('a bucket allows its burst, then one request per 1/rate, per address', () => {
  const buckets = new TokenBuckets({ ratePerSecond: 2, burst: 3 });
  assert.deepEqual([0, 0, 0].map(() => buckets.take('a', 0)), [0, 0, 0]);
  assert.equal(buckets.take('a', 0), 500, 'the next token comes in 500 ms');
  assert.equal(buckets.take('b', 0), 0, 'another address has its own bucket');
  assert.equal(buckets.take('a', 250), 250);
  assert.equal(buckets.take('a', 500), 0);
  // Refills stop at the burst.
  assert.deepEqual([0, 0, 0, 0].map(() => buckets.take('a', 60_000)), [0, 0, 0, 500]);
});

test('the least recently seen address is forgotten past maxClients', () => {
  const buckets = new TokenBuckets({ ratePerSecond: 1, burst: 1, maxClients: 2 });
  buckets.take('a', 0);
  buckets.take('b', 0);
  assert.equal(buckets.take('a', 0), 1000, 'a is seen again (and now most recent)');
  buckets.take('c', 0);
  assert.equal(buckets.size, 2);
  assert.equal(buckets.take('a', 0), 1000, 'a was kept');
  assert.equal(buckets.take('b', 0), 0, 'b was forgotten, so starts full');
});

test('limits get defaults, are checked, and set Node’s strict parser and timeouts', () => {
  const limits = resolveLimits();
  assert.equal(limits.headersTimeoutMs, 10_000);
  assert.equal(limits.maxHeaders, 100);
  assert.equal(limits.rateLimit, undefined);
  assert.deepEqual(httpServerOptions(limits), {
    insecureHTTPParser: false,
    maxHeaderSize: 16 * 1024,
    headersTimeout: 10_000,
    requestTimeout: 300_000,
    connectionsCheckingInterval: 1000,
  });
  assert.throws(() => resolveLimits({ maxHeaders: 0 }), (err: unknown) => err instanceof AloftError && /'limits.maxHeaders' must be a positive whole number: got 0/.test(err.message));
  assert.throws(() => resolveLimits({ headersTimeoutMs: 10, requestTimeoutMs: 5 }), /'limits.headersTimeoutMs' must be at most requestTimeoutMs/);
  assert.throws(() => resolveLimits({ rateLimit: { ratePerSecond: 0, burst: 1 } }), /'limits.rateLimit.ratePerSecond' must be a positive number/);
});
