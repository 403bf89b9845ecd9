import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { writeOciLayout } from './build-image.ts';
import { sha256Digest } from './digest.ts';
import { ImageStore } from './image-store.ts';
import { hostPlatform } from './platform.ts';
import { makeTar } from './tar-fixture.ts';
import type { ResolvedImage } from './types.ts';
import { writeDockerArchive } from './write-docker-archive.ts';

let base: string;
let fromLayout: ResolvedImage;
let layout: string;
let images: ImageStore;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-archive-'));
  layout = join(base, 'web');
  await writeOciLayout(layout, {
    files: [{ path: '/srv/index.html', content: '<h1>hi</h1>' }],
    config: { entrypoint: ['/bin/sh'], cmd: ['-c', 'serve'], env: ['PATH=/bin'], exposedPorts: [80] },
  });
  images = new ImageStore(join(base, 'store'));
  fromLayout = await images.resolve(layout);
});
after(() => rm(base, { recursive: true, force: true }));

test('a legacy docker-archive resolves to the same config and layer content', async () => {
  const file = join(base, 'web.tar');
  await writeDockerArchive(layout, file, { repository: 'web', format: 'legacy' });
  const image = await images.resolve(file);
  assert.deepEqual(image.config, fromLayout.config);
  assert.deepEqual([image.registry, image.repository, image.tag], ['local', 'web', 'latest']);
  assert.equal(image.layers.length, 1);
  const root = await images.unpack(image.digest);
  assert.equal(await readFile(join(root, 'srv/index.html'), 'utf8'), '<h1>hi</h1>');
  // The same archive always gives the same (aloft-written) manifest digest.
  assert.equal((await images.resolve(`${file}:latest`)).digest, image.digest);
});

test('a Docker 25+ archive (OCI layout inside) resolves to the very same manifest', async () => {
  const file = join(base, 'web-oci.tar');
  await writeDockerArchive(layout, file, { repository: 'web', format: 'oci' });
  const image = await images.resolve(file);
  assert.equal(image.digest, fromLayout.digest);
  assert.deepEqual(image.config, fromLayout.config);
  assert.equal(image.tag, 'latest');
});

test('docker save links duplicate layers; a layer not matching diff_ids is IMAGE_INVALID', async () => {
  const layer = await makeTar([{ name: 'f', content: 'x' }]);
  const config = (diffId: string) => JSON.stringify({ architecture: hostPlatform().architecture, os: 'linux', config: { Cmd: ['/f'] }, rootfs: { type: 'layers', diff_ids: [diffId, diffId] } });
  const good = config(sha256Digest(layer));
  const archive = (cfg: string) =>
    makeTar([
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', RepoTags: ['dup:1'], Layers: ['a/layer.tar', 'b/layer.tar'] }]) },
      { name: 'c.json', content: cfg },
      { name: 'a/layer.tar', content: layer },
      { name: 'b/layer.tar', type: 'symlink', linkname: '../a/layer.tar' },
    ]);
  const ok = join(base, 'dup.tar');
  await writeFile(ok, await archive(good));
  const image = await images.resolve(`${ok}:1`);
  assert.deepEqual(image.config.cmd, ['/f']);
  assert.equal(image.tag, '1');
  assert.deepEqual(image.layers, [sha256Digest(layer), sha256Digest(layer)]);

  const bad = join(base, 'bad.tar');
  await writeFile(bad, await archive(config(`sha256:${'1'.repeat(64)}`)));
  await assert.rejects(images.resolve(bad), (err) => isAloftError(err, 'IMAGE_INVALID') && err.message.includes('a/layer.tar') && err.message.includes('diff_ids'));
});

test('a file that is no tarball is IMAGE_INVALID naming it', async () => {
  const file = join(base, 'junk.tar');
  await writeFile(file, Buffer.alloc(2048, 'junk'));
  await assert.rejects(images.resolve(file), (err) => isAloftError(err, 'IMAGE_INVALID') && err.message.includes(file));
});
