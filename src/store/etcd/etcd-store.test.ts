import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../lib/clock.ts';
import { isAloftError, type AloftError } from '../../lib/errors.ts';
import { runStoreContract } from '../contract.ts';
import type { Change } from '../store.ts';
import { ChangeRecorder, sampleApp, sampleEvent, sampleMachine } from '../testing.ts';
import { sampleSnapshot, sampleVolume } from '../volume-samples.ts';
import { openEtcdStore } from './open-etcd-store.ts';
import { startTestEtcd, type TestEtcd } from './testing.ts';

// One etcd for the file; each store gets its own prefix, so each test starts empty.
let etcd: TestEtcd | undefined;
before(async () => {
  etcd = await startTestEtcd();
});
after(async () => {
  await etcd?.stop();
});

let stores = 0;
const endpoints = (): string[] => {
  assert.ok(etcd, 'etcd is running');
  return etcd.endpoints;
};
const freshPrefix = (): string => `/aloft-test-${++stores}/`;

runStoreContract('etcd', () => openEtcdStore({ endpoints: endpoints(), prefix: freshPrefix() }));

describe('EtcdStore', () => {
  test('the store revision is etcd’s: each write takes a later one, and a failed write none', async () => {
    const store = await openEtcdStore({ endpoints: endpoints(), prefix: freshPrefix() });
    const start = await store.revision();
    const app = await store.createApp(sampleApp());
    const afterApp = await store.revision();
    assert.equal(afterApp, start + 1);
    await assert.rejects(store.createApp(sampleApp({ name: app.name })));
    assert.equal(await store.revision(), afterApp);
    await store.close();
  });

  test('updatedAt comes from the injected clock', async () => {
    const clock = new ManualClock(1_000);
    const store = await openEtcdStore({ endpoints: endpoints(), prefix: freshPrefix(), clock });
    const app = await store.createApp(sampleApp());
    const m = await store.createMachine(sampleMachine({ appName: app.name }));
    clock.advance(500);
    assert.equal((await store.updateMachine(m.id, {})).updatedAt, 1_500);
    await store.close();
  });

  test('two stores on one prefix (two API processes) see each other’s writes and races', async () => {
    const prefix = freshPrefix();
    const a = await openEtcdStore({ endpoints: endpoints(), prefix });
    const b = await openEtcdStore({ endpoints: endpoints(), prefix });
    const recorder = new ChangeRecorder(b);
    const app = await a.createApp(sampleApp());
    const m = await a.createMachine(sampleMachine({ appName: app.name }));
    const got = await recorder.waitForRevision(await a.revision());
    assert.deepEqual(
      got.map((c) => `${c.kind} ${c.op} ${c.key}`),
      [`app put ${app.name}`, `machine put ${m.id}`],
    );
    // Both update from version 1: exactly one wins.
    const results = await Promise.allSettled([
      a.updateMachine(m.id, { patch: { state: 'starting' }, expectVersion: 1 }),
      b.updateMachine(m.id, { patch: { state: 'stopping' }, expectVersion: 1 }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const lost = results.find((r) => r.status === 'rejected');
    assert.ok(lost?.status === 'rejected' && isAloftError(lost.reason, 'STORE_CONFLICT'));
    recorder.stop();
    await a.close();
    await b.close();
  });

  test('two stores with different prefixes share nothing', async () => {
    const a = await openEtcdStore({ endpoints: endpoints(), prefix: freshPrefix() });
    const b = await openEtcdStore({ endpoints: endpoints(), prefix: freshPrefix() });
    const app = await a.createApp(sampleApp());
    assert.equal(await b.getApp(app.name), undefined);
    assert.deepEqual(await b.listApps(), []);
    await a.close();
    await b.close();
  });

  test('a watch from a compacted revision stops with the same STORE_FAILED "compacted" error as SQLite', async () => {
    const store = await openEtcdStore({ endpoints: endpoints(), prefix: freshPrefix() });
    const from = await store.revision();
    for (let i = 0; i < 5; i++) await store.createApp(sampleApp());
    const head = await store.revision();
    // Compact etcd up to the head, as an operator's (or etcd's auto-) compaction would.
    const { Etcd3 } = await import('etcd3');
    const admin = new Etcd3({ hosts: endpoints() });
    await admin.kv.compact({ revision: head, physical: true });
    admin.close();
    const error = await new Promise<AloftError>((resolve) => {
      store.watch(() => assert.fail('a compacted watch delivers nothing'), { fromRevision: from, onError: resolve });
    });
    assert.equal(error.code, 'STORE_FAILED');
    assert.match(error.message, new RegExp(`^Cannot watch the store from revision ${from} as 'fromRevision' must be at least ${head - 1}, because older changes are compacted`));
    // Watching from the horizon works and sees the next write.
    const resumed = new ChangeRecorder(store, { fromRevision: head - 1 });
    const app = await store.createApp(sampleApp());
    const got = await resumed.waitFor((c) => c.some((x) => x.key === app.name));
    assert.deepEqual(got.map((c) => c.key).at(-1), app.name);
    resumed.stop();
    await store.close();
  });

  test('a closed store refuses work with STORE_FAILED, and closing twice is fine', async () => {
    const store = await openEtcdStore({ endpoints: endpoints(), prefix: freshPrefix() });
    await store.close();
    await store.close();
    await assert.rejects(store.getApp('x'), (err: unknown) => isAloftError(err, 'STORE_FAILED') && /closed/.test(err.message));
    assert.throws(() => store.watch(() => {}), (err: unknown) => isAloftError(err, 'STORE_FAILED'));
  });

  test('opening with no endpoints or a bad prefix is INVALID_ARGUMENT naming the field', async () => {
    await assert.rejects(openEtcdStore({ endpoints: [] }), (err: unknown) => isAloftError(err, 'INVALID_ARGUMENT') && /'endpoints'/.test(err.message));
    await assert.rejects(
      openEtcdStore({ endpoints: endpoints(), prefix: 'aloft' }),
      (err: unknown) => isAloftError(err, 'INVALID_ARGUMENT') && /'prefix'/.test(err.message),
    );
  });

  test('deleting an app with more records than one etcd transaction may hold: each machine, volume, release and IP goes, the app last', async () => {
    const prefix = freshPrefix();
    const store = await openEtcdStore({ endpoints: endpoints(), prefix });
    const app = await store.createApp(sampleApp());
    const machines = [];
    for (let i = 0; i < 40; i++) machines.push(await store.createMachine(sampleMachine({ appName: app.name }), [sampleEvent()]));
    for (let i = 0; i < 30; i++) {
      const volume = await store.createVolume(sampleVolume({ appName: app.name }));
      await store.createSnapshot(sampleSnapshot(volume));
    }
    for (let i = 0; i < 70; i++) {
      const release = await store.createRelease({ id: `rel_${i}`, appName: app.name, status: 'succeeded', strategy: 'rolling', image: { ref: 'x', digest: 'y' }, config: {}, createdBy: 'me', createdAt: i });
      await store.appendReleaseEvent(release.id, { type: 'plan' }, i);
    }
    for (let i = 0; i < 10; i++) {
      await store.createIp({ address: `fdaa:0:7::${i}:2`, app: app.name, org: 'personal', type: 'private_v6', region: 'ams', createdAt: i });
    }
    const recorder = new ChangeRecorder(store);
    await store.deleteApp(app.name);
    const got: Change[] = await recorder.waitFor((c) => c.some((x) => x.kind === 'app'));
    recorder.stop();
    assert.equal(got.length, 40 + 30 + 10 + 1);
    assert.deepEqual(
      [...new Set(got.map((c) => `${c.kind} ${c.op}`))],
      ['machine delete', 'volume delete', 'ip delete', 'app delete'],
    );
    assert.equal(got.at(-1)?.kind, 'app');
    assert.ok(new Set(got.map((c) => c.revision)).size > 1, 'it took more than one transaction');
    assert.deepEqual(await store.listMachines({ appName: app.name, includeDestroyed: true }), []);
    assert.deepEqual(await store.listVolumes({ appName: app.name, includeDestroyed: true }), []);
    assert.deepEqual(await store.listReleases(app.name), []);
    assert.deepEqual(await store.listReleaseEvents('rel_0'), []);
    assert.deepEqual(await store.listEvents(machines[0]!.id), []);
    // The prefix holds nothing of the app any more: only the seeded org.
    const { Etcd3 } = await import('etcd3');
    const raw = new Etcd3({ hosts: endpoints() });
    const left = await raw.getAll().prefix(prefix).keys();
    raw.close();
    assert.deepEqual(left, [`${prefix}orgs/personal`]);
    await store.close();
  });
});
