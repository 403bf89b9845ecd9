// A write's reads on etcd: one linearizable read pins the snapshot, the rest are
// serializable at that revision (no quorum round trip each), on a real 3-member cluster.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3, KVClient, type IRangeRequest, type IRangeResponse } from 'etcd3';
import { sampleApp, sampleMachine } from '../testing.ts';
import { openEtcdStore } from './open-etcd-store.ts';
import { startTestEtcd, type TestEtcd } from './testing.ts';
import { isFutureRevision, transact } from './transaction.ts';

let etcd: TestEtcd | undefined;
before(async () => {
  etcd = await startTestEtcd({ members: 3 });
});
after(async () => {
  await etcd?.stop();
});

interface RangeCall {
  serializable: boolean;
  revision: number | undefined;
  headerRevision: number | undefined;
}

/**
 * Records every range this process sends (all clients: the store's own is private) while
 * `fn` runs; `fail` may throw instead of sending, as a lagging member would answer.
 */
async function recordRanges<T>(fn: () => Promise<T>, fail?: (request: IRangeRequest, index: number) => Error | undefined): Promise<{ result: T; calls: RangeCall[] }> {
  const original = KVClient.prototype.range;
  const calls: RangeCall[] = [];
  KVClient.prototype.range = async function (this: KVClient, request: IRangeRequest, options?: unknown): Promise<IRangeResponse> {
    const call: RangeCall = { serializable: request.serializable === true, revision: request.revision === undefined ? undefined : Number(request.revision), headerRevision: undefined };
    calls.push(call);
    const error = fail?.(request, calls.length - 1);
    if (error !== undefined) throw error;
    const res = await original.call(this, request, options as never);
    call.headerRevision = Number(res.header.revision);
    return res;
  };
  try {
    return { result: await fn(), calls };
  } finally {
    KVClient.prototype.range = original;
  }
}

/** etcd's own answer to a read at a revision a member has not reached. */
async function futureRevisionError(client: Etcd3): Promise<Error> {
  const head = Number((await client.kv.range({ key: Buffer.from('/'), count_only: true })).header.revision);
  try {
    await client.kv.range({ key: Buffer.from('/'), revision: head + 1000, serializable: true });
  } catch (err) {
    return err as Error;
  }
  return assert.fail('etcd served a read at a future revision');
}

test("isFutureRevision knows etcd's answer for a revision not reached, and nothing else", async () => {
  const client = new Etcd3({ hosts: etcd!.endpoints });
  try {
    const future = await futureRevisionError(client);
    assert.equal(isFutureRevision(future), true, future.message);
    await client.put('/pinned-reads/compact').value('1');
    const old = Number((await client.kv.range({ key: Buffer.from('/'), count_only: true })).header.revision);
    await client.put('/pinned-reads/compact').value('2');
    await client.kv.compact({ revision: old + 1, physical: true });
    const compacted = await client.kv.range({ key: Buffer.from('/pinned-reads/compact'), revision: old, serializable: true }).then(
      () => assert.fail('a compacted revision was served'),
      (err: unknown) => err as Error,
    );
    assert.equal(isFutureRevision(compacted), false, compacted.message);
  } finally {
    client.close();
  }
});

test("a store's write on a 3-member cluster makes no quorum read: the first is the member's own, the rest at its revision", async () => {
  const store = await openEtcdStore({ endpoints: etcd!.endpoints, prefix: '/pinned-reads-1/' });
  try {
    const app = await store.createApp(sampleApp());
    const { result: machine, calls } = await recordRanges(() => store.createMachine(sampleMachine({ appName: app.name })));
    assert.ok(calls.length > 1, `createMachine reads more than one key: ${calls.length}`);
    assert.deepEqual([calls[0]!.serializable, calls[0]!.revision], [true, undefined]);
    const pin = calls[0]!.headerRevision;
    for (const call of calls.slice(1)) assert.deepEqual([call.serializable, call.revision], [true, pin]);
    assert.deepEqual(await store.getMachine(machine.id), machine);
    // Reads alone stay linearizable: another process's write must be seen at once.
    const { calls: reads } = await recordRanges(() => store.getMachine(machine.id));
    assert.equal(reads[0]!.serializable, false);
  } finally {
    await store.close();
  }
});

