import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Machine } from '../model/index.ts';
import { machineIpv6 } from '../net/sixpn.ts';
import { openSqliteStore } from '../store/index.ts';
import type { Change, Store } from '../store/store.ts';
import { DnsView } from './dns-view.ts';
import { CLASS_IN, RCODE, RR_TYPE } from './message.ts';
import { InternalResolver, type Resolution } from './resolver.ts';
import { dnsMachine, seedTwoOrgs, type TwoOrgs } from './testing/fixtures.ts';

const RTT = { ams: { iad: 80, syd: 250 }, iad: { syd: 200 } };

let store: Store;
let nets: TwoOrgs;
let view: DnsView;
let resolver: InternalResolver;
const m: Record<string, Machine> = {};

before(async () => {
  store = await openSqliteStore({ path: ':memory:' });
  nets = await seedTwoOrgs(store);
  const machines: Record<string, Machine> = {
    ams: dnsMachine('web', nets.acme, { region: 'ams', host: 1 }),
    iad: dnsMachine('web', nets.acme, { region: 'iad', host: 2, group: 'worker' }),
    stopped: dnsMachine('web', nets.acme, { region: 'ams', host: 1, state: 'stopped' }),
    syd: dnsMachine('web', nets.acme, { region: 'syd', host: 3 }),
    api: dnsMachine('api', nets.acme, { region: 'ams', host: 1 }),
    secret: dnsMachine('secret', nets.other, { region: 'ams', host: 1 }),
  };
  for (const [key, machine] of Object.entries(machines)) m[key] = await store.createMachine(machine);
  view = new DnsView(store);
  await view.start();
  resolver = new InternalResolver(view, { region: 'ams', rtt: RTT, peers: () => [] });
});

after(async () => {
  view.stop();
  await store.close();
});

const ip = (key: string): string => m[key]!.addresses!.ipv6;
/** Resolves `name` as the Machine `from` (or a raw source address) would. */
function ask(name: string, from: string, type: number = RR_TYPE.AAAA): Resolution {
  return resolver.resolve({ name, type, class: CLASS_IN }, m[from] ? ip(from) : from);
}
function addresses(r: Resolution): string[] {
  assert.equal(r.kind, 'answer');
  if (r.kind !== 'answer') return [];
  assert.equal(r.rcode, RCODE.NOERROR, 'NOERROR');
  return r.answers.map((a) => (a.data.kind === 'aaaa' ? a.data.address : `not AAAA: ${a.data.kind}`)).sort();
}
function txt(r: Resolution): string {
  assert.ok(r.kind === 'answer' && r.rcode === RCODE.NOERROR && r.answers.length === 1, JSON.stringify(r));
  const data = r.answers[0]?.data;
  return data?.kind === 'txt' ? Buffer.concat(data.strings).toString() : 'not TXT';
}
const nxdomain = (r: Resolution, why: string): void => assert.deepEqual(r, { kind: 'answer', rcode: RCODE.NXDOMAIN, answers: [] }, why);
const sorted = (...keys: string[]): string[] => keys.map(ip).sort();

test('<app>.internal and global.<app>.internal: every started Machine of the app, stopped ones left out', () => {
  assert.deepEqual(addresses(ask('web.internal', 'ams')), sorted('ams', 'iad', 'syd'));
  assert.deepEqual(addresses(ask('global.web.internal', 'api')), sorted('ams', 'iad', 'syd'));
  assert.deepEqual(addresses(ask('api.internal', 'ams')), sorted('api'));
});

test('<region>.<app>.internal: the started Machines in that region; an empty region is NXDOMAIN', () => {
  assert.deepEqual(addresses(ask('ams.web.internal', 'ams')), sorted('ams'));
  assert.deepEqual(addresses(ask('iad.web.internal', 'ams')), sorted('iad'));
  nxdomain(ask('fra.web.internal', 'ams'), 'no Machine in fra');
});

