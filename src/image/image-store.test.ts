import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isAloftError } from '../lib/errors.ts';
import { writeOciLayout, type OciLayoutSpec } from './build-image.ts';
import { digestHex, sha256Digest } from './digest.ts';
import { ImageStore } from './image-store.ts';
import { MEDIA_TYPES } from './media-types.ts';
import { hostPlatform } from './platform.ts';
import { makeTar } from './tar-fixture.ts';
import { addToLayout } from './write-layout.ts';

let base: string;
let layout: string;
let digest: string;

const spec: OciLayoutSpec = {
  files: [
    { path: '/app/run.sh', content: '#!/bin/sh\necho hi\n', mode: 0o755 },
    { path: '/app/link', type: 'symlink', linkTarget: 'run.sh' },
  ],
  config: { entrypoint: ['/app/run.sh'], cmd: ['--serve'], env: ['PATH=/bin', 'A=1'], workingDir: '/app', user: '1000:1000', exposedPorts: [8080, 9090] },
};

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-store-'));
  layout = join(base, 'myapp');
  digest = (await writeOciLayout(layout, spec)).digest;
  await writeOciLayout(layout, { ...spec, tag: 'v2', files: [{ path: '/v2', content: 'two' }] });
});
after(() => rm(base, { recursive: true, force: true }));

function store(): ImageStore {
  return new ImageStore(join(base, `store-${Math.random().toString(36).slice(2)}`));
}

/** A copy of the test layout to damage. */
async function copyLayout(name: string): Promise<string> {
  const dir = join(base, name);
  await cp(layout, dir, { recursive: true });
  return dir;
}

describe('ImageStore.resolve', () => {
  test('an OCI layout: config, layers, local registry, basename as repository, tag latest', async () => {
    const images = store();
    const image = await images.resolve(layout);
    assert.equal(image.ref, layout);
    assert.equal(image.digest, digest);
    assert.deepEqual([image.registry, image.repository, image.tag], ['local', 'myapp', 'latest']);
    assert.deepEqual(image.config, { entrypoint: ['/app/run.sh'], cmd: ['--serve'], env: ['PATH=/bin', 'A=1'], workingDir: '/app', user: '1000:1000', exposedPorts: [8080, 9090] });
    assert.equal(image.layers.length, 1);
    for (const d of [digest, ...image.layers]) assert.ok(await images.blobs.has(d), `blob ${d} stored`);
    assert.equal(await images.lookup(layout), digest);
    assert.deepEqual((await images.get(digest)).config, image.config);
  });

  test('tags and digests select images; an unknown tag is IMAGE_NOT_FOUND listing the tags', async () => {
    const images = store();
    const v2 = await images.resolve(`${layout}:v2`);
    assert.equal(v2.tag, 'v2');
    assert.notEqual(v2.digest, digest);
    assert.equal((await images.resolve(`${layout}:latest`)).digest, digest);
    const pinned = await images.resolve(`${layout}@${v2.digest}`);
    assert.deepEqual([pinned.digest, pinned.tag], [v2.digest, 'v2']);
    await assert.rejects(images.resolve(`${layout}:nope`), (err) => isAloftError(err, 'IMAGE_NOT_FOUND') && /tag 'nope'.*'latest', 'v2'/.test(err.message));
    await assert.rejects(images.resolve(`${layout}@sha256:${'0'.repeat(64)}`), (err) => isAloftError(err, 'IMAGE_NOT_FOUND'));
  });

  test('importing the same image twice copies nothing new', async () => {
    const images = store();
    const image = await images.resolve(layout);
    const inodes = async () => Promise.all([image.digest, ...image.layers].map(async (d) => (await stat(images.blobs.path(d))).ino));
    const first = await inodes();
    await images.resolve(`${layout}:latest`);
    assert.deepEqual(await inodes(), first);
  });

  test('a missing path is IMAGE_NOT_FOUND naming it; a plain directory is IMAGE_INVALID', async () => {
    const missing = join(base, 'no-such-image');
    await assert.rejects(store().resolve(`${missing}:v1`), (err) => isAloftError(err, 'IMAGE_NOT_FOUND') && err.message.includes(missing));
    const plain = join(base, 'plain');
    await mkdir(plain, { recursive: true });
    await assert.rejects(store().resolve(plain), (err) => isAloftError(err, 'IMAGE_INVALID') && err.message.includes("no 'oci-layout'"));
  });

  test('bad JSON in index.json is IMAGE_INVALID naming the file', async () => {
    const dir = await copyLayout('bad-json');
    await writeFile(join(dir, 'index.json'), '{"schemaVersion": 2, "manifests": [');
    await assert.rejects(store().resolve(dir), (err) => isAloftError(err, 'IMAGE_INVALID') && err.message.includes('index.json') && err.message.includes('valid JSON'));
  });

  test('a tampered layer is IMAGE_INVALID naming its digest, and no blob of it is kept', async () => {
    const dir = await copyLayout('tampered');
    const images = store();
    const layerDigest = (await images.resolve(layout)).layers[0] as string;
    const fresh = store();
    const blob = join(dir, 'blobs', 'sha256', digestHex(layerDigest));
    const bytes = await readFile(blob);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    await writeFile(blob, bytes);
    await assert.rejects(fresh.resolve(dir), (err) => isAloftError(err, 'IMAGE_INVALID') && err.message.includes(`digest must be ${layerDigest}`));
    assert.equal(await fresh.blobs.has(layerDigest), false);
    assert.deepEqual((await readdir(join(fresh.dir, 'tmp'))).filter((n) => n.startsWith('blob-')), [], 'no partial blob left');
  });

  test('an image index picks this host\'s platform', async () => {
    const dir = join(base, 'multi');
    const other = await writeOciLayout(join(base, 'multi-src'), { ...spec, platform: { os: 'linux', architecture: 'fakearch' } });
    const mine = await writeOciLayout(join(base, 'multi-src'), { ...spec, tag: 'mine' });
    // One layout holding the blobs of both, and an index blob listing both platforms.
    await cp(join(base, 'multi-src'), dir, { recursive: true });
    const descriptor = async (d: string, architecture: string) => ({
      mediaType: MEDIA_TYPES.ociManifest,
      digest: d,
      size: (await stat(join(dir, 'blobs', 'sha256', digestHex(d)))).size,
      platform: { os: 'linux', architecture },
    });
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [await descriptor(other.digest, 'fakearch'), await descriptor(mine.digest, hostPlatform().architecture)] }));
    await writeFile(join(dir, 'blobs', 'sha256', digestHex(sha256Digest(index))), index);
    const top = { mediaType: MEDIA_TYPES.ociIndex, digest: sha256Digest(index), size: index.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } };
    await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [top] }));
    const image = await store().resolve(dir);
    assert.equal(image.digest, mine.digest);
    assert.equal(image.tag, 'multi');
  });
});

