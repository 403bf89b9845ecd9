import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { parseLocalRef } from './image-ref.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

test('parseLocalRef splits a path from its tag or digest', () => {
  assert.deepEqual(parseLocalRef('/images/app'), { path: '/images/app' });
  assert.deepEqual(parseLocalRef('./app:v1.2'), { path: './app', tag: 'v1.2' });
  assert.deepEqual(parseLocalRef(`/images/app.tar@${DIGEST}`), { path: '/images/app.tar', digest: DIGEST });
  // A colon before the last "/" is part of the path.
  assert.deepEqual(parseLocalRef('/data/a:b/app'), { path: '/data/a:b/app' });
  assert.throws(() => parseLocalRef('/x@sha256:short'), (err) => isAloftError(err, 'IMAGE_NOT_FOUND'));
  assert.throws(() => parseLocalRef(''), (err) => isAloftError(err, 'IMAGE_NOT_FOUND'));
});
