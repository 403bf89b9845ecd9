import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { ChangeRecorder, describeChange, sampleApp, sampleMachine } from '../testing.ts';
import { openEtcdStore } from './open-etcd-store.ts';
import { startTestEtcd, type EtcdMember, type TestEtcd } from './testing.ts';

let etcd: TestEtcd | undefined;
before(async () => {
  etcd = await startTestEtcd({ members: 3 });
});
after(async () => {
  await etcd?.stop();
});

/** The member that leads the raft group now, asked of each member in turn. */
async function leader(members: readonly EtcdMember[]): Promise<EtcdMember> {
  for (const member of members) {
    const client = new Etcd3({ hosts: member.clientUrl });
    try {
      const status = await client.maintenance.status();
      if (status.leader === status.header.member_id) return member;
    } finally {
      client.close();
    }
  }
  throw new Error('no member says it leads');
}

test('on a 3-member cluster the store keeps reading, writing and watching when the leader is killed', async () => {
  assert.ok(etcd);
  const store = await openEtcdStore({ endpoints: etcd.endpoints, prefix: '/aloft/' });
  // More followers (as agents, proxies and DNS are), each on its own connection: the
  // client picks a member at random, so most runs kill some follower's watch stream.
  const followers = await Promise.all([1, 2, 3].map(() => openEtcdStore({ endpoints: etcd!.endpoints, prefix: '/aloft/' })));
  try {
    const app = await store.createApp(sampleApp());
    const m = await store.createMachine(sampleMachine({ appName: app.name }));
    const recorder = new ChangeRecorder(store);
    // Another process's "now" is the newest revision it has seen, so followers start from an explicit one.
    const head = await store.revision();
    const recorders = followers.map((f) => new ChangeRecorder(f, { fromRevision: head }));
    const killed = await leader(etcd.members);
    await killed.kill();

    const started = await store.updateMachine(m.id, { patch: { state: 'started' }, expectVersion: m.version });
    const second = await store.createMachine(sampleMachine({ appName: app.name }));
    assert.deepEqual(await store.getMachine(m.id), started);
    assert.deepEqual((await store.listMachines({ appName: app.name })).map((x) => x.id).sort(), [m.id, second.id].sort());
    assert.equal(await store.nextSequence('ip'), 1);

    // The live watch saw every write after the kill, in order, none twice.
    const changes = await recorder.waitFor((c) => c.some((x) => x.key === second.id), 10_000);
    assert.deepEqual(
      changes.map((c) => `${c.kind} ${c.op} ${c.key}`),
      [`machine put ${m.id}`, `machine put ${second.id}`],
    );
    recorder.stop();
    for (const r of recorders) {
      const seen = await r.waitFor((c) => c.some((x) => x.key === second.id), 10_000);
      assert.deepEqual(seen.map(describeChange), changes.map(describeChange));
      r.stop();
    }
    // And a watch from before the kill replays all of it from the survivors.
    const replay = new ChangeRecorder(store, { fromRevision: 0 });
    const all = await replay.waitFor((c) => c.length >= 4, 10_000);
    assert.deepEqual(
      all.map((c) => c.key),
      [app.name, m.id, m.id, second.id],
    );
    replay.stop();
  } finally {
    await store.close();
    await Promise.all(followers.map((f) => f.close()));
  }
});
