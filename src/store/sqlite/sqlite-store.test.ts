import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ManualClock } from '../../lib/clock.ts';
import { isAloftError } from '../../lib/errors.ts';
import { runStoreContract } from '../contract.ts';
import type { Change } from '../store.ts';
import { ChangeRecorder, sampleApp, sampleEvent, sampleMachine } from '../testing.ts';
import { openSqliteStore } from './open-sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'aloft-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = (): string => join(dir, `store-${++files}.db`);

runStoreContract('sqlite :memory:', () => openSqliteStore({ path: ':memory:' }));
runStoreContract('sqlite file', () => openSqliteStore({ path: freshPath() }));

describe('SqliteStore', () => {
  test('an empty store is at revision 0, and each change takes the next revision', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    assert.equal(await store.revision(), 0);
    const got: Change[] = [];
    store.watch((c) => got.push(c));
    const app = await store.createApp(sampleApp());
    await store.createMachine(sampleMachine({ appName: app.name }));
    await store.createMachine(sampleMachine({ appName: app.name }));
    await store.deleteApp(app.name);
    assert.deepEqual(
      got.map((c) => c.revision),
      [1, 2, 3, 4, 5, 6],
    );
    assert.equal(await store.revision(), 6);
    await store.close();
  });

  test('listeners have run by the time the write that caused them resolves', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    const got: Change[] = [];
    store.watch((c) => got.push(c));
    const app = await store.createApp(sampleApp());
    assert.equal(got.length, 1);
    await store.deleteApp(app.name);
    assert.equal(got.length, 2);
    await store.close();
  });

  test('updatedAt comes from the injected clock', async () => {
    const clock = new ManualClock(1_000);
    const store = await openSqliteStore({ path: ':memory:', clock });
    const app = await store.createApp(sampleApp());
    const m = await store.createMachine(sampleMachine({ appName: app.name }));
    clock.advance(500);
    assert.equal((await store.updateMachine(m.id, {})).updatedAt, 1_500);
    await store.close();
  });

  test('the change log keeps only the newest changes; watching from before them is "compacted"', async () => {
    const store = await openSqliteStore({ path: ':memory:', changeLogLimit: 5 });
    for (let i = 0; i < 12; i++) await store.createApp(sampleApp());
    assert.equal(await store.revision(), 12);
    assert.throws(
      () => store.watch(() => {}, { fromRevision: 6 }),
      (err: unknown) => isAloftError(err, 'STORE_FAILED') && /compacted/.test(err.message),
    );
    const resumed = new ChangeRecorder(store, { fromRevision: 7 });
    const got = await resumed.waitForRevision(12);
    assert.deepEqual(
      got.map((c) => c.revision),
      [8, 9, 10, 11, 12],
    );
    await store.close();
  });

  test('a second connection to the same file sees the first one’s writes through watch', async () => {
    const path = freshPath();
    const writer = await openSqliteStore({ path });
    const reader = await openSqliteStore({ path, pollIntervalMs: 10 });
    const early = await writer.createApp(sampleApp());
    const live = new ChangeRecorder(reader);
    const replayed = new ChangeRecorder(reader, { fromRevision: 0 });
    const app = await writer.createApp(sampleApp());
    const m = await writer.createMachine(sampleMachine({ appName: app.name }));
    const got = await live.waitForRevision(3);
    assert.deepEqual(
      got.map((c) => c.key),
      [app.name, m.id],
    );
    assert.deepEqual(
      (await replayed.waitForRevision(3)).map((c) => c.key),
      [early.name, app.name, m.id],
    );
    assert.deepEqual(await reader.getMachine(m.id), m);
    await writer.close();
    await reader.close();
  });

  test('another process writing to the same file is seen by watch', async () => {
    const path = freshPath();
    const store = await openSqliteStore({ path, pollIntervalMs: 10 });
    const recorder = new ChangeRecorder(store);
    const module = new URL('./open-sqlite-store.ts', import.meta.url).href;
    const script = `
      const { openSqliteStore } = await import(${JSON.stringify(module)});
      const store = await openSqliteStore({ path: ${JSON.stringify(path)} });
      await store.createApp({ id: 'a1', name: 'from-cli', orgSlug: 'o', network: 1, status: 'pending', createdAt: 1 });
      await store.close();`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'inherit' });
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    const got = await recorder.waitForRevision(1, 5000);
    assert.deepEqual(got[0], {
      revision: 1,
      kind: 'app',
      op: 'put',
      key: 'from-cli',
      app: { id: 'a1', name: 'from-cli', orgSlug: 'o', network: 1, status: 'pending', createdAt: 1 },
    });
    await store.close();
  });

  test('closing and reopening a file keeps everything', async () => {
    const path = freshPath();
    const first = await openSqliteStore({ path });
    const app = await first.createApp(sampleApp());
    const m = await first.createMachine(sampleMachine({ appName: app.name }), [sampleEvent()]);
    const updated = await first.updateMachine(m.id, { patch: { state: 'started' }, events: [sampleEvent({ type: 'start' })] });
    await first.setMeta('k', 'v');
    await first.nextSequence('s');
    const revision = await first.revision();
    await first.close();

    const second = await openSqliteStore({ path });
    assert.deepEqual(await second.getApp(app.name), app);
    assert.deepEqual(await second.getMachine(m.id), updated);
    assert.deepEqual(
      (await second.listEvents(m.id)).map((e) => e.type),
      ['start', 'launch'],
    );
    assert.equal(await second.getMeta('k'), 'v');
    assert.equal(await second.nextSequence('s'), 2);
    assert.equal(await second.revision(), revision);
    await second.close();
  });

  test('a closed store refuses work with STORE_FAILED, and closing twice is fine', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    const recorder = new ChangeRecorder(store);
    await store.close();
    await store.close();
    await assert.rejects(store.getApp('x'), (err: unknown) => isAloftError(err, 'STORE_FAILED') && /closed/.test(err.message));
    await assert.rejects(store.createApp(sampleApp()), (err: unknown) => isAloftError(err, 'STORE_FAILED'));
    assert.throws(() => store.watch(() => {}), (err: unknown) => isAloftError(err, 'STORE_FAILED'));
    recorder.stop();
  });

  test('a listener may close the store without breaking the write that triggered it', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    store.watch(() => void store.close());
    const app = await store.createApp(sampleApp());
    assert.equal(app.status, 'pending');
    await assert.rejects(store.getApp(app.name), (err: unknown) => isAloftError(err, 'STORE_FAILED'));
  });
});
