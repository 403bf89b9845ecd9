import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { CLASS_IN, RCODE, RR_TYPE, emptyHeader, type DnsMessage } from './message.ts';
import { buildQuery } from './testing/dns-client.ts';
import { decodeMessage, questionEnd, readHeader } from './wire-read.ts';
import { encodeMessage } from './wire-write.ts';

const reply = (overrides: Partial<DnsMessage> = {}): DnsMessage => ({
  header: { ...emptyHeader(7), qr: true, aa: true, rd: true },
  questions: [{ name: 'Web.internal', type: RR_TYPE.AAAA, class: CLASS_IN }],
  answers: [
    { name: 'Web.internal', type: RR_TYPE.AAAA, class: CLASS_IN, ttl: 5, data: { kind: 'aaaa', address: 'fdaa:0:1:0:1:0:5:2' } },
    { name: 'Web.internal', type: RR_TYPE.AAAA, class: CLASS_IN, ttl: 5, data: { kind: 'aaaa', address: 'fdaa:0:1:0:1:0:6:2' } },
  ],
  authorities: [],
  additionals: [],
  ...overrides,
});

test('a reply round-trips, and its answers point back at the question name (compression)', () => {
  const message = reply({
    additionals: [
      { name: 'x.web.internal', type: RR_TYPE.A, class: CLASS_IN, ttl: 60, data: { kind: 'a', address: '10.1.2.3' } },
      { name: 'txt.internal', type: RR_TYPE.TXT, class: CLASS_IN, ttl: 1, data: { kind: 'txt', strings: [Buffer.from('a b'), Buffer.alloc(0)] } },
      { name: 'alias.internal', type: RR_TYPE.CNAME, class: CLASS_IN, ttl: 1, data: { kind: 'name', name: 'web.internal' } },
      { name: 'odd.internal', type: 99, class: 3, ttl: 1, data: { kind: 'raw', bytes: Buffer.from([1, 2, 3]) } },
    ],
    edns: { udpSize: 1232, version: 0, dnssecOk: true, options: [{ code: 10, data: Buffer.from('cookie!!') }] },
  });
  const bytes = encodeMessage(message);
  assert.deepEqual(decodeMessage(bytes), message);
  // Question: 12 header + 14 name + 4. Each answer's name is a 2-byte pointer to offset 12.
  assert.equal(bytes.readUInt16BE(30), 0xc000 | 12);
  assert.equal(bytes.readUInt16BE(30 + 28), 0xc000 | 12);
});

test('names with odd bytes are escaped as \\DDD and written back to the same bytes', () => {
  const raw = Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([3, 0x61, 0x2e, 0xff, 1, 0x5c, 0]), Buffer.from([0, 1, 0, 1])]);
  const message = decodeMessage(raw);
  assert.equal(message.questions[0]?.name, 'a\\046\\255.\\092');
  assert.deepEqual(encodeMessage(message), raw);
});

test('a compression pointer that points forward or at itself is FORMERR, not a loop', () => {
  const header = Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  for (const name of [Buffer.from([0xc0, 12]), Buffer.from([0xc0, 14, 0]), Buffer.from([1, 0x61, 0xc0, 12])]) {
    assert.throws(
      () => decodeMessage(Buffer.concat([header, name, Buffer.from([0, 1, 0, 1])])),
      (err: unknown) => isAloftError(err, 'DNS_MALFORMED') && /compression pointer|ends within/.test(err.message),
    );
  }
});

test('malformed messages are DNS_MALFORMED with the field and the rule', () => {
  const good = buildQuery('web.internal', RR_TYPE.AAAA, { udpSize: 1232 });
  const cases: [string, Buffer, RegExp][] = [
    ['short header', good.subarray(0, 11), /'header' must be 12 bytes/],
    ['cut question', good.subarray(0, 20), /question/],
    ['trailing bytes', Buffer.concat([good, Buffer.from([0])]), /no bytes after/],
    ['label type 01', Buffer.concat([good.subarray(0, 12), Buffer.from([0x40, 0, 0, 1, 0, 1])]), /labels of types 00 or 11/],
    ['two OPT records', twoOpts(), /at most one OPT/],
  ];
  for (const [what, bytes, message] of cases) {
    assert.throws(() => decodeMessage(bytes), (err: unknown) => isAloftError(err, 'DNS_MALFORMED') && message.test(err.message) && err.message.startsWith('Cannot read DNS message as'), what);
  }
  const long = 'a'.repeat(63);
  assert.throws(() => buildQuery(`${long}.${long}.${long}.${long}.internal`, 1), (err: unknown) => isAloftError(err, 'DNS_MALFORMED') && /255 bytes/.test(err.message));
  assert.throws(() => buildQuery(`${'a'.repeat(64)}.internal`, 1), (err: unknown) => isAloftError(err, 'DNS_MALFORMED'));
});

