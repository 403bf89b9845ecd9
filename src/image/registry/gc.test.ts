import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../lib/clock.ts';
import { sha256Digest } from '../digest.ts';
import { MEDIA_TYPES } from '../media-types.ts';
import { pushBlob, pushImage, startTestRegistry } from './test-fixture.ts';

test('collectGarbage removes unreferenced blobs and keeps what manifests and indexes reference', async () => {
  const reg = await startTestRegistry();
  try {
    const kept = await pushImage(reg.base, 'app', 'keep', 'keep');
    const dropped = await pushImage(reg.base, 'app', 'drop', 'drop');
    const orphan = await pushBlob(reg.base, 'app', Buffer.from('never referenced'));
    // An index keeps its child (and the child's blobs) alive with no tag on the child.
    const child = await pushImage(reg.base, 'app', 'child', 'child');
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest: child.digest, size: child.manifest.length }] }),
    );
    assert.equal((await fetch(`${reg.base}/v2/app/manifests/all`, { method: 'PUT', body: index, headers: { 'Content-Type': MEDIA_TYPES.ociIndex } })).status, 201);
    await fetch(`${reg.base}/v2/app/manifests/child`, { method: 'DELETE' });
    assert.equal((await fetch(`${reg.base}/v2/app/manifests/${dropped.digest}`, { method: 'DELETE' })).status, 202);

    const { removed } = await reg.registry.collectGarbage();
    assert.deepEqual(removed, [dropped.digest, sha256Digest(dropped.config), sha256Digest(dropped.layer), orphan].sort());
    for (const digest of [kept.digest, child.digest, sha256Digest(index)]) {
      assert.equal((await fetch(`${reg.base}/v2/app/manifests/${digest}`, { method: 'HEAD' })).status, 200);
    }
    for (const blob of [kept.config, kept.layer, child.config, child.layer]) {
      assert.equal((await fetch(`${reg.base}/v2/app/blobs/${sha256Digest(blob)}`, { method: 'HEAD' })).status, 200);
    }
    assert.equal((await fetch(`${reg.base}/v2/app/blobs/${orphan}`, { method: 'HEAD' })).status, 404);
    assert.deepEqual((await reg.registry.collectGarbage()).removed, [], 'a second run finds nothing');
  } finally {
    await reg.close();
  }
});

test('collectGarbage keeps unreferenced blobs younger than graceMs (a push in flight)', async () => {
  const reg = await startTestRegistry();
  try {
    const orphan = await pushBlob(reg.base, 'app', Buffer.from('mid-push layer'));
    const clock = new ManualClock(Date.now());
    assert.deepEqual((await reg.registry.collectGarbage({ graceMs: 60_000, clock })).removed, []);
    clock.advance(120_000);
    assert.deepEqual((await reg.registry.collectGarbage({ graceMs: 60_000, clock })).removed, [orphan]);
  } finally {
    await reg.close();
  }
});
