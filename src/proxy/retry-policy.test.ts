import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canRetry, defaultRetryPolicy, isConnectFailure } from './retry-policy.ts';

const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const reset = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
const fresh = { dispatched: false, bodyRead: false, responded: false, method: 'POST' };

test('a failed connect is retried whatever the method: nothing was sent', () => {
  assert.ok(canRetry(refused, fresh));
  assert.ok(isConnectFailure(refused, fresh));
});

test('a request whose body was read, or that got a response, is never replayed', () => {
  assert.ok(!canRetry(refused, { ...fresh, bodyRead: true }));
  assert.ok(!canRetry(reset, { ...fresh, dispatched: true, responded: true, method: 'GET' }));
});

test('a reset after dispatch is retried only for idempotent methods', () => {
  assert.ok(canRetry(reset, { ...fresh, dispatched: true, method: 'GET' }));
  assert.ok(!canRetry(reset, { ...fresh, dispatched: true, method: 'POST' }));
  assert.ok(!isConnectFailure(reset, { ...fresh, dispatched: true }));
});

test('errors that are not connection failures are not retried', () => {
  assert.ok(!canRetry(new Error('boom'), fresh));
  assert.ok(!canRetry(Object.assign(new Error('bad header'), { code: 'UND_ERR_INVALID_ARG' }), fresh));
});

test('backoff doubles from 25 ms and stays under 400 ms', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(defaultRetryPolicy.backoffMs), [25, 50, 100, 200, 400, 400]);
});
