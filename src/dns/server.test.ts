import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import type { Machine } from '../model/index.ts';
import { openSqliteStore } from '../store/index.ts';
import type { Store } from '../store/store.ts';
import { RCODE, RR_TYPE } from './message.ts';
import { startDnsServer, type RunningDnsServer } from './server.ts';
import { buildQuery, tcpExchange, udpExchange } from './testing/dns-client.ts';
import { startFakeUpstream, type FakeUpstream } from './testing/fake-upstream.ts';
import { addLoopbackAddress, dnsMachine, seedTwoOrgs, type TwoOrgs } from './testing/fixtures.ts';
import { parseUpstream, upstreamFromResolvConf } from './upstream.ts';
import { decodeMessage } from './wire-read.ts';

// Queries come from 6PN addresses put on loopback (as a Machine's would), so this file needs root.
const root = process.getuid?.() === 0;
const BIG = 100;

let store: Store;
let nets: TwoOrgs;
let upstream: FakeUpstream;
let server: RunningDnsServer;
const machines: Record<string, Machine> = {};
const removals: (() => Promise<void>)[] = [];

before(async () => {
  if (!root) return;
  store = await openSqliteStore({ path: ':memory:' });
  nets = await seedTwoOrgs(store);
  await store.createApp({ id: 'a-big', name: 'big', orgSlug: 'acme', network: nets.acme, status: 'deployed', createdAt: Date.now() });
  machines['web'] = await store.createMachine(dnsMachine('web', nets.acme, { region: 'ams' }));
  machines['secret'] = await store.createMachine(dnsMachine('secret', nets.other, { region: 'ams' }));
  for (let i = 0; i < BIG; i++) await store.createMachine(dnsMachine('big', nets.acme, { region: 'iad', host: 2 }));
  for (const key of ['web', 'secret']) removals.push(await addLoopbackAddress(machines[key]!.addresses!.ipv6));
  upstream = await startFakeUpstream({ kind: 'answer' });
  server = await startDnsServer({ store, host: '::1', port: 0, region: 'ams', upstream, forwardTimeoutMs: 300 });
});

after(async () => {
  if (!root) return;
  await server.close();
  await upstream.close();
  await store.close();
  for (const remove of removals) await remove();
});

const from = (key: string): string => machines[key]!.addresses!.ipv6;
const target = (): { host: string; port: number } => ({ host: '::1', port: server.port });

/** node:dns's own resolver (c-ares), sending from `source`: what a program in a Machine uses. */
function resolverFrom(source: string | undefined, port = server.port): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  if (source !== undefined) r.setLocalAddress('0.0.0.0', source);
  r.setServers([`[::1]:${port}`]);
  return r;
}

test('node:dns resolves .internal AAAA and TXT names over UDP from a Machine of the org', { skip: !root && 'needs root' }, async () => {
  const r = resolverFrom(from('web'));
  assert.deepEqual(await r.resolve6('web.internal'), [from('web')]);
  assert.deepEqual(await r.resolveTxt('_apps.internal'), [['api,big,web']]);
  assert.deepEqual(await r.resolve6(`${machines['web']!.id}.vm.web.internal`), [from('web')]);
});

test('another org, or a source outside 6PN, gets NXDOMAIN', { skip: !root && 'needs root' }, async () => {
  await assert.rejects(resolverFrom(from('secret')).resolve6('web.internal'), { code: 'ENOTFOUND' });
  await assert.rejects(resolverFrom(from('web')).resolve6('secret.internal'), { code: 'ENOTFOUND' });
  await assert.rejects(resolverFrom(undefined).resolve6('web.internal'), { code: 'ENOTFOUND' });
  assert.deepEqual(await resolverFrom(from('secret')).resolve6('secret.internal'), [from('secret')]);
});

test('an answer too big for UDP comes back empty with TC set; TCP has all of it (and node:dns retries over TCP)', { skip: !root && 'needs root' }, async () => {
  for (const udpSize of [undefined, 1232]) {
    const reply = decodeMessage(await udpExchange(target(), buildQuery('big.internal', RR_TYPE.AAAA, { id: 9, ...(udpSize ? { udpSize } : {}) }), { localAddress: from('web') }));
    assert.equal(reply.header.tc, true, `TC with udpSize ${udpSize}`);
    assert.equal(reply.answers.length, 0);
    assert.equal(reply.header.id, 9);
    assert.equal(reply.edns?.udpSize, udpSize === undefined ? undefined : 1232, 'OPT only when asked');
  }
  const [tcp] = await tcpExchange(target(), [buildQuery('big.internal', RR_TYPE.AAAA)], { localAddress: from('web') });
  const message = decodeMessage(tcp!);
  assert.equal(message.header.tc, false);
  assert.equal(message.header.aa, true);
  assert.equal(message.answers.length, BIG);
  assert.equal((await resolverFrom(from('web')).resolve6('big.internal')).length, BIG);
});