describe('ImageStore.unpack', () => {
  test('unpacks once into unpacked/<hex>; concurrent calls share the work', async () => {
    const images = store();
    const image = await images.resolve(layout);
    const [a, b] = await Promise.all([images.unpack(image.digest), images.unpack(image.digest)]);
    assert.equal(a, b);
    assert.equal(a, join(images.dir, 'unpacked', digestHex(image.digest)));
    assert.equal(await readFile(join(a, 'app/run.sh'), 'utf8'), '#!/bin/sh\necho hi\n');
    const ino = (await stat(a)).ino;
    assert.equal(await images.unpack(image.digest), a);
    assert.equal((await stat(a)).ino, ino, 'not unpacked again');
    assert.deepEqual((await readdir(join(images.dir, 'tmp'))).filter((n) => n.startsWith('unpack-')), []);
  });

  test('a hostile layer fails the unpack and leaves no image dir behind', async () => {
    const dir = join(base, 'hostile');
    const tar = await makeTar([{ name: '../escape', content: 'x' }]);
    const layer = gzipSync(tar);
    const config = Buffer.from(JSON.stringify({ architecture: hostPlatform().architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] } }));
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: { mediaType: MEDIA_TYPES.ociConfig, digest: sha256Digest(config), size: config.length }, layers: [{ mediaType: MEDIA_TYPES.ociLayerGzip, digest: sha256Digest(layer), size: layer.length }] }));
    await addToLayout(dir, { manifest, blobs: [config, layer], tag: 'latest', platform: hostPlatform() });
    const images = store();
    const image = await images.resolve(dir);
    await assert.rejects(images.unpack(image.digest), (err) => isAloftError(err, 'IMAGE_UNSAFE') && err.message.includes(sha256Digest(layer)));
    assert.equal(await stat(join(images.dir, 'unpacked', digestHex(image.digest))).catch(() => undefined), undefined);
    assert.deepEqual((await readdir(join(images.dir, 'tmp'))).filter((n) => n.startsWith('unpack-')), []);
  });

  test('an image for another platform is refused: by its index entry, or by its config', async () => {
    const dir = join(base, 'foreign');
    await writeOciLayout(dir, { ...spec, platform: { os: 'linux', architecture: 'fakearch' } });
    await assert.rejects(store().resolve(dir), (err) => isAloftError(err, 'IMAGE_NOT_FOUND') && err.message.includes('linux/fakearch'));
    // Without a platform in index.json, the config tells.
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: { platform?: unknown }[] };
    for (const m of index.manifests) delete m.platform;
    await writeFile(join(dir, 'index.json'), JSON.stringify(index));
    await assert.rejects(store().resolve(dir), (err) => isAloftError(err, 'IMAGE_INVALID') && err.message.includes(`platform must be ${hostPlatform().os}/${hostPlatform().architecture}: got linux/fakearch`));
  });
});
