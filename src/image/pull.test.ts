import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { writeOciLayout, type OciLayoutSpec } from './build-image.ts';
import { sha256Digest } from './digest.ts';
import { ImageStore, type ImageStoreOptions } from './image-store.ts';
import { MEDIA_TYPES } from './media-types.ts';
import { imageIndexSchema, parseJson } from './oci-schemas.ts';
import { hostPlatform } from './platform.ts';
import type { Authorize } from './registry/context.ts';
import { pushImage, pushLayout, startTestRegistry, type TestRegistry } from './registry/test-fixture.ts';

const spec: OciLayoutSpec = {
  files: [
    { path: '/app/run.sh', content: '#!/bin/sh\necho hi\n', mode: 0o755 },
    { path: '/app/data.txt', content: 'pulled' },
  ],
  config: { entrypoint: ['/app/run.sh'], cmd: [], env: ['A=1'], workingDir: '/app', user: '', exposedPorts: [8080] },
};

let base: string;
let layout: string;
let digest: string;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-pull-'));
  layout = join(base, 'layout');
  digest = (await writeOciLayout(layout, spec)).digest;
});
after(() => rm(base, { recursive: true, force: true }));

function store(options: ImageStoreOptions = {}): ImageStore {
  return new ImageStore(join(base, `store-${Math.random().toString(36).slice(2)}`), options);
}

/** Pushes the test layout's image to `repo:tag`; returns its digest. */
async function pushTestImage(reg: TestRegistry, repo: string, tag: string, headers: Record<string, string> = {}): Promise<string> {
  await pushLayout(reg.base, repo, tag, layout, digest, headers);
  return digest;
}

/** A registry that records every request's method and URL. */
async function countingRegistry(authorize: Authorize = () => true): Promise<TestRegistry & { requests: string[] }> {
  const requests: string[] = [];
  const reg = await startTestRegistry((req, repo, action) => {
    requests.push(`${req.method} ${req.url}`);
    return authorize(req, repo, action);
  });
  return Object.assign(reg, { requests });
}

function blobGets(requests: string[]): string[] {
  return requests.filter((r) => r.startsWith('GET ') && r.includes('/blobs/sha256:'));
}

async function listFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