test('TCP: pipelined queries on one connection each get their reply, matched by ID', { skip: !root && 'needs root' }, async () => {
  const queries = [buildQuery('web.internal', RR_TYPE.AAAA, { id: 1 }), buildQuery('nope.internal', RR_TYPE.AAAA, { id: 2 }), buildQuery('example.com', RR_TYPE.A, { id: 3 })];
  const replies = (await tcpExchange(target(), queries, { localAddress: from('web') })).map(decodeMessage);
  const byId = new Map(replies.map((r) => [r.header.id, r]));
  assert.deepEqual(byId.get(1)?.answers.map((a) => a.data), [{ kind: 'aaaa', address: from('web') }]);
  assert.equal(byId.get(2)?.header.rcode, RCODE.NXDOMAIN);
  assert.deepEqual(byId.get(3)?.answers.map((a) => a.data), [{ kind: 'a', address: '192.0.2.1' }]);
});

test('a started Machine is answered as soon as the watch delivers it (< 100 ms), over the wire', { skip: !root && 'needs root' }, async () => {
  const machine = dnsMachine('web', nets.acme, { region: 'fra' });
  const applied = new Promise<number>((resolve) => {
    const off = server.view.onChange((c) => {
      if (c.key !== machine.id) return;
      off();
      resolve(performance.now());
    });
  });
  const t0 = performance.now();
  await store.createMachine(machine);
  assert.ok((await applied) - t0 < 100);
  assert.deepEqual(await resolverFrom(from('web')).resolve6('fra.web.internal'), [machine.addresses!.ipv6]);
});

test('other names are forwarded upstream with a fresh ID and the reply relayed', async () => {
  const up = await startFakeUpstream({ kind: 'answer', count: 2 });
  const dns = await startDnsServer({ store: emptyStore(), host: '127.0.0.1', port: 0, region: 'ams', upstream: up });
  try {
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([`127.0.0.1:${dns.port}`]);
    assert.deepEqual((await r.resolve4('Example.COM')).sort(), ['192.0.2.1', '192.0.2.2']);
    const reply = decodeMessage(await udpExchange({ host: '127.0.0.1', port: dns.port }, buildQuery('Example.ORG', RR_TYPE.A, { id: 4242 })));
    assert.equal(reply.header.id, 4242);
    assert.equal(reply.answers.length, 2);
    assert.equal(reply.questions[0]?.name, 'Example.ORG', 'the spelling relayed as asked');
    assert.equal(up.queries.length, 2);
    assert.equal(up.queries[1]?.questions[0]?.name, 'Example.ORG');
    // Each upstream query gets a random ID: two both keeping the client's 4242 is a 1 in 2^32 chance.
    await udpExchange({ host: '127.0.0.1', port: dns.port }, buildQuery('example.net', RR_TYPE.A, { id: 4242 }));
    assert.ok(up.queries[1]?.header.id !== 4242 || up.queries[2]?.header.id !== 4242, 'fresh IDs upstream');
    // 40 A records are 16 bytes each: over 512 for a client without EDNS, so truncated here.
    up.mode = { kind: 'answer', count: 40 };
    const big = decodeMessage(await udpExchange({ host: '127.0.0.1', port: dns.port }, buildQuery('many.example', RR_TYPE.A)));
    assert.equal(big.header.tc, true);
    assert.equal(big.answers.length, 0);
    // A client offering 4096 bytes gets the upstream's 1,470-byte reply cut at aloft's 1,232.
    up.mode = { kind: 'answer', count: 90 };
    const capped = decodeMessage(await udpExchange({ host: '127.0.0.1', port: dns.port }, buildQuery('more.example', RR_TYPE.A, { udpSize: 4096 })));
    assert.equal(capped.header.tc, true);
    assert.equal(capped.answers.length, 0);
    assert.equal(capped.edns?.udpSize, 1232);
    up.mode = { kind: 'answer', count: 40 };
    // Over TCP the server asks the upstream over TCP too, and relays the whole answer.
    const [full] = await tcpExchange({ host: '127.0.0.1', port: dns.port }, [buildQuery('many.example', RR_TYPE.A, { id: 8 })]);
    const whole = decodeMessage(full!);
    assert.equal(whole.header.id, 8);
    assert.equal(whole.header.tc, false);
    assert.equal(whole.answers.length, 40);
    assert.equal(up.tcpQueries, 1);
  } finally {
    await dns.close();
    await up.close();
  }
});

