/**
 * Concurrency: 50 parallel writes to one Machine. Each write either lands (and is then
 * in the Machine's history) or is refused with 409 because another landed first; none
 * is lost, none is half-applied, and the record's version counts exactly the writes that
 * landed. Clients that retry on 409 all land in the end.
 *
 * Covers Fly's update (`POST …/machines/{id}`), updates taken in turn through leases,
 * metadata writes and starts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fields, openHarness, type Answer, type Harness } from './harness.ts';

const PARALLEL = 50;

describe(`concurrency: ${PARALLEL} parallel writes to one Machine`, () => {
  let h: Harness;
  const create = async (): Promise<string> => fields(await h.call('POST', '/apps/cc/machines', { config: { image: 'ok-image' }, skip_launch: true }))['id'] as string;

  before(async () => {
    h = await openHarness({ rateLimits: false });
    await h.call('POST', '/apps', { app_name: 'cc' });
  });
  after(() => h.close());

  test('updates: each lands or is a 409; the history holds every one that landed', async () => {
    const id = await create();
    const start = (await h.store.getMachine(id))!;
    const update = (i: number): Promise<Answer> => h.call('POST', `/apps/cc/machines/${id}`, { config: { image: 'ok-image', env: { N: String(i) } }, skip_launch: true });
    const answers = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => update(i)));
    const landed = answers.flatMap((a, i) => (a.status === 200 ? [{ i, instance: fields(a)['instance_id'] as string }] : []));
    for (const a of answers) assert.ok(a.status === 200 || a.status === 409, `${a.status} ${a.text}`);
    assert.ok(landed.length >= 1, 'at least one update lands');

    const final = (await h.store.getMachine(id))!;
    assert.equal(final.version, start.version + landed.length, 'one record version per update that landed');
    const versions = await h.store.listMachineVersions(id);
    const ids = versions.map((v) => v.instanceId);
    assert.equal(new Set(ids).size, ids.length, 'version ids are distinct');
    for (const { instance } of landed) assert.ok(ids.includes(instance), `update ${instance} is in the history`);
    const live = versions.filter((v) => v.replacedAt === undefined);
    assert.deepEqual(live.map((v) => v.instanceId), [final.instanceId], 'exactly one live version: the machine’s');
    const winner = landed.find((l) => l.instance === final.instanceId)!;
    assert.equal(final.config.env?.['N'], String(winner.i), 'the live config is the one sent with the live version (no torn write)');
  });

  test('updates that retry on 409 all land: no update is lost', async () => {
    const id = await create();
    const instances = await Promise.all(
      Array.from({ length: PARALLEL }, async (_, i) => {
        for (let attempt = 0; attempt < 10 * PARALLEL; attempt++) {
          const answer = await h.call('POST', `/apps/cc/machines/${id}`, { config: { image: 'ok-image', env: { N: String(i) } }, skip_launch: true });
          if (answer.status === 200) return fields(answer)['instance_id'] as string;
          assert.equal(answer.status, 409, answer.text);
        }
        assert.fail(`update ${i} never landed`);
      }),
    );
    const versions = await h.store.listMachineVersions(id);
    assert.equal(versions.length, PARALLEL + 1, 'the first version and one per update');
    for (const instance of instances) assert.ok(versions.some((v) => v.instanceId === instance));
    assert.equal((await h.store.getMachine(id))!.version, 1 + PARALLEL);
  });

  test('updates through leases: 50 clients each take the lease, update with its nonce, release; none is lost', async () => {
    const id = await create();
    const instances = await Promise.all(
      Array.from({ length: PARALLEL }, async (_, i) => {
        for (let attempt = 0; attempt < 20 * PARALLEL; attempt++) {
          const lease = await h.call('POST', `/apps/cc/machines/${id}/lease`, { ttl: 30, description: `client ${i}` });
          if (lease.status === 409) {
            await new Promise((resolve) => setImmediate(resolve));
            continue;
          }
          assert.equal(lease.status, 200, lease.text);
          const nonce = (fields(lease)['data'] as Record<string, unknown>)['nonce'] as string;
          const withNonce = { 'fly-machine-lease-nonce': nonce };
          // Without the nonce, the holder's Machine is refused to everyone.
          assert.equal((await h.call('POST', `/apps/cc/machines/${id}`, { config: { image: 'ok-image' }, skip_launch: true })).status, 409);
          const update = await h.call('POST', `/apps/cc/machines/${id}`, { config: { image: 'ok-image', env: { N: String(i) } }, skip_launch: true }, undefined, withNonce);
          assert.equal(update.status, 200, update.text);
          assert.equal((await h.call('DELETE', `/apps/cc/machines/${id}/lease`, undefined, undefined, withNonce)).status, 200);
          return fields(update)['instance_id'] as string;
        }
        assert.fail(`client ${i} never got the lease`);
      }),
    );
    const versions = await h.store.listMachineVersions(id);
    assert.equal(versions.length, PARALLEL + 1, 'the first version and one per client');
    for (const instance of instances) assert.ok(versions.some((v) => v.instanceId === instance), `update ${instance} is in the history`);
    assert.equal(versions.filter((v) => v.replacedAt === undefined).length, 1, 'exactly one live version');
  });

  test('metadata: 50 parallel writes of different keys all land', async () => {
    const id = await create();
    const answers = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => h.call('POST', `/apps/cc/machines/${id}/metadata/k${i}`, { value: String(i) })));
    for (const a of answers) assert.ok(a.status < 300 || a.status === 409, `${a.status} ${a.text}`);
    const ok = answers.filter((a) => a.status < 300).length;
    const metadata = (await h.store.getMachine(id))!.config.metadata ?? {};
    assert.equal(Object.keys(metadata).filter((k) => /^k\d+$/.test(k)).length, ok, 'every write that answered success is there');
  });

  test('start: 50 parallel starts of a stopped Machine make exactly one transition', async () => {
    const id = await create();
    const before = (await h.store.getMachine(id))!;
    const answers = await Promise.all(Array.from({ length: PARALLEL }, () => h.call('POST', `/apps/cc/machines/${id}/start`)));
    for (const a of answers) assert.ok(a.status === 200 || a.status === 409 || a.status === 412, `${a.status} ${a.text}`);
    const after = (await h.store.getMachine(id))!;
    assert.equal(after.state, 'starting');
    assert.equal(after.version, before.version + 1, 'one write: the transition');
    const starts = (await h.store.listEvents(id)).filter((e) => e.type === 'start' && e.status === 'requested');
    assert.equal(starts.length, 1, 'one start event');
  });
});
