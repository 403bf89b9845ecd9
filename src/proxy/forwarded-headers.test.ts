import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { forwardedRequestHeaders, forwardedResponseHeaders } from './forwarded-headers.ts';
import { connectionListed, isHopByHop } from './hop-by-hop.ts';

const info = { clientIp: '10.0.0.9', port: 8080, proto: 'http', region: 'ams', requestId: 'r1', host: 'a.localhost' } as const;

function fakeRequest(raw: string[]): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) headers[raw[i]!.toLowerCase()] = raw[i + 1]!;
  return { rawHeaders: raw, headers } as unknown as IncomingMessage;
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

test('hop-by-hop headers and those Connection lists are dropped', () => {
  const listed = connectionListed('close, X-Secret');
  assert.deepEqual([...(listed ?? [])], ['x-secret']);
  for (const name of ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-foo', 'x-secret']) {
    assert.ok(isHopByHop(name, listed), name);
  }
  assert.ok(!isHopByHop('content-type', listed));
  assert.equal(connectionListed(undefined), undefined);
});

test('request headers keep the client’s own, add Fly’s, and cannot be spoofed', () => {
  const req = fakeRequest([
    'Host', 'a.localhost', 'X-Custom', '1', 'Connection', 'keep-alive, X-Drop', 'X-Drop', 'x', 'TE', 'trailers',
    'Fly-Client-IP', '6.6.6.6', 'X-Forwarded-For', '1.1.1.1', 'Via', '1.0 other', 'Expect', '100-continue',
    'Content-Length', '3', 'Content-Length', '3',
  ]);
  const headers = pairs(forwardedRequestHeaders(req, info));
  const get = (name: string) => headers.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);
  assert.deepEqual(get('host'), ['a.localhost']);
  assert.deepEqual(get('x-custom'), ['1']);
  assert.deepEqual(get('content-length'), ['3']);
  for (const gone of ['connection', 'x-drop', 'te', 'expect']) assert.deepEqual(get(gone), [], gone);
  assert.deepEqual(get('fly-client-ip'), ['10.0.0.9']);
  assert.deepEqual(get('x-forwarded-for'), ['1.1.1.1, 10.0.0.9']);
  assert.deepEqual(get('via'), ['1.0 other, 1.1 aloft']);
  assert.deepEqual(get('fly-region'), ['ams']);
  assert.deepEqual(get('fly-forwarded-port'), ['8080']);
  assert.deepEqual(get('x-forwarded-proto'), ['http']);
  assert.deepEqual(get('x-forwarded-port'), ['8080']);
  assert.deepEqual(get('x-forwarded-ssl'), ['off']);
  assert.deepEqual(get('fly-request-id'), ['r1']);
});

test('response headers drop hop-by-hop ones, keep repeated ones, and append Via', () => {
  const headers = pairs(
    forwardedResponseHeaders({
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
      connection: 'keep-alive, x-hop',
      'x-hop': 'y',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'fly-request-id': 'from-backend',
      via: '1.1 app',
    }, 'r1'),
  );
  assert.deepEqual(headers, [
    ['content-type', 'text/plain'],
    ['set-cookie', 'a=1'],
    ['set-cookie', 'b=2'],
    ['via', '1.1 app, 1.1 aloft'],
    ['fly-request-id', 'r1'],
  ]);
});
