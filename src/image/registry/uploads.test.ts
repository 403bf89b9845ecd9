import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import { BlobStore } from '../blob-store.ts';
import { sha256Digest } from '../digest.ts';
import { createRegistry, type RunningRegistry } from './registry.ts';
import { errorCode } from './test-fixture.ts';
import { Uploads } from './uploads.ts';

let base: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-uploads-'));
});
after(() => rm(base, { recursive: true, force: true }));

/** A registry on `dir`, listening on loopback. */
async function start(dir: string): Promise<RunningRegistry & { url: string }> {
  const running = await createRegistry({ dir }).listen({ host: '127.0.0.1', port: 0 });
  return Object.assign(running, { url: `http://127.0.0.1:${running.port}` });
}

async function patch(url: string, location: string, offset: number, bytes: Buffer): Promise<Response> {
  return fetch(`${url}${location}`, {
    method: 'PATCH',
    body: bytes,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + bytes.length - 1}` },
  });
}

test('a chunked upload survives a registry restart: the next chunk continues it and PUT finishes it', async () => {
  const dir = join(base, 'restart');
  const first = Buffer.from('the first chunk, sent before the restart; ');
  const second = Buffer.from('the second, after it; ');
  const last = Buffer.from('and the last with the PUT');
  const whole = Buffer.concat([first, second, last]);
  const digest = sha256Digest(whole);

  let reg = await start(dir);
  const post = await fetch(`${reg.url}/v2/durable/blobs/uploads/`, { method: 'POST' });
  assert.equal(post.status, 202);
  const location = post.headers.get('location') ?? '';
  const uuid = post.headers.get('docker-upload-uuid') ?? '';
  assert.equal((await patch(reg.url, location, 0, first)).status, 202);
  await reg.close();
  // A chunk cut short by the stop: bytes on disk past what was recorded.
  await appendFile(join(dir, 'uploads', uuid, 'data'), 'half a chu');

  reg = await start(dir);
  try {
    const status = await fetch(`${reg.url}${location}`);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), `0-${first.length - 1}`, 'the recorded size, not the cut-short bytes');
    const wrongOffset = await patch(reg.url, location, first.length + 10, second);
    assert.equal(wrongOffset.status, 416);
    const next = await patch(reg.url, location, first.length, second);
    assert.equal(next.status, 202);
    assert.equal(next.headers.get('range'), `0-${first.length + second.length - 1}`);
    const put = await fetch(`${reg.url}${location}?digest=${digest}`, { method: 'PUT', body: last });
    assert.equal(put.status, 201, await put.text());
    const get = await fetch(`${reg.url}/v2/durable/blobs/${digest}`);
    assert.equal(get.status, 200);
    assert.deepEqual(Buffer.from(await get.arrayBuffer()), whole);
    assert.deepEqual(await readdir(join(dir, 'uploads')), [], 'the finished session is gone');
  } finally {
    await reg.close();
  }
});

test('after a restart, a session of another repository or a made-up id is BLOB_UPLOAD_UNKNOWN', async () => {
  const dir = join(base, 'unknown');
  let reg = await start(dir);
  const post = await fetch(`${reg.url}/v2/one/blobs/uploads/`, { method: 'POST' });
  const uuid = post.headers.get('docker-upload-uuid') ?? '';
  await reg.close();
  reg = await start(dir);
  try {
    for (const path of [`/v2/two/blobs/uploads/${uuid}`, '/v2/one/blobs/uploads/00000000-0000-0000-0000-000000000000', '/v2/one/blobs/uploads/..%2F..%2Fblobs']) {
      const res = await fetch(`${reg.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(await errorCode(res), 'BLOB_UPLOAD_UNKNOWN');
    }
    assert.equal((await fetch(`${reg.url}/v2/one/blobs/uploads/${uuid}`)).status, 204);
  } finally {
    await reg.close();
  }
});

test('a wrong digest drops the session and its bytes', async () => {
  const dir = join(base, 'wrong');
  const reg = await start(dir);
  try {
    const post = await fetch(`${reg.url}/v2/w/blobs/uploads/`, { method: 'POST' });
    const location = post.headers.get('location') ?? '';
    await patch(reg.url, location, 0, Buffer.from('bytes'));
    const put = await fetch(`${reg.url}${location}?digest=${sha256Digest('other')}`, { method: 'PUT' });
    assert.equal(put.status, 400);
    assert.equal(await errorCode(put), 'DIGEST_INVALID');
    assert.deepEqual(await readdir(join(dir, 'uploads')), []);
    assert.equal((await fetch(`${reg.url}${location}`)).status, 404);
  } finally {
    await reg.close();
  }
});

test('sessions untouched for the TTL are swept, with their bytes; fresh ones stay', async () => {
  let now = 1_000_000;
  const blobs = new BlobStore(join(base, 'ttl'));
  const uploads = new Uploads(blobs, { ttlMs: 60_000, now: () => now });
  const stale = await uploads.start('r');
  await uploads.append('r', stale, Readable.from([Buffer.from('old')]));
  now += 50_000;
  const fresh = await uploads.start('r');
  now += 20_000;
  assert.deepEqual(await uploads.sweep(), [stale]);
  assert.deepEqual(await readdir(join(blobs.dir, 'uploads')), [fresh]);
  await assert.rejects(uploads.size('r', stale), (err) => isAloftError(err, 'REGISTRY_BLOB_UPLOAD_UNKNOWN'));
  // A restarted registry (a new Uploads on the same dir) applies the TTL to what it finds.
  now += 50_000;
  const restarted = new Uploads(blobs, { ttlMs: 60_000, now: () => now });
  await assert.rejects(restarted.size('r', fresh), (err) => isAloftError(err, 'REGISTRY_BLOB_UPLOAD_UNKNOWN'));
  assert.deepEqual(await readdir(join(blobs.dir, 'uploads')), []);
});

test('starting a session sweeps stale ones at most every sweepEveryMs', async () => {
  let now = 0;
  const blobs = new BlobStore(join(base, 'lazy'));
  const uploads = new Uploads(blobs, { ttlMs: 1_000, sweepEveryMs: 10_000, now: () => now });
  const a = await uploads.start('r');
  now = 5_000;
  const b = await uploads.start('r');
  assert.deepEqual((await readdir(join(blobs.dir, 'uploads'))).sort(), [a, b].sort(), 'no sweep yet');
  now = 10_000;
  const c = await uploads.start('r');
  assert.deepEqual(await readdir(join(blobs.dir, 'uploads')), [c]);
});
