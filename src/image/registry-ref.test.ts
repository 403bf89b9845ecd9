import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { formatRegistryRef, parseRegistryRef } from './registry-ref.ts';

const D = `sha256:${'a'.repeat(64)}`;

test('a first component with a dot, a colon or localhost is a registry host; default tag latest', () => {
  assert.deepEqual(parseRegistryRef('127.0.0.1:5000/personal/hello'), { host: '127.0.0.1:5000', repository: 'personal/hello', tag: 'latest' });
  assert.deepEqual(parseRegistryRef('registry.example.com/a/b/c:v1'), { host: 'registry.example.com', repository: 'a/b/c', tag: 'v1' });
  assert.deepEqual(parseRegistryRef(`localhost/app@${D}`), { host: 'localhost', repository: 'app', digest: D });
  assert.deepEqual(parseRegistryRef(`localhost:80/app:v2@${D}`), { host: 'localhost:80', repository: 'app', tag: 'v2', digest: D });
  assert.equal(formatRegistryRef({ host: 'h.io', repository: 'r', tag: 't' }), 'h.io/r:t');
});

test('paths and bare names stay local', () => {
  for (const ref of ['/images/app', './a.b/c', '../x.io/y', 'myapp', 'myapp:v1', 'images/app:v1', 'x.tar']) {
    assert.equal(parseRegistryRef(ref), undefined, ref);
  }
});

test('a registry host with a malformed rest is IMAGE_NOT_FOUND naming the part', () => {
  assert.throws(() => parseRegistryRef('h.io/Upper'), (err) => isAloftError(err, 'IMAGE_NOT_FOUND') && /repository/.test(err.message));
  assert.throws(() => parseRegistryRef('h.io/app@sha256:zz'), (err) => isAloftError(err, 'IMAGE_NOT_FOUND') && /digest/.test(err.message));
  assert.throws(() => parseRegistryRef('h.io/app:-bad'), (err) => isAloftError(err, 'IMAGE_NOT_FOUND') && /tag/.test(err.message));
});