describe('ImageStore.resolve from a registry', () => {
  let reg: TestRegistry & { requests: string[] };
  let ref: string;
  before(async () => {
    reg = await countingRegistry();
    await pushTestImage(reg, 'test/img', 'latest');
    ref = `127.0.0.1:${reg.port}/test/img:latest`;
  });
  after(() => reg.close());

  test('pulls by tag: the same digest, config and files as the local layout', async () => {
    const images = store();
    const image = await images.resolve(ref);
    assert.deepEqual([image.ref, image.digest, image.registry, image.repository, image.tag], [ref, digest, `127.0.0.1:${reg.port}`, 'test/img', 'latest']);
    const localStore = store();
    const local = await localStore.resolve(layout);
    assert.deepEqual(image.config, local.config);
    assert.deepEqual(image.layers, local.layers);
    assert.equal(await images.lookup(ref), digest);
    const root = await images.unpack(image.digest);
    const localRoot = await localStore.unpack(local.digest);
    assert.deepEqual(await listFiles(root), await listFiles(localRoot));
    assert.equal(await readFile(join(root, 'app/data.txt'), 'utf8'), 'pulled');
  });

  test('pulls by digest, with no tag', async () => {
    const image = await store().resolve(`127.0.0.1:${reg.port}/test/img@${digest}`);
    assert.deepEqual([image.digest, image.tag], [digest, '']);
  });

  test('a digest the manifest does not hash to is IMAGE_INVALID', async () => {
    const wrong = sha256Digest('something else');
    // A registry that answers any digest with the tagged manifest: the bytes must not be trusted.
    const lying: typeof fetch = (input, init) => fetch(String(input).replace(`/manifests/${wrong}`, '/manifests/latest'), init);
    await assert.rejects(store({ fetch: lying }).resolve(`127.0.0.1:${reg.port}/test/img@${wrong}`), (err) => isAloftError(err, 'IMAGE_INVALID') && err.message.includes(wrong));
  });

  test('a layer whose bytes do not match is IMAGE_INVALID and never stored', async () => {
    const layer = (await store().resolve(layout)).layers[0] ?? '';
    const tampered: typeof fetch = async (input, init) => (String(input).endsWith(`/blobs/${layer}`) ? new Response('not the layer') : fetch(input, init));
    const images = store({ fetch: tampered });
    await assert.rejects(images.resolve(ref), (err) => isAloftError(err, 'IMAGE_INVALID') && err.message.includes(layer));
    assert.equal(await images.blobs.has(layer), false);
    assert.deepEqual(await readdir(join(images.dir, 'tmp')), [], 'no partial blob left');
  });

  test('an unknown tag or digest is IMAGE_NOT_FOUND naming the ref', async () => {
    const missing = `127.0.0.1:${reg.port}/test/img:nope`;
    await assert.rejects(store().resolve(missing), (err) => isAloftError(err, 'IMAGE_NOT_FOUND') && err.message.includes(missing));
    await assert.rejects(store().resolve(`127.0.0.1:${reg.port}/test/other`), (err) => isAloftError(err, 'IMAGE_NOT_FOUND'));
    await assert.rejects(store().resolve(`127.0.0.1:${reg.port}/test/img@${sha256Digest('x')}`), (err) => isAloftError(err, 'IMAGE_NOT_FOUND'));
  });

  test('an index picks the manifest for linux/amd64 (the host platform)', async () => {
    const other = await pushImage(reg.base, 'test/multi', 'other', 'other platform');
    const amd64 = await pushTestImage(reg, 'test/multi', 'amd64');
    const entry = (d: string, size: number, architecture: string) => ({ mediaType: MEDIA_TYPES.ociManifest, digest: d, size, platform: { os: 'linux', architecture } });
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociIndex,
        manifests: [entry(other.digest, other.manifest.length, 's390x'), entry(amd64, (await readFile(join(layout, 'blobs', 'sha256', amd64.slice(7)))).length, hostPlatform().architecture)],
      }),
    );
    parseJson(index, imageIndexSchema, 'test index');
    const put = await fetch(`${reg.base}/v2/test/multi/manifests/multi`, { method: 'PUT', body: index, headers: { 'Content-Type': MEDIA_TYPES.ociIndex } });
    assert.equal(put.status, 201, await put.text());
    const image = await store().resolve(`127.0.0.1:${reg.port}/test/multi:multi`);
    assert.equal(image.digest, amd64);
    // Pinning the index by digest descends it the same way.
    assert.equal((await store().resolve(`127.0.0.1:${reg.port}/test/multi@${sha256Digest(index)}`)).digest, amd64);
  });

  test('concurrent resolves fetch each blob once; a second resolve fetches none', async () => {
    const images = store();
    reg.requests.length = 0;
    const [a, b] = await Promise.all([images.resolve(ref), images.resolve(ref)]);
    assert.equal(a.digest, b.digest);
    const gets = blobGets(reg.requests);
    assert.equal(gets.length, 1 + a.layers.length, gets.join('\n'));
    assert.equal(new Set(gets).size, gets.length, 'no blob fetched twice');
    reg.requests.length = 0;
    await images.resolve(ref);
    assert.deepEqual(blobGets(reg.requests), []);
  });
});

test('credentials go to the registry as Basic; without them the pull is refused', async () => {
  const expected = `Basic ${Buffer.from('aloft:s3cret').toString('base64')}`;
  const reg = await countingRegistry((req) => req.headers.authorization === expected);
  try {
    await pushTestImage(reg, 'private/img', 'latest', { authorization: expected });
    const host = `127.0.0.1:${reg.port}`;
    const ref = `${host}/private/img`;
    await assert.rejects(store().resolve(ref), (err) => isAloftError(err, 'IMAGE_NOT_FOUND') && /HTTP 403/.test(err.message));
    const seen: string[] = [];
    const images = store({ credentials: (h) => (seen.push(h), h === host ? { username: 'aloft', password: 's3cret' } : undefined) });
    assert.equal((await images.resolve(ref)).digest, digest);
    assert.deepEqual(seen, [host]);
  } finally {
    await reg.close();
  }
});

test('an unreachable registry is IMAGE_NOT_FOUND with the cause', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  await assert.rejects(store().resolve(`127.0.0.1:${port}/gone/img:v1`), (err) => isAloftError(err, 'IMAGE_NOT_FOUND') && /must be reachable: got .*ECONNREFUSED/.test(err.message));
});

test('local paths that look like registry refs stay local when they exist', async () => {
  const dir = join(base, 'reg.example.com');
  await writeOciLayout(join(dir, 'img'), spec);
  const image = await store().resolve(join(dir, 'img'));
  assert.equal(image.registry, 'local');
});