test('a member behind the pinned revision answers that read linearizably instead, and the write is right', async () => {
  const store = await openEtcdStore({ endpoints: etcd!.endpoints, prefix: '/pinned-reads-2/' });
  const client = new Etcd3({ hosts: etcd!.endpoints });
  try {
    const lagging = await futureRevisionError(client);
    const app = await store.createApp(sampleApp());
    const first = await store.createMachine(sampleMachine({ appName: app.name }));
    // Every read at the pin is refused as a member that has not caught up would refuse it.
    const { result: updated, calls } = await recordRanges(
      () => store.updateMachine(first.id, { patch: { state: 'started' }, expectVersion: first.version }),
      (request) => (request.serializable === true && request.revision !== undefined ? lagging : undefined),
    );
    const pin = calls[0]!.headerRevision;
    const refused = calls.filter((c) => c.serializable && c.revision !== undefined);
    assert.ok(refused.length > 0, JSON.stringify(calls));
    // Each refused read was asked again, linearizably, at the same pinned revision.
    const again = calls.filter((c) => !c.serializable);
    assert.equal(again.length, refused.length, JSON.stringify(calls));
    for (const call of again) assert.equal(call.revision, pin);
    assert.equal(updated.state, 'started');
    assert.deepEqual(await store.getMachine(first.id), updated);
  } finally {
    client.close();
    await store.close();
  }
});

test('a member behind what the writer has seen is not trusted for the first read', async () => {
  const client = new Etcd3({ hosts: etcd!.endpoints });
  try {
    await client.put('/pinned-reads-4/a').value('0');
    const head = Number((await client.kv.range({ key: Buffer.from('/'), count_only: true })).header.revision);
    // No member has reached head + 1000: as if this writer had seen a write none has applied.
    const { result, calls } = await recordRanges(() => transact(client, 'read a', async (tx) => (await tx.get('/pinned-reads-4/a'))?.value.toString(), { optimistic: { minRevision: head + 1000 } }));
    assert.equal(result.result, '0');
    assert.deepEqual(
      calls.map((c) => [c.serializable, c.revision]),
      [
        [true, undefined],
        [false, undefined],
      ],
    );
  } finally {
    client.close();
  }
});

test('a stale first read is never committed: the compare fails and the write runs again from a linearizable read', async () => {
  const client = new Etcd3({ hosts: etcd!.endpoints });
  try {
    await client.put('/pinned-reads-5/a').value('old');
    const before = Number((await client.kv.range({ key: Buffer.from('/'), count_only: true })).header.revision);
    await client.put('/pinned-reads-5/a').value('new');
    const original = KVClient.prototype.range;
    let seen: string[] = [];
    // The first read answers as a member that has applied only up to `before` would:
    // the data and the header's revision both of then.
    const lagging = async function (this: KVClient, request: IRangeRequest, options?: unknown): Promise<IRangeResponse> {
      if (request.serializable === true && request.revision === undefined) {
        const res = await original.call(this, { ...request, revision: before }, options as never);
        return { ...res, header: { ...res.header, revision: String(before) } };
      }
      return original.call(this, request, options as never);
    };
    const { calls } = await recordRanges(async () => {
      const recording = KVClient.prototype.range;
      KVClient.prototype.range = async function (this: KVClient, request: IRangeRequest, options?: unknown) {
        return request.serializable === true && request.revision === undefined ? lagging.call(this, request, options) : recording.call(this, request, options as never);
      };
      try {
        await transact(
          client,
          'append to a',
          async (tx) => {
            const a = (await tx.get('/pinned-reads-5/a'))?.value.toString() ?? '';
            seen = [...seen, a];
            tx.put('/pinned-reads-5/a', `${a}+1`);
          },
          { optimistic: { minRevision: 0 } },
        );
      } finally {
        KVClient.prototype.range = recording;
      }
    });
    assert.deepEqual(seen, ['old', 'new'], 'the stale attempt ran, its commit was refused, the retry read the truth');
    assert.equal(await client.get('/pinned-reads-5/a').string(), 'new+1');
    assert.ok(calls.some((c) => !c.serializable && c.revision === undefined), 'the retry started linearizable');
  } finally {
    client.close();
  }
});