test('a silent upstream is SERVFAIL after the timeout; no upstream at all is REFUSED', async () => {
  const up = await startFakeUpstream({ kind: 'silent' });
  const dns = await startDnsServer({ store: emptyStore(), host: '127.0.0.1', port: 0, region: 'ams', upstream: up, forwardTimeoutMs: 200 });
  const none = await startDnsServer({ store: emptyStore(), host: '127.0.0.1', port: 0, region: 'ams', upstream: null });
  try {
    const t0 = performance.now();
    const reply = decodeMessage(await udpExchange({ host: '127.0.0.1', port: dns.port }, buildQuery('example.com', RR_TYPE.A)));
    assert.equal(reply.header.rcode, RCODE.SERVFAIL);
    assert.ok(performance.now() - t0 >= 190);
    const refused = decodeMessage(await udpExchange({ host: '127.0.0.1', port: none.port }, buildQuery('example.com', RR_TYPE.A)));
    assert.equal(refused.header.rcode, RCODE.REFUSED);
    assert.equal(refused.header.ra, false);
  } finally {
    await Promise.all([dns.close(), none.close()]);
    await up.close();
  }
});

test('a forwarding loop (the upstream sends queries back) ends in SERVFAIL after one round', async () => {
  const up = await startFakeUpstream({ kind: 'silent' });
  const dns = await startDnsServer({ store: emptyStore(), host: '127.0.0.1', port: 0, region: 'ams', upstream: up, forwardTimeoutMs: 300 });
  up.mode = { kind: 'relay', target: { host: '127.0.0.1', port: dns.port } };
  try {
    const reply = decodeMessage(await udpExchange({ host: '127.0.0.1', port: dns.port }, buildQuery('loop.example', RR_TYPE.A), { timeoutMs: 3000 }));
    assert.equal(reply.header.rcode, RCODE.SERVFAIL);
    assert.equal(up.queries.length, 1, 'the looped query joined the one in flight instead of going out again');
  } finally {
    await dns.close();
    await up.close();
  }
});

test('garbage gets FORMERR with its ID; a response sent to the server gets nothing; a non-query opcode NOTIMP', async () => {
  const dns = await startDnsServer({ store: emptyStore(), host: '127.0.0.1', port: 0, region: 'ams', upstream: null });
  try {
    const at = { host: '127.0.0.1', port: dns.port };
    const garbage = Buffer.from([0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x45]);
    const formerr = decodeMessage(await udpExchange(at, garbage));
    assert.equal(formerr.header.id, 0xabcd);
    assert.equal(formerr.header.rcode, RCODE.FORMERR);
    // Over TCP: first a response (ignored), then a query: the only reply is the query's.
    const response = buildQuery('x.internal', RR_TYPE.A, { id: 1 });
    response[2] = response[2]! | 0x80;
    // Frames are handled in order, so a reply to the response would arrive first.
    const [first] = await tcpExchange(at, [response, buildQuery('x.internal', RR_TYPE.A, { id: 2 })], { expect: 1 });
    assert.equal(decodeMessage(first!).header.id, 2);
    const notify = buildQuery('x.internal', RR_TYPE.A, { id: 3 });
    notify[2] = (notify[2]! & 0x87) | (4 << 3);
    assert.equal(decodeMessage(await udpExchange(at, notify)).header.rcode, RCODE.NOTIMP);
  } finally {
    await dns.close();
  }
});

test('fuzz over the wire: thousands of random datagrams, each FORMERR or nothing, and the server still answers', async () => {
  const dns = await startDnsServer({ store: emptyStore(), host: '127.0.0.1', port: 0, region: 'ams', upstream: null, rateLimit: false });
  const socket = createSocket('udp4');
  try {
    const replies: Buffer[] = [];
    socket.on('message', (msg) => replies.push(msg));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    // In batches, each followed by a valid query: its reply means the batch was handled
    // (and keeps the flood within the socket's receive buffer).
    for (let batch = 0; batch < 20; batch++) {
      for (let i = 0; i < 100; i++) {
        const bytes = randomBytes(randomInt(0, 200));
        if (i % 2 === 0 && bytes.length >= 3) bytes[2] = bytes[2]! & 0x7f; // half look like queries
        socket.send(bytes, dns.port, '127.0.0.1');
      }
      const after = decodeMessage(await udpExchange({ host: '127.0.0.1', port: dns.port }, buildQuery('after.internal', RR_TYPE.A, { id: batch })));
      assert.equal(after.header.rcode, RCODE.NXDOMAIN);
    }
    assert.ok(replies.length > 500, `${replies.length} replies`);
    for (const reply of replies) {
      const header = decodeMessage(reply).header;
      assert.ok(header.qr && [RCODE.FORMERR, RCODE.NOTIMP, RCODE.NXDOMAIN, RCODE.REFUSED, RCODE.BADVERS].includes(header.rcode as 1), `rcode ${header.rcode}`);
    }
  } finally {
    socket.close();
    await dns.close();
  }
});

