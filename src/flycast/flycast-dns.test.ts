import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DnsView } from '../dns/dns-view.ts';
import { CLASS_IN, RCODE, RR_TYPE, type ResourceRecord } from '../dns/message.ts';
import { InternalResolver, type Resolution } from '../dns/resolver.ts';
import { seedTwoOrgs, type TwoOrgs } from '../dns/testing/fixtures.ts';
import { machineIpv6 } from '../net/sixpn.ts';
import { openSqliteStore } from '../store/index.ts';
import type { Store } from '../store/store.ts';
import { allocateFlycastIp } from './flycast-address.ts';
import { FlycastDirectory } from './flycast-directory.ts';

let store: Store;
let nets: TwoOrgs;
let view: DnsView;
let directory: FlycastDirectory;
let resolver: InternalResolver;

before(async () => {
  store = await openSqliteStore({ path: ':memory:' });
  nets = await seedTwoOrgs(store);
  view = new DnsView(store);
  await view.start();
  directory = new FlycastDirectory(store);
  await directory.start();
  resolver = new InternalResolver(view, { region: 'ams', flycast: (app) => directory.addressesOf(app) });
});

after(async () => {
  directory.stop();
  view.stop();
  await store.close();
});

const ask = (name: string, source: string, type: number = RR_TYPE.AAAA): Resolution => resolver.resolve({ name, type, class: CLASS_IN }, source);
const aaaa = (r: Resolution): string[] => (r.kind === 'answer' ? r.answers.map((a: ResourceRecord) => (a.data.kind === 'aaaa' ? a.data.address : '?')) : []);
const rcode = (r: Resolution): number | undefined => (r.kind === 'answer' ? r.rcode : undefined);

test('<app>.flycast answers the app’s Flycast address to its own org only, and follows allocation and release', async () => {
  const acme = machineIpv6(nets.acme, 1, 900);
  const other = machineIpv6(nets.other, 1, 901);
  assert.equal(rcode(ask('web.flycast', acme)), RCODE.NXDOMAIN, 'none allocated yet');
  const ip = await allocateFlycastIp(store, { app: 'web' });
  assert.deepEqual(aaaa(ask('WEB.flycast', acme)), [ip.address]);
  assert.equal(rcode(ask('web.flycast', acme, RR_TYPE.TXT)), RCODE.NOERROR);
  assert.equal(rcode(ask('web.flycast', other)), RCODE.NXDOMAIN, 'another org cannot learn it');
  assert.equal(rcode(ask('web.flycast', '2001:db8::1')), RCODE.NXDOMAIN, 'nor a source outside 6PN');
  assert.equal(rcode(ask('nope.flycast', acme)), RCODE.NXDOMAIN);
  assert.equal(rcode(ask('a.web.flycast', acme)), RCODE.NXDOMAIN);
  await store.deleteIp(ip.address);
  assert.equal(rcode(ask('web.flycast', acme)), RCODE.NXDOMAIN, 'released');
});
