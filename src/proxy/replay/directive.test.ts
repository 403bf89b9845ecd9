import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AloftError } from '../../lib/errors.ts';
import { isReplayResponse, parseReplayHeader, parseReplayJson, readDirective } from './directive.ts';
import { replayFailedHeader, replaySrcHeader } from './src-header.ts';

test('the header form reads every field Fly documents', () => {
  const d = parseReplayHeader('region="sjc,ams,any";app=web-2;state=from-ams;elsewhere=true;timeout=800ms;fallback=prefer_self;prefer_instance=m2');
  assert.deepEqual(d.regions, ['sjc', 'ams', 'any']);
  assert.equal(d.app, 'web-2');
  assert.equal(d.state, 'from-ams');
  assert.equal(d.elsewhere, true);
  assert.equal(d.timeoutMs, 800);
  assert.equal(d.fallback, 'prefer_self');
  assert.equal(d.preferInstance, 'm2');
  assert.equal(parseReplayHeader('instance=00bb33ff').instance, '00bb33ff');
  assert.equal(parseReplayHeader('region=ams; timeout=2s').timeoutMs, 2000);
  // Several headers read as one; unknown fields are ignored.
  const two = parseReplayHeader(['region=ams', 'state=x;future_field=1']);
  assert.deepEqual([two.regions, two.state], [['ams'], 'x']);
});

test('a bad fly-replay header says which field and what it got', () => {
  const cases: [string, RegExp][] = [
    ['', /'fly-replay' must be at least one field/],
    ['region', /'fly-replay' must be a list of field=value pairs/],
    ['elsewhere=maybe', /'fly-replay.elsewhere' must be true or false: got "maybe"/],
    ['timeout=soon', /'fly-replay.timeout' must be a duration/],
    ['fallback=home', /'fly-replay.fallback' must be "force_self" or "prefer_self"/],
    ['region="a b"', /'fly-replay.region' must be a comma-separated list/],
    ['app=UPPER', /'fly-replay.app' must be an app name/],
  ];
  for (const [header, message] of cases) {
    assert.throws(
      () => parseReplayHeader(header),
      (err: unknown) => err instanceof AloftError && err.code === 'PROXY_REPLAY_INVALID' && message.test(err.message),
      header,
    );
  }
});

test('the JSON form reads the same fields plus transform.path and set_headers', () => {
  const body = Buffer.from(
    JSON.stringify({ app: 'api', region: 'ams', state: 's', transform: { path: '/v2/x?y=1', set_headers: [{ name: 'X-Tenant', value: 't1' }] }, cache: { ttl: 5 } }),
  );
  const d = parseReplayJson(body);
  assert.equal(d.app, 'api');
  assert.equal(d.path, '/v2/x?y=1');
  assert.deepEqual(d.setHeaders, [['X-Tenant', 't1']]);
  assert.deepEqual(parseReplayJson(Buffer.from('{"transform":{"set_headers":{"a":"b"}}}')).setHeaders, [['a', 'b']]);
  assert.throws(() => parseReplayJson(Buffer.from('nope')), /'fly-replay body' must be a JSON object/);
  assert.throws(() => parseReplayJson(Buffer.from('{"transform":{"path":"x"}}')), /'fly-replay body.transform.path' must be an origin-form path/);
  assert.throws(
    () => parseReplayJson(Buffer.from('{"transform":{"set_headers":[{"name":"a b","value":"c"}]}}')),
    /set_headers' must be header names/,
  );
});

test('replay responses are told apart by header or by media type', () => {
  assert.equal(isReplayResponse({ 'fly-replay': 'region=ams' }), true);
  assert.equal(isReplayResponse({ 'content-type': 'application/vnd.fly.replay+json; charset=utf-8' }), true);
  assert.equal(isReplayResponse({ 'content-type': 'application/json' }), false);
  // The header wins over the body when both are there.
  assert.deepEqual(readDirective({ 'fly-replay': 'region=ams', 'content-type': 'application/vnd.fly.replay+json' }, Buffer.from('{}')).regions, ['ams']);
});

test('fly-replay-src and fly-replay-failed are written as field=value;… with t in microseconds', () => {
  assert.equal(replaySrcHeader({ instance: 'm1', region: 'ams', state: undefined, nowMs: 1700000000123 }), 'instance=m1;region=ams;t=1700000000123000');
  assert.equal(replaySrcHeader({ instance: 'm1', region: 'ams', state: 'a;b', nowMs: 1 }), 'instance=m1;region=ams;t=1000;state="a;b"');
  assert.equal(
    replayFailedHeader({ reason: 'no_machines', app: 'web', regions: ['sjc', 'any'], instance: undefined, nowMs: 2 }),
    'reason=no_machines;app=web;region="sjc,any";t=2000',
  );
});