test('top<N>.nearest.of.<app>.internal: by region RTT from the asking host (Machine, else its host, else the server region)', () => {
  assert.deepEqual(addresses(ask('top1.nearest.of.web.internal', 'ams')), sorted('ams'));
  assert.deepEqual(addresses(ask('top2.nearest.of.web.internal', 'api')), sorted('ams', 'iad'));
  assert.deepEqual(addresses(ask('top9.nearest.of.web.internal', 'ams')), sorted('ams', 'iad', 'syd'));
  // An address on host 3 that is no Machine (a gateway, a peer): host 3 runs syd Machines.
  const onHost3 = machineIpv6(nets.acme, 3, 4000);
  assert.deepEqual(addresses(ask('top1.nearest.of.web.internal', onHost3)), sorted('syd'));
  assert.deepEqual(addresses(ask('top2.nearest.of.web.internal', onHost3)), sorted('syd', 'iad'));
  // A host the view has never seen: the server's own region (ams).
  assert.deepEqual(addresses(ask('top1.nearest.of.web.internal', machineIpv6(nets.acme, 77, 1))), sorted('ams'));
});

test('<id>.vm.<app>.internal: one started Machine; a stopped one or another app\'s is NXDOMAIN', () => {
  assert.deepEqual(addresses(ask(`${m['iad']!.id}.vm.web.internal`, 'ams')), sorted('iad'));
  nxdomain(ask(`${m['stopped']!.id}.vm.web.internal`, 'ams'), 'stopped');
  nxdomain(ask(`${m['api']!.id}.vm.web.internal`, 'ams'), 'another app');
});

test('<group>.process.<app>.internal: by fly_process_group, "app" for Machines without one', () => {
  assert.deepEqual(addresses(ask('worker.process.web.internal', 'ams')), sorted('iad'));
  assert.deepEqual(addresses(ask('app.process.web.internal', 'ams')), sorted('ams', 'syd'));
  nxdomain(ask('cron.process.web.internal', 'ams'), 'no such group');
});

test('TXT vms, regions, _apps, _instances: the org\'s own data; _peer is empty for now', () => {
  const vms = [m['ams']!, m['iad']!, m['syd']!].sort((a, b) => (a.id < b.id ? -1 : 1)).map((x) => `${x.id} ${x.region}`);
  assert.equal(txt(ask('vms.web.internal', 'ams', RR_TYPE.TXT)), vms.join(','));
  assert.equal(txt(ask('regions.web.internal', 'ams', RR_TYPE.TXT)), 'ams,iad,syd');
  assert.equal(txt(ask('_apps.internal', 'ams', RR_TYPE.TXT)), 'api,web');
  assert.equal(txt(ask('_apps.internal', 'secret', RR_TYPE.TXT)), 'secret');
  assert.deepEqual(ask('_peer.internal', 'ams', RR_TYPE.TXT), { kind: 'answer', rcode: RCODE.NOERROR, answers: [] });
  const instance = (key: string): string => `instance=${m[key]!.id},app=${m[key]!.appName},ip=${ip(key)},region=${m[key]!.region}`;
  const web = ['ams', 'iad', 'syd'].sort((a, b) => (m[a]!.id < m[b]!.id ? -1 : 1)).map(instance);
  assert.equal(txt(ask('_instances.internal', 'ams', RR_TYPE.TXT)), [instance('api'), ...web].join(';'));
  assert.equal(txt(ask('_instances.internal', 'secret', RR_TYPE.TXT)), instance('secret'));
});

test('an org cannot see another org\'s names: NXDOMAIN, as for names that do not exist', () => {
  nxdomain(ask('web.internal', 'secret'), 'other asks acme app');
  nxdomain(ask('secret.internal', 'ams'), 'acme asks other app');
  nxdomain(ask('vms.secret.internal', 'ams', RR_TYPE.TXT), 'TXT too');
  nxdomain(ask(`${m['secret']!.id}.vm.secret.internal`, 'api'), 'by id');
  nxdomain(ask('nosuch.internal', 'ams'), 'no such app');
});

test('queries from outside any known org network get NXDOMAIN for every .internal name', () => {
  for (const source of ['::1', '127.0.0.1', '::ffff:127.0.0.1', machineIpv6(12345, 1, 1), 'fd00::1', 'not an address']) {
    nxdomain(ask('web.internal', source), source);
    nxdomain(ask('_apps.internal', source, RR_TYPE.TXT), source);
  }
});

