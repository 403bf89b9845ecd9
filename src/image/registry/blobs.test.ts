import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sha256Digest } from '../digest.ts';
import { errorCode, pushBlob, startTestRegistry, type TestRegistry } from './test-fixture.ts';

let reg: TestRegistry;
before(async () => {
  reg = await startTestRegistry();
});
after(async () => {
  await reg.close();
});

test('GET /v2/ answers 200 with the API version header', async () => {
  const res = await fetch(`${reg.base}/v2/`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
});

test('a monolithic POST ?digest= stores the blob; HEAD and GET return it', async () => {
  const bytes = Buffer.from('hello blob');
  const digest = sha256Digest(bytes);
  const post = await fetch(`${reg.base}/v2/mono/blobs/uploads/?digest=${digest}`, { method: 'POST', body: bytes });
  assert.equal(post.status, 201);
  assert.equal(post.headers.get('location'), `/v2/mono/blobs/${digest}`);
  assert.equal(post.headers.get('docker-content-digest'), digest);
  const head = await fetch(`${reg.base}/v2/mono/blobs/${digest}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(bytes.length));
  assert.equal(head.headers.get('docker-content-digest'), digest);
  const get = await fetch(`${reg.base}/v2/mono/blobs/${digest}`);
  assert.deepEqual(Buffer.from(await get.arrayBuffer()), bytes);
});

test('a chunked upload: POST, PATCH with Range progress, GET status, PUT ?digest=', async () => {
  const parts = [Buffer.from('first-'), Buffer.from('second-')];
  const last = Buffer.from('third');
  const whole = Buffer.concat([...parts, last]);
  const start = await fetch(`${reg.base}/v2/chunked/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202);
  const uuid = start.headers.get('docker-upload-uuid');
  let location = start.headers.get('location');
  assert.ok(uuid && location?.endsWith(uuid));
  let offset = 0;
  for (const part of parts) {
    const res = await fetch(`${reg.base}${location}`, {
      method: 'PATCH',
      body: part,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + part.length - 1}` },
    });
    assert.equal(res.status, 202);
    offset += part.length;
    assert.equal(res.headers.get('range'), `0-${offset - 1}`);
    location = res.headers.get('location');
  }
  const status = await fetch(`${reg.base}${location}`);
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), `0-${offset - 1}`);
  const digest = sha256Digest(whole);
  const put = await fetch(`${reg.base}${location}?digest=${digest}`, { method: 'PUT', body: last });
  assert.equal(put.status, 201);
  const get = await fetch(`${reg.base}/v2/chunked/blobs/${digest}`);
  assert.deepEqual(Buffer.from(await get.arrayBuffer()), whole);
});

test('a PATCH that does not start where the upload ends is refused with 416', async () => {
  const start = await fetch(`${reg.base}/v2/chunked/blobs/uploads/`, { method: 'POST' });
  const location = start.headers.get('location');
  const res = await fetch(`${reg.base}${location}`, { method: 'PATCH', body: 'abc', headers: { 'Content-Range': '5-7' } });
  assert.equal(res.status, 416);
  assert.equal(await errorCode(res), 'BLOB_UPLOAD_INVALID');
  // The session survives a refused chunk, as the spec has the client retry from Range.
  const status = await fetch(`${reg.base}${location}`);
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), '0-0');
  assert.equal((await fetch(`${reg.base}${location}`, { method: 'DELETE' })).status, 204);
});

test('regression: a digest mismatch answers DIGEST_INVALID and leaves no blob behind', async () => {
  const wrong = sha256Digest('something else');
  const res = await fetch(`${reg.base}/v2/mismatch/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: 'actual bytes' });
  assert.equal(res.status, 400);
  assert.equal(await errorCode(res), 'DIGEST_INVALID');
  const start = await fetch(`${reg.base}/v2/mismatch/blobs/uploads/`, { method: 'POST' });
  const put = await fetch(`${reg.base}${start.headers.get('location')}?digest=${wrong}`, { method: 'PUT', body: 'other bytes' });
  assert.equal(put.status, 400);
  assert.equal(await errorCode(put), 'DIGEST_INVALID');
  for (const digest of [wrong, sha256Digest('actual bytes'), sha256Digest('other bytes')]) {
    assert.equal((await fetch(`${reg.base}/v2/mismatch/blobs/${digest}`, { method: 'HEAD' })).status, 404);
  }
  const blobs: string[] = await readdir(join(reg.dir, 'blobs', 'sha256')).catch(() => []);
  assert.ok(!blobs.includes(sha256Digest('actual bytes').slice(7)));
  // Upload sessions keep their bytes in uploads/<uuid>/ (uploads.ts); none may be left.
  assert.deepEqual(await readdir(join(reg.dir, 'uploads')), [], 'no upload left');
  // The failed session is gone.
  assert.equal((await fetch(`${reg.base}${start.headers.get('location')}`)).status, 404);
});

test('GET with Range answers 206 with Content-Range; a range past the end is 416', async () => {
  const bytes = Buffer.from('0123456789');
  const digest = await pushBlob(reg.base, 'ranged', bytes);
  const res = await fetch(`${reg.base}/v2/ranged/blobs/${digest}`, { headers: { Range: 'bytes=2-5' } });
  assert.equal(res.status, 206);
  assert.equal(res.headers.get('content-range'), 'bytes 2-5/10');
  assert.equal(await res.text(), '2345');
  const tail = await fetch(`${reg.base}/v2/ranged/blobs/${digest}`, { headers: { Range: 'bytes=-3' } });
  assert.equal(await tail.text(), '789');
  const bad = await fetch(`${reg.base}/v2/ranged/blobs/${digest}`, { headers: { Range: 'bytes=20-30' } });
  assert.equal(bad.status, 416);
  assert.equal(await errorCode(bad), 'RANGE_INVALID');
});

test('blobs are per repository: another repository gets BLOB_UNKNOWN until it mounts', async () => {
  const digest = await pushBlob(reg.base, 'source/repo', Buffer.from('shared layer'));
  const miss = await fetch(`${reg.base}/v2/target/repo/blobs/${digest}`);
  assert.equal(miss.status, 404);
  assert.equal(await errorCode(miss), 'BLOB_UNKNOWN');
  const mount = await fetch(`${reg.base}/v2/target/repo/blobs/uploads/?mount=${digest}&from=source/repo`, { method: 'POST' });
  assert.equal(mount.status, 201);
  assert.equal(mount.headers.get('docker-content-digest'), digest);
  assert.equal((await fetch(`${reg.base}/v2/target/repo/blobs/${digest}`)).status, 200);
});

test('a mount from a repository without the blob falls back to an upload session', async () => {
  const digest = sha256Digest('nowhere');
  const res = await fetch(`${reg.base}/v2/target/repo/blobs/uploads/?mount=${digest}&from=source/repo`, { method: 'POST' });
  assert.equal(res.status, 202);
  assert.ok(res.headers.get('docker-upload-uuid'));
});

test('DELETE of a blob unlinks it from the repository; DELETE of an upload cancels it', async () => {
  const digest = await pushBlob(reg.base, 'deleting', Buffer.from('to delete'));
  assert.equal((await fetch(`${reg.base}/v2/deleting/blobs/${digest}`, { method: 'DELETE' })).status, 202);
  assert.equal((await fetch(`${reg.base}/v2/deleting/blobs/${digest}`, { method: 'HEAD' })).status, 404);
  const again = await fetch(`${reg.base}/v2/deleting/blobs/${digest}`, { method: 'DELETE' });
  assert.equal(await errorCode(again), 'BLOB_UNKNOWN');
  const start = await fetch(`${reg.base}/v2/deleting/blobs/uploads/`, { method: 'POST' });
  const location = start.headers.get('location');
  assert.equal((await fetch(`${reg.base}${location}`, { method: 'DELETE' })).status, 204);
  const gone = await fetch(`${reg.base}${location}`);
  assert.equal(gone.status, 404);
  assert.equal(await errorCode(gone), 'BLOB_UPLOAD_UNKNOWN');
});

test('an upload session is bound to its repository', async () => {
  const start = await fetch(`${reg.base}/v2/one/blobs/uploads/`, { method: 'POST' });
  const uuid = start.headers.get('docker-upload-uuid') ?? '';
  const res = await fetch(`${reg.base}/v2/two/blobs/uploads/${uuid}`);
  assert.equal(await errorCode(res), 'BLOB_UPLOAD_UNKNOWN');
});

test('invalid names and digests get NAME_INVALID and DIGEST_INVALID; odd methods UNSUPPORTED', async () => {
  const name = await fetch(`${reg.base}/v2/Upper/Case/tags/list`);
  assert.equal(name.status, 400);
  assert.equal(await errorCode(name), 'NAME_INVALID');
  const digest = await fetch(`${reg.base}/v2/ok/blobs/sha256:nothex`);
  assert.equal(await errorCode(digest), 'DIGEST_INVALID');
  const method = await fetch(`${reg.base}/v2/ok/blobs/${sha256Digest('x')}`, { method: 'POST' });
  assert.equal(method.status, 405);
  assert.equal(await errorCode(method), 'UNSUPPORTED');
  const route = await fetch(`${reg.base}/v2/ok/nothing`);
  assert.equal(route.status, 404);
});