test('per-source rate limit: TCP queries over it are REFUSED', async () => {
  const dns = await startDnsServer({ store: emptyStore(), host: '127.0.0.1', port: 0, region: 'ams', upstream: null, rateLimit: { perSecond: 0.001, burst: 2 } });
  try {
    const replies = (await tcpExchange({ host: '127.0.0.1', port: dns.port }, [1, 2, 3].map((id) => buildQuery('a.internal', RR_TYPE.A, { id })))).map(decodeMessage);
    const byId = new Map(replies.map((r) => [r.header.id, r.header.rcode]));
    assert.deepEqual([byId.get(1), byId.get(2), byId.get(3)], [RCODE.NXDOMAIN, RCODE.NXDOMAIN, RCODE.REFUSED]);
  } finally {
    await dns.close();
  }
});

test('close answers a forward in flight (SERVFAIL) and ends open TCP connections', async () => {
  const up = await startFakeUpstream({ kind: 'silent' });
  const dns = await startDnsServer({ store: emptyStore(), host: '127.0.0.1', port: 0, region: 'ams', upstream: up, forwardTimeoutMs: 10_000 });
  const pending = tcpExchange({ host: '127.0.0.1', port: dns.port }, [buildQuery('slow.example', RR_TYPE.A, { id: 77 })], { timeoutMs: 5000 });
  await new Promise<void>((resolve) => {
    const check = (): void => (up.queries.length > 0 ? resolve() : void setImmediate(check));
    check();
  });
  await dns.close();
  const [reply] = await pending;
  assert.equal(decodeMessage(reply!).header.rcode, RCODE.SERVFAIL);
  await up.close();
});

test('start errors: the port in use, an address not on this host, an upstream that is the server itself', async () => {
  const first = await startDnsServer({ store: emptyStore(), host: '127.0.0.1', port: 0, region: 'ams', upstream: null });
  try {
    await assert.rejects(startDnsServer({ store: emptyStore(), host: '127.0.0.1', port: first.port, region: 'ams', upstream: null }), (err: unknown) => isAloftError(err, 'ALREADY_RUNNING') && /'port' must be free/.test(err.message));
  } finally {
    await first.close();
  }
  await assert.rejects(startDnsServer({ store: emptyStore(), host: '192.0.2.77', port: 0, region: 'ams', upstream: null }), (err: unknown) => isAloftError(err, 'INVALID_ARGUMENT') && /'host' must be an address of this host/.test(err.message));
  const probe = await startDnsServer({ store: emptyStore(), host: '127.0.0.1', port: 0, region: 'ams', upstream: null });
  const port = probe.port;
  await probe.close();
  await assert.rejects(startDnsServer({ store: emptyStore(), host: '127.0.0.1', port, region: 'ams', upstream: { host: '127.0.0.1', port } }), (err: unknown) => isAloftError(err, 'INVALID_ARGUMENT') && /'upstream' must be another resolver/.test(err.message));
});

test('upstreams: parsed from flags and from resolv.conf', async () => {
  assert.deepEqual(parseUpstream('1.1.1.1'), { host: '1.1.1.1', port: 53 });
  assert.deepEqual(parseUpstream('10.0.0.2:5353'), { host: '10.0.0.2', port: 5353 });
  assert.deepEqual(parseUpstream('[fdaa::3]:53'), { host: 'fdaa::3', port: 53 });
  assert.deepEqual(parseUpstream('2001:db8::1'), { host: '2001:db8::1', port: 53 });
  for (const bad of ['dns.google', '1.1.1.1:0', '1.1.1.1:99999', '[::1]x', '']) {
    assert.throws(() => parseUpstream(bad), (err: unknown) => isAloftError(err, 'INVALID_ARGUMENT') && err.message.startsWith("Cannot configure DNS as 'upstream' must be an IP address"), bad);
  }
  const dir = await mkdtemp(join(tmpdir(), 'aloft-dns-resolv-'));
  try {
    await writeFile(join(dir, 'a'), '# comment\nsearch example\nnameserver fe80::1%eth0\nnameserver 9.9.9.9\n');
    assert.deepEqual(await upstreamFromResolvConf(join(dir, 'a')), { host: 'fe80::1', port: 53 });
    await writeFile(join(dir, 'b'), 'options ndots:1\n');
    assert.equal(await upstreamFromResolvConf(join(dir, 'b')), undefined);
    assert.equal(await upstreamFromResolvConf(join(dir, 'missing')), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A store with nothing in it, for tests of forwarding and the server itself. */
function emptyStore(): Pick<Store, 'revision' | 'listApps' | 'listMachines' | 'watch'> {
  return { revision: async () => 0, listApps: async () => [], listMachines: async () => [], watch: () => () => undefined };
}
