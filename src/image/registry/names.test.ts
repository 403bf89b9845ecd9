import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import { parseRange } from './blob-routes.ts';
import { assertRepoName, parseReference } from './names.ts';
import { paginate } from './list-routes.ts';

test('repository names follow the spec grammar', () => {
  for (const ok of ['a', 'library/ubuntu', 'my-org/my_app.v2', 'a__b/c--d/e.f', 'x0/y1/z2']) assert.doesNotThrow(() => assertRepoName(ok), ok);
  for (const bad of ['', 'Upper', '-lead', 'trail-', 'a//b', '/a', 'a/', '_x', 'a/_layers', 'a___b', 'a..b', 'x'.repeat(256)]) {
    assert.throws(() => assertRepoName(bad), (err) => isAloftError(err, 'REGISTRY_NAME_INVALID'), bad);
  }
});

test('a reference is a digest when it has a colon, else a tag', () => {
  assert.deepEqual(parseReference('v1.0_rc-1'), { kind: 'tag', tag: 'v1.0_rc-1' });
  const digest = `sha256:${'a'.repeat(64)}`;
  assert.deepEqual(parseReference(digest), { kind: 'digest', digest });
  assert.throws(() => parseReference('sha256:short'), (err) => isAloftError(err, 'REGISTRY_DIGEST_INVALID'));
  assert.throws(() => parseReference('-tag'), (err) => isAloftError(err, 'REGISTRY_NAME_INVALID'));
  assert.throws(() => parseReference('t'.repeat(129)), (err) => isAloftError(err, 'REGISTRY_NAME_INVALID'));
});

test('parseRange: closed, open and suffix ranges; clamps the end; refuses the rest', () => {
  assert.equal(parseRange(undefined, 10), undefined);
  assert.deepEqual(parseRange('bytes=0-0', 10), { start: 0, end: 0 });
  assert.deepEqual(parseRange('bytes=4-', 10), { start: 4, end: 9 });
  assert.deepEqual(parseRange('bytes=-4', 10), { start: 6, end: 9 });
  assert.deepEqual(parseRange('bytes=8-100', 10), { start: 8, end: 9 });
  assert.throws(() => parseRange('bytes=10-', 10), (err) => isAloftError(err, 'REGISTRY_RANGE_INVALID'));
  assert.throws(() => parseRange('bytes=5-2', 10), (err) => isAloftError(err, 'REGISTRY_RANGE_INVALID'));
  assert.throws(() => parseRange('bytes=-', 10), (err) => isAloftError(err, 'REGISTRY_RANGE_INVALID'));
  assert.throws(() => parseRange('bytes=0-1,3-4', 10), (err) => isAloftError(err, 'REGISTRY_UNSUPPORTED'));
});

test('paginate: n, last, and no Link on the last page', () => {
  const items = ['a', 'b', 'c'];
  assert.deepEqual(paginate(items, new URL('http://x/?n=0')), { items: [], link: undefined });
  assert.deepEqual(paginate(items, new URL('http://x/?n=3')), { items, link: undefined });
  assert.deepEqual(paginate(items, new URL('http://x/?last=a')), { items: ['b', 'c'], link: undefined });
  assert.deepEqual(paginate(items, new URL('http://x/?n=1&last=a')), { items: ['b'], link: 'n=1&last=b' });
});
