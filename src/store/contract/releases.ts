import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { shortId } from '../../lib/ids.ts';
import type { NewRelease } from '../release-store.ts';
import { givenApp, rejectsWith, storeTest, type OpenStore } from './helpers.ts';

const T0 = 1_700_000_000_000;

function newRelease(appName: string, overrides: Partial<NewRelease> = {}): NewRelease {
  return {
    id: `rel_${shortId()}`,
    appName,
    status: 'pending',
    strategy: 'rolling',
    image: { ref: 'registry.local/app:v1', digest: `sha256:${'a'.repeat(64)}` },
    config: { app: appName, env: { GREETING: 'hi' } },
    createdBy: 'alice',
    createdAt: T0,
    ...overrides,
  };
}

/** Releases: per-app numbering, one live release per app, status changes, events in order. */
export function releasesContract(open: OpenStore): void {
  describe('releases', () => {
    storeTest(open, 'releases are numbered 1, 2, 3 per app, and listed newest first', async (store) => {
      const a = await givenApp(store);
      const b = await givenApp(store);
      const first = await store.createRelease(newRelease(a.name));
      assert.equal(first.version, 1);
      await store.updateRelease(first.id, { status: 'succeeded', finishedAt: T0 + 5 }, T0 + 5);
      const other = await store.createRelease(newRelease(b.name));
      assert.equal(other.version, 1, 'another app counts on its own');
      const second = await store.createRelease(newRelease(a.name, { strategy: 'canary', rollbackOf: 1 }));
      assert.equal(second.version, 2);
      const listed = await store.listReleases(a.name);
      assert.deepEqual(listed.map((r) => r.version), [2, 1]);
      assert.deepEqual(listed[0], second);
      assert.deepEqual(await store.getRelease(a.name, 1), { ...first, status: 'succeeded', finishedAt: T0 + 5, updatedAt: T0 + 5 });
      assert.equal(await store.getRelease(a.name, 9), undefined);
    });

    storeTest(open, 'the config, image, strategy, who and rollback source round-trip', async (store) => {
      const app = await givenApp(store);
      const asked = newRelease(app.name, { config: { app: app.name, processes: { web: 'httpd', worker: 'sleep 1' } }, rollbackOf: 3, createdBy: 'ci (token:abc)' });
      const created = await store.createRelease(asked);
      assert.deepEqual(created, { ...asked, version: 1, updatedAt: T0 });
    });

    storeTest(open, 'a second live release of an app is refused with DEPLOY_CONFLICT naming the first and its holder', async (store) => {
      const app = await givenApp(store);
      const first = await store.createRelease(newRelease(app.name));
      await rejectsWith(store.createRelease(newRelease(app.name, { createdBy: 'bob' })), 'DEPLOY_CONFLICT', /release v1 by alice/);
      await store.updateRelease(first.id, { status: 'running' }, T0 + 1);
      await rejectsWith(store.createRelease(newRelease(app.name)), 'DEPLOY_CONFLICT', /running/);
      await store.updateRelease(first.id, { status: 'failed', reason: 'checks failed', finishedAt: T0 + 2 }, T0 + 2);
      assert.equal((await store.createRelease(newRelease(app.name))).version, 2);
    });

    storeTest(open, 'of many concurrent creates exactly one wins', async (store) => {
      const app = await givenApp(store);
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => store.createRelease(newRelease(app.name))));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    });

    storeTest(open, 'filters by status and limit', async (store) => {
      const app = await givenApp(store);
      for (const status of ['succeeded', 'failed', 'succeeded'] as const) {
        const r = await store.createRelease(newRelease(app.name));
        await store.updateRelease(r.id, { status }, T0);
      }
      assert.deepEqual((await store.listReleases(app.name, { statuses: ['succeeded'] })).map((r) => r.version), [3, 1]);
      assert.deepEqual((await store.listReleases(app.name, { limit: 1 })).map((r) => r.version), [3]);
    });

    storeTest(open, 'a release of a missing app is APP_NOT_FOUND; updating a missing release is RELEASE_NOT_FOUND', async (store) => {
      await rejectsWith(store.createRelease(newRelease('no-such-app')), 'APP_NOT_FOUND');
      await rejectsWith(store.updateRelease('rel_missing', { status: 'failed' }, T0), 'RELEASE_NOT_FOUND');
      await rejectsWith(store.appendReleaseEvent('rel_missing', { type: 'x' }, T0), 'RELEASE_NOT_FOUND');
    });

    storeTest(open, 'events are numbered in order and read after a sequence number', async (store) => {
      const app = await givenApp(store);
      const r = await store.createRelease(newRelease(app.name));
      const e1 = await store.appendReleaseEvent(r.id, { type: 'plan', message: 'one' }, T0);
      const e2 = await store.appendReleaseEvent(r.id, { type: 'step', message: 'two' }, T0 + 1);
      assert.deepEqual([e1.seq, e2.seq], [1, 2]);
      assert.deepEqual(await store.listReleaseEvents(r.id), [e1, e2]);
      assert.deepEqual(await store.listReleaseEvents(r.id, 1), [e2]);
    });

    storeTest(open, 'deleting the app deletes its releases: a new app of that name starts at v1', async (store) => {
      const app = await givenApp(store);
      const r = await store.createRelease(newRelease(app.name));
      await store.appendReleaseEvent(r.id, { type: 'plan' }, T0);
      await store.updateRelease(r.id, { status: 'succeeded' }, T0);
      await store.deleteApp(app.name);
      await givenApp(store, { name: app.name });
      assert.deepEqual(await store.listReleases(app.name), []);
      assert.deepEqual(await store.listReleaseEvents(r.id), []);
      assert.equal((await store.createRelease(newRelease(app.name))).version, 1);
    });
  });
}
