import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResponseParser, type ResponseHead } from './response-parser.ts';

/** Feeds `wire` to a parser in pieces of `step` bytes; what it reported. */
function parse(wire: string, options: { method?: string; step?: number; close?: boolean } = {}) {
  const heads: ResponseHead[] = [];
  const body: Buffer[] = [];
  let ended = 0;
  const parser = new ResponseParser(options.method ?? 'GET', {
    onHead: (head) => heads.push(head),
    onBody: (chunk) => body.push(Buffer.from(chunk)),
    onEnd: () => void (ended += 1),
  });
  const bytes = Buffer.from(wire, 'latin1');
  const step = options.step ?? bytes.length;
  for (let at = 0; at < bytes.length; at += step) parser.feed(bytes.subarray(at, at + step));
  if (options.close === true) parser.end();
  return { heads, body: Buffer.concat(body).toString('latin1'), ended, done: parser.done };
}

test('Content-Length bodies, fed whole or a byte at a time', () => {
  const wire = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\nSet-Cookie: a=1\r\n\r\nhello';
  for (const step of [wire.length, 1, 7]) {
    const { heads, body, ended } = parse(wire, { step });
    assert.equal(heads.length, 1);
    assert.equal(heads[0]!.statusCode, 200);
    assert.equal(heads[0]!.statusMessage, 'OK');
    assert.equal(heads[0]!.headers['x-a'], '1, 2');
    assert.deepEqual(heads[0]!.headers['set-cookie'], ['a=1']);
    assert.equal(heads[0]!.keepAlive, true);
    assert.equal(body, 'hello');
    assert.equal(ended, 1);
  }
});

test('chunked bodies are decoded across any split, extensions and trailers dropped', () => {
  const wire = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: t\r\n\r\n';
  for (const step of [wire.length, 1, 3, 11]) {
    const { body, ended } = parse(wire, { step });
    assert.equal(body, 'hello, world!!!');
    assert.equal(ended, 1);
  }
});

test('no body for HEAD, 204 and 304 whatever the headers say; 1xx heads come before the final one', () => {
  assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', { method: 'HEAD' }).ended, 1);
  assert.equal(parse('HTTP/1.1 204 No Content\r\n\r\n').ended, 1);
  assert.equal(parse('HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n').ended, 1);
  const early = parse('HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  assert.deepEqual(early.heads.map((h) => h.statusCode), [103, 200]);
  assert.equal(early.body, 'ok');
});

test('a body without length or chunking runs to the close; Connection: close and HTTP/1.0 are not reused', () => {
  const toClose = parse('HTTP/1.1 200 OK\r\n\r\npart one, part two', { close: true });
  assert.equal(toClose.body, 'part one, part two');
  assert.equal(toClose.ended, 1);
  assert.equal(parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').heads[0]!.keepAlive, false);
  assert.equal(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').heads[0]!.keepAlive, false);
  assert.equal(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').heads[0]!.keepAlive, true);
});

test('a response cut short is an UND_ERR_SOCKET error, before or after its head', () => {
  assert.throws(() => parse('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhalf', { close: true }), { code: 'UND_ERR_SOCKET', message: /mid-response/ });
  assert.throws(() => parse('', { close: true }), { code: 'UND_ERR_SOCKET', message: /before answering/ });
});

test('ambiguous framing and malformed heads are refused, naming the rule', () => {
  const refused: [string, RegExp][] = [
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', /both Content-Length and Transfer-Encoding/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n', /one decimal number/],
    ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', /one decimal number/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', /end in one "chunked"/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n', /end in one "chunked"/],
    ['HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\n\r\n', /bare LF/],
    ['HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n', /token name/],
    ['HTTP/1.1 200 OK\r\n folded\r\n\r\n', /token name/],
    ['HTTP/2 200\r\n\r\n', /status line/],
    ['HTTP/1.1 20 OK\r\n\r\n', /status line/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /hexadecimal/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n', /end with CRLF/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA', /after its response ended/],
  ];
  for (const [wire, rule] of refused) {
    assert.throws(() => parse(wire), { code: 'ALOFT_BACKEND_PROTOCOL', message: rule }, JSON.stringify(wire));
  }
});

test('a head larger than the limit is refused before it is all buffered', () => {
  const parser = new ResponseParser('GET', { onHead: () => {}, onBody: () => {}, onEnd: () => {} }, { maxHeadBytes: 1024, maxHeaders: 10 });
  parser.feed(Buffer.from('HTTP/1.1 200 OK\r\n'));
  assert.throws(() => parser.feed(Buffer.alloc(2048, 'a')), { code: 'ALOFT_BACKEND_PROTOCOL', message: /at most 1024 bytes/ });
  const many = `HTTP/1.1 200 OK\r\n${'X-A: 1\r\n'.repeat(11)}\r\n`;
  const counted = new ResponseParser('GET', { onHead: () => {}, onBody: () => {}, onEnd: () => {} }, { maxHeadBytes: 1024, maxHeaders: 10 });
  assert.throws(() => counted.feed(Buffer.from(many)), { message: /at most 10 header fields/ });
});

test('one parser reads response after response once reset, whatever framing each had; the last body chunk is flagged', () => {
  const seen: string[] = [];
  let body = '';
  const parser = new ResponseParser('GET', {
    onHead: (head) => seen.push(`head ${head.statusCode}`),
    onBody: (chunk, last) => {
      body += chunk.toString('latin1');
      if (last) seen.push('last');
    },
    onEnd: () => seen.push(`end ${body}`),
  });
  parser.feed(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n'));
  assert.equal(parser.done, true);
  body = '';
  parser.reset('HEAD');
  parser.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n'));
  assert.equal(parser.done, true);
  parser.reset('GET');
  assert.equal(parser.done, false);
  parser.feed(Buffer.from('HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nx'));
  parser.feed(Buffer.from('yz'));
  assert.deepEqual(seen, ['head 200', 'end ab', 'head 200', 'end ', 'head 201', 'last', 'end xyz']);
  // A reset does not carry a half-read head over.
  parser.reset('GET');
  parser.feed(Buffer.from('HTTP/1.1 500 Oops\r\nX-A'));
  parser.reset('GET');
  parser.feed(Buffer.from('HTTP/1.1 204 No Content\r\n\r\n'));
  assert.equal(seen.at(-2), 'head 204');
});