test('an optimistic attempt that refuses, commits nothing, or lists loosely is asked again linearizably', async () => {
  const client = new Etcd3({ hosts: etcd!.endpoints });
  try {
    await client.put('/pinned-reads-6/list/x').value('1');
    const firstReads = (calls: RangeCall[]): string[] => calls.filter((c) => c.revision === undefined).map((c) => (c.serializable ? 'local' : 'quorum'));
    const optimistic = { optimistic: { minRevision: 0 } };

    let tries = 0;
    const refused = await recordRanges(() =>
      transact(
        client,
        'refuse',
        async (tx) => {
          tries += 1;
          await tx.get('/pinned-reads-6/missing');
          throw new Error('refused');
        },
        optimistic,
      ).then(
        () => assert.fail('the refusal was committed'),
        (err: unknown) => err as Error,
      ),
    );
    assert.equal(refused.result.message, 'refused');
    assert.equal(tries, 2);
    assert.deepEqual(firstReads(refused.calls), ['local', 'quorum']);

    const noop = await recordRanges(() => transact(client, 'read only', async (tx) => (await tx.get('/pinned-reads-6/list/x'))?.value.toString(), optimistic));
    assert.equal(noop.result.result, '1');
    assert.deepEqual(firstReads(noop.calls), ['local', 'quorum']);

    const loose = await recordRanges(() =>
      transact(
        client,
        'count the list',
        async (tx) => {
          const n = (await tx.list('/pinned-reads-6/list/')).length;
          tx.put('/pinned-reads-6/count', String(n));
        },
        optimistic,
      ),
    );
    assert.deepEqual(firstReads(loose.calls), ['local', 'quorum']);
    const count = await client.kv.range({ key: Buffer.from('/pinned-reads-6/count') });
    assert.deepEqual([count.kvs[0]?.value.toString(), count.kvs[0]?.version], ['1', '1'], 'committed once, from the linearizable attempt');

    const strict = await recordRanges(() =>
      transact(
        client,
        'count the list strictly',
        async (tx) => {
          const n = (await tx.list('/pinned-reads-6/list/', { strict: true })).length;
          tx.put('/pinned-reads-6/strict-count', String(n));
        },
        optimistic,
      ),
    );
    assert.deepEqual(firstReads(strict.calls), ['local'], 'a strict list is checked by the commit, so the local read stands');
  } finally {
    client.close();
  }
});

test('a conflict retries from a fresh linearizable read, never from the old pin', async () => {
  const client = new Etcd3({ hosts: etcd!.endpoints });
  const other = new Etcd3({ hosts: etcd!.endpoints });
  try {
    await client.put('/pinned-reads-3/a').value('0');
    await client.put('/pinned-reads-3/b').value('0');
    let attempts = 0;
    const { result, calls } = await recordRanges(() =>
      transact(client, 'bump a from b', async (tx) => {
        attempts += 1;
        const a = await tx.get('/pinned-reads-3/a');
        // Another writer changes b after this attempt pinned its snapshot, the first time only.
        if (attempts === 1) await other.put('/pinned-reads-3/b').value('1');
        const b = await tx.get('/pinned-reads-3/b');
        tx.put('/pinned-reads-3/a', `${a?.value.toString()}+${b?.value.toString()}`);
        return b?.value.toString();
      }),
    );
    assert.equal(attempts, 2);
    // The first attempt read b at its pin (the old 0), and its commit was refused; the second read 1.
    assert.equal(result.result, '1');
    assert.equal(await client.get('/pinned-reads-3/a').string(), '0+1');
    const firstOfEach = calls.filter((c) => !c.serializable && c.revision === undefined);
    assert.equal(firstOfEach.length, 2, JSON.stringify(calls));
    assert.ok(firstOfEach[1]!.headerRevision! > firstOfEach[0]!.headerRevision!, 'the retry pinned a newer revision');
  } finally {
    client.close();
    other.close();
  }
});
