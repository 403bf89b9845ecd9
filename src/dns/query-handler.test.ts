import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { test } from 'node:test';
import { DnsView } from './dns-view.ts';
import { CLASS_IN, RCODE, RR_TYPE, emptyHeader } from './message.ts';
import { QueryHandler } from './query-handler.ts';
import { InternalResolver } from './resolver.ts';
import { buildQuery } from './testing/dns-client.ts';
import { decodeMessage } from './wire-read.ts';
import { encodeMessage } from './wire-write.ts';

async function handler(): Promise<QueryHandler> {
  const view = new DnsView({ revision: async () => 0, listApps: async () => [], listMachines: async () => [], watch: () => () => undefined });
  await view.start();
  return new QueryHandler(new InternalResolver(view, { region: 'ams' }), undefined);
}

test('a query with two questions is FORMERR; an EDNS version above 0 is BADVERS (in the OPT record)', async () => {
  const h = await handler();
  const two = encodeMessage({
    header: { ...emptyHeader(3), rd: true },
    questions: [
      { name: 'a.internal', type: RR_TYPE.A, class: CLASS_IN },
      { name: 'b.internal', type: RR_TYPE.A, class: CLASS_IN },
    ],
    answers: [],
    authorities: [],
    additionals: [],
  });
  const formerr = decodeMessage(h.handle(two, '::1', 'udp') as Buffer);
  assert.equal(formerr.header.rcode, RCODE.FORMERR);
  assert.equal(formerr.header.id, 3);
  const v1 = encodeMessage({ ...decodeMessage(buildQuery('a.internal', RR_TYPE.A, { udpSize: 1232 })), edns: { udpSize: 1232, version: 1, dnssecOk: false, options: [] } });
  const badvers = decodeMessage(h.handle(v1, '::1', 'udp') as Buffer);
  assert.equal(badvers.header.rcode, RCODE.BADVERS);
  assert.equal(badvers.edns?.version, 0);
});

test('fuzz: the handler never throws; every reply it makes is a well-formed response', async () => {
  const h = await handler();
  const seed = buildQuery('web.internal', RR_TYPE.AAAA, { udpSize: 1232 });
  let replies = 0;
  for (let i = 0; i < 20_000; i++) {
    let bytes: Buffer;
    if (i % 2 === 0) {
      bytes = randomBytes(randomInt(0, 120));
    } else {
      bytes = Buffer.from(seed);
      for (let k = randomInt(1, 5); k > 0; k--) bytes[randomInt(bytes.length)] = randomInt(256);
    }
    const reply = h.handle(bytes, '::1', i % 3 === 0 ? 'tcp' : 'udp');
    assert.ok(!(reply instanceof Promise), 'nothing is forwarded without an upstream');
    if (reply === undefined) continue;
    replies++;
    const message = decodeMessage(reply);
    assert.ok(message.header.qr);
    assert.equal(message.header.id, bytes.readUInt16BE(0));
  }
  assert.ok(replies > 1000, `${replies} replies`);
});