test('names are case-insensitive and answered in the asker\'s spelling; other types are NOERROR with no data', () => {
  const r = ask('WeB.InTeRnAl', 'ams');
  assert.deepEqual(addresses(r), sorted('ams', 'iad', 'syd'));
  assert.ok(r.kind === 'answer' && r.answers.every((a) => a.name === 'WeB.InTeRnAl' && a.ttl === 5));
  assert.deepEqual(ask('web.internal', 'ams', RR_TYPE.A), { kind: 'answer', rcode: RCODE.NOERROR, answers: [] });
  assert.deepEqual(ask('vms.web.internal', 'ams', RR_TYPE.AAAA), { kind: 'answer', rcode: RCODE.NOERROR, answers: [] });
  assert.equal(ask('web.internal', 'ams', RR_TYPE.ANY).kind, 'answer');
  assert.deepEqual(ask('example.com', 'ams'), { kind: 'forward' });
  assert.deepEqual(resolver.resolve({ name: 'web.internal', type: RR_TYPE.AAAA, class: 3 }, ip('ams')), { kind: 'answer', rcode: RCODE.REFUSED, answers: [] });
});

/** Resolves with the time at which `view` applied a change matching `match`. */
function changeApplied(target: DnsView, match: (change: Change) => boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Cannot wait for the DNS view as a change must arrive within 2000 ms: got none')), 2000);
    const off = target.onChange((change) => {
      if (!match(change)) return;
      clearTimeout(timer);
      off();
      resolve(performance.now());
    });
  });
}

test('answers follow the store: a Machine started or stopped shows within 100 ms (same connection)', async () => {
  const id = m['stopped']!.id;
  let applied = changeApplied(view, (c) => c.key === id);
  let t0 = performance.now();
  await store.updateMachine(id, { patch: { state: 'started' } });
  assert.ok((await applied) - t0 < 100, `applied after ${(await applied) - t0} ms`);
  assert.deepEqual(addresses(ask('ams.web.internal', 'iad')), sorted('ams', 'stopped'));

  applied = changeApplied(view, (c) => c.key === id);
  t0 = performance.now();
  await store.updateMachine(id, { patch: { state: 'stopping' } });
  assert.ok((await applied) - t0 < 100);
  assert.deepEqual(addresses(ask('ams.web.internal', 'iad')), sorted('ams'));
});

test('answers follow a store written by another connection (another process) within 100 ms', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-dns-view-'));
  const writer = await openSqliteStore({ path: join(dir, 'aloft.db') });
  const reader = await openSqliteStore({ path: join(dir, 'aloft.db') });
  const far = new DnsView(reader);
  try {
    const n = await seedTwoOrgs(writer);
    await far.start();
    const r = new InternalResolver(far, { region: 'ams' });
    const asker = machineIpv6(n.acme, 1, 1);
    assert.equal(r.resolve({ name: 'web.internal', type: RR_TYPE.AAAA, class: CLASS_IN }, asker).kind, 'answer');
    const machine = dnsMachine('web', n.acme);
    const applied = changeApplied(far, (c) => c.key === machine.id);
    const t0 = performance.now();
    await writer.createMachine(machine);
    const ms = (await applied) - t0;
    assert.ok(ms < 100, `applied after ${ms} ms`);
    assert.deepEqual(addresses(r.resolve({ name: 'web.internal', type: RR_TYPE.AAAA, class: CLASS_IN }, asker)), [machine.addresses!.ipv6]);
    // A deleted app takes its names with it.
    await writer.updateMachine(machine.id, { patch: { state: 'destroyed' } });
    const gone = changeApplied(far, (c) => c.kind === 'app' && c.op === 'delete');
    await writer.deleteApp('web');
    await gone;
    nxdomain(r.resolve({ name: 'web.internal', type: RR_TYPE.AAAA, class: CLASS_IN }, asker), 'deleted app');
  } finally {
    far.stop();
    await reader.close();
    await writer.close();
    await rm(dir, { recursive: true, force: true });
  }
});