function twoOpts(): Buffer {
  const one = buildQuery('x', RR_TYPE.A, { udpSize: 1232 });
  const opt = one.subarray(one.length - 11);
  const out = Buffer.concat([one, opt]);
  out.writeUInt16BE(2, 10);
  return out;
}

test('EDNS: the OPT record carries the UDP size, version, DO bit and the extended rcode', () => {
  const message: DnsMessage = { ...reply(), header: { ...reply().header, rcode: RCODE.BADVERS }, answers: [], edns: { udpSize: 4096, version: 0, dnssecOk: false, options: [] } };
  const bytes = encodeMessage(message);
  assert.equal(bytes[3]! & 0xf, 0); // BADVERS is 16: nothing in the header's 4 bits
  assert.equal(decodeMessage(bytes).header.rcode, RCODE.BADVERS);
  assert.throws(() => encodeMessage({ ...message, edns: undefined } as unknown as DnsMessage), (err: unknown) => isAloftError(err, 'DNS_MALFORMED'));
  const opt = decodeMessage(buildQuery('a.b', RR_TYPE.TXT, { udpSize: 1400 })).edns;
  assert.deepEqual(opt, { udpSize: 1400, version: 0, dnssecOk: false, options: [] });
});

test('questionEnd and readHeader read only what they need', () => {
  const q = buildQuery('web.internal', RR_TYPE.AAAA, { id: 0xbeef, udpSize: 512 });
  assert.equal(questionEnd(q), 12 + 14 + 4);
  assert.equal(questionEnd(q.subarray(0, 20)), undefined);
  assert.equal(readHeader(q)?.id, 0xbeef);
  assert.equal(readHeader(q)?.rd, true);
  assert.equal(readHeader(q.subarray(0, 5)), undefined);
});

/**
 * Fuzz: random bytes, and valid messages with random bytes flipped, cut or spliced.
 * Decoding either succeeds or throws DNS_MALFORMED (never anything else, never hangs);
 * what decodes encodes without error and decodes again to the same message.
 */
test('fuzz: random and mutated messages decode or fail with DNS_MALFORMED, and round-trip when they decode', () => {
  const seeds = [encodeMessage(reply()), buildQuery('web.internal', RR_TYPE.AAAA, { udpSize: 1232 }), encodeMessage(reply({ edns: { udpSize: 512, version: 0, dnssecOk: false, options: [{ code: 8, data: Buffer.from([0, 1, 24, 0, 10, 0, 0]) }] } }))];
  let decoded = 0;
  let rejected = 0;
  const rounds = 20_000;
  for (let i = 0; i < rounds; i++) {
    let bytes: Buffer;
    const seed = seeds[i % seeds.length]!;
    switch (i % 4) {
      case 0:
        bytes = randomBytes(randomInt(0, 300));
        break;
      case 1: {
        bytes = Buffer.from(seed);
        for (let k = randomInt(1, 6); k > 0; k--) bytes[randomInt(bytes.length)] = randomInt(256);
        break;
      }
      case 2:
        bytes = seed.subarray(0, randomInt(seed.length + 1));
        break;
      default: {
        // Plausible headers with random counts over a random body: exercises pointers and counts.
        bytes = Buffer.concat([seed.subarray(0, 4), randomBytes(8 + randomInt(200))]);
        bytes.writeUInt16BE(randomInt(3), 4);
      }
    }
    let message: DnsMessage;
    try {
      message = decodeMessage(bytes);
    } catch (err) {
      assert.ok(isAloftError(err, 'DNS_MALFORMED'), `round ${i}: ${String(err)} for ${bytes.toString('hex')}`);
      rejected++;
      continue;
    }
    decoded++;
    const again = encodeMessage(message);
    assert.deepEqual(decodeMessage(again), message, `round ${i}: ${bytes.toString('hex')}`);
  }
  assert.ok(decoded > 100 && rejected > 100, `both outcomes exercised: decoded ${decoded}, rejected ${rejected}`);
});
