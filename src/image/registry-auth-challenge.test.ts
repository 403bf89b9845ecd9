import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bearerChallenge, parseChallenges } from './registry-auth-challenge.ts';

test("Docker Hub's challenge: realm, service and scope", () => {
  const header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"';
  assert.deepEqual(bearerChallenge(header), { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' });
});

test('several challenges, token values, escapes and odd spacing', () => {
  const header = 'Basic realm="x" , Bearer realm="https://t/\\"q\\"", service=registry.local ,error="insufficient_scope"';
  assert.deepEqual(parseChallenges(header), [
    { scheme: 'basic', params: { realm: 'x' } },
    { scheme: 'bearer', params: { realm: 'https://t/"q"', service: 'registry.local', error: 'insufficient_scope' } },
  ]);
});

test('no Bearer challenge, or one without a realm, is undefined; garbage never throws', () => {
  assert.equal(bearerChallenge('Basic realm="aloft"'), undefined);
  assert.equal(bearerChallenge('Bearer service="x"'), undefined);
  assert.equal(bearerChallenge(null), undefined);
  assert.deepEqual(parseChallenges('Bearer realm="unterminated'), [{ scheme: 'bearer', params: {} }]);
  assert.deepEqual(parseChallenges('=== ,,,'), []);
});
