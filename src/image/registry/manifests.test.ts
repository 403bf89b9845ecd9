import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sha256Digest } from '../digest.ts';
import { MEDIA_TYPES } from '../media-types.ts';
import { errorCode, imageManifest, pushBlob, pushImage, startTestRegistry, type TestRegistry } from './test-fixture.ts';

let reg: TestRegistry;
before(async () => {
  reg = await startTestRegistry();
});
after(async () => {
  await reg.close();
});

const put = (repo: string, ref: string, body: Buffer, type: string = MEDIA_TYPES.ociManifest) =>
  fetch(`${reg.base}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body, headers: { 'Content-Type': type } });

test('PUT then GET and HEAD a manifest by tag and by digest', async () => {
  const { digest, manifest } = await pushImage(reg.base, 'app/web', 'v1', 'one');
  for (const ref of ['v1', digest]) {
    const get = await fetch(`${reg.base}/v2/app/web/manifests/${ref}`, { headers: { Accept: MEDIA_TYPES.ociManifest } });
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('content-type'), MEDIA_TYPES.ociManifest);
    assert.equal(get.headers.get('docker-content-digest'), digest);
    assert.deepEqual(Buffer.from(await get.arrayBuffer()), manifest);
    const head = await fetch(`${reg.base}/v2/app/web/manifests/${ref}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(manifest.length));
  }
});

test('a manifest whose blobs the repository lacks is refused with MANIFEST_BLOB_UNKNOWN', async () => {
  const config = Buffer.from('{"missing":true}');
  const res = await put('app/web', 'broken', imageManifest(config, []));
  assert.equal(res.status, 400);
  assert.equal(await errorCode(res), 'MANIFEST_BLOB_UNKNOWN');
  const get = await fetch(`${reg.base}/v2/app/web/manifests/broken`);
  assert.equal(get.status, 404);
  assert.equal(await errorCode(get), 'MANIFEST_UNKNOWN');
});

test('malformed manifests and unknown media types are MANIFEST_INVALID', async () => {
  assert.equal(await errorCode(await put('app/web', 'bad', Buffer.from('not json'))), 'MANIFEST_INVALID');
  assert.equal(await errorCode(await put('app/web', 'bad', Buffer.from('{"schemaVersion":2,"mediaType":"text/plain"}'), 'text/plain')), 'MANIFEST_INVALID');
  assert.equal(await errorCode(await put('app/web', 'bad', Buffer.from('{"schemaVersion":1}'))), 'MANIFEST_INVALID');
  const noLayers = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: { digest: 'sha256:x', size: 1 } }));
  assert.equal(await errorCode(await put('app/web', 'bad', noLayers)), 'MANIFEST_INVALID');
});

test('PUT by digest must match the body, else DIGEST_INVALID', async () => {
  const config = Buffer.from('{"c":1}');
  await pushBlob(reg.base, 'app/web', config);
  const body = imageManifest(config, []);
  const wrong = await put('app/web', sha256Digest('other'), body);
  assert.equal(await errorCode(wrong), 'DIGEST_INVALID');
  const right = await put('app/web', sha256Digest(body), body);
  assert.equal(right.status, 201);
});

test('an index and a Docker manifest list need their manifests; Docker schema 2 is stored with its type', async () => {
  const config = Buffer.from('{"docker":true}');
  const layer = Buffer.from('docker layer');
  await pushBlob(reg.base, 'multi', config);
  await pushBlob(reg.base, 'multi', layer);
  const docker = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.dockerManifest,
      config: { mediaType: MEDIA_TYPES.dockerConfig, digest: sha256Digest(config), size: config.length },
      layers: [{ mediaType: MEDIA_TYPES.dockerLayerGzip, digest: sha256Digest(layer), size: layer.length }],
    }),
  );
  const list = (child: Buffer, mediaType: string) =>
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: [{ mediaType: MEDIA_TYPES.dockerManifest, digest: sha256Digest(child), size: child.length }] }));
  const early = await put('multi', 'all', list(docker, MEDIA_TYPES.dockerManifestList), MEDIA_TYPES.dockerManifestList);
  assert.equal(await errorCode(early), 'MANIFEST_BLOB_UNKNOWN');
  assert.equal((await put('multi', 'amd64', docker, MEDIA_TYPES.dockerManifest)).status, 201);
  assert.equal((await put('multi', 'all', list(docker, MEDIA_TYPES.dockerManifestList), MEDIA_TYPES.dockerManifestList)).status, 201);
  assert.equal((await put('multi', 'oci-all', list(docker, MEDIA_TYPES.ociIndex), MEDIA_TYPES.ociIndex)).status, 201);
  const get = await fetch(`${reg.base}/v2/multi/manifests/amd64`);
  assert.equal(get.headers.get('content-type'), MEDIA_TYPES.dockerManifest);
  const getList = await fetch(`${reg.base}/v2/multi/manifests/all`);
  assert.equal(getList.headers.get('content-type'), MEDIA_TYPES.dockerManifestList);
});

test('a manifest with a subject answers with the OCI-Subject header', async () => {
  const { digest } = await pushImage(reg.base, 'signed', 'v1', 'subject');
  const config = Buffer.from('{}');
  await pushBlob(reg.base, 'signed', config);
  const body = imageManifest(config, [], { subject: { mediaType: MEDIA_TYPES.ociManifest, digest, size: 10 } });
  const res = await put('signed', sha256Digest(body), body);
  assert.equal(res.status, 201);
  assert.equal(res.headers.get('oci-subject'), digest);
});

test('DELETE by tag removes the tag only; DELETE by digest removes the manifest and its tags', async () => {
  const { digest } = await pushImage(reg.base, 'deleting', 'a', 'del');
  await put('deleting', 'b', (await pushImage(reg.base, 'deleting', 'b', 'del')).manifest);
  assert.equal((await fetch(`${reg.base}/v2/deleting/manifests/a`, { method: 'DELETE' })).status, 202);
  assert.equal((await fetch(`${reg.base}/v2/deleting/manifests/a`)).status, 404);
  assert.equal((await fetch(`${reg.base}/v2/deleting/manifests/${digest}`)).status, 200);
  assert.equal((await fetch(`${reg.base}/v2/deleting/manifests/${digest}`, { method: 'DELETE' })).status, 202);
  const gone = await fetch(`${reg.base}/v2/deleting/manifests/b`);
  assert.equal(await errorCode(gone), 'MANIFEST_UNKNOWN');
  const again = await fetch(`${reg.base}/v2/deleting/manifests/${digest}`, { method: 'DELETE' });
  assert.equal(await errorCode(again), 'MANIFEST_UNKNOWN');
});

test('an invalid tag is NAME_INVALID', async () => {
  const res = await fetch(`${reg.base}/v2/app/web/manifests/.bad`);
  assert.equal(await errorCode(res), 'NAME_INVALID');
});
