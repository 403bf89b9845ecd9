// buildImage picks the builder from what the directory holds: a Dockerfile or
// Containerfile goes to buildah, else a package.json to the Node app builder, else a
// clear error naming what it looked for.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import { ImageStore } from '../image-store.ts';
import { startAuthRegistry, SKIP_WITHOUT_BUILDAH, type AuthRegistry } from './buildah-fixture.ts';
import { removeBuildahStorage } from './buildah.ts';
import { buildImage } from './build-dir.ts';
import { seedImages } from './seed.ts';

describe('buildImage picks the builder', () => {
  let reg: AuthRegistry;
  let work: string;
  let storageDir: string;

  before(async () => {
    reg = await startAuthRegistry();
    work = await mkdtemp(join(tmpdir(), 'aloft-build-dir-test-'));
    storageDir = join(work, 'buildah');
    await seedImages({ registry: reg.target, only: ['busybox'] });
  });
  after(async () => {
    await removeBuildahStorage(storageDir).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
    await reg.close();
  });

  async function dir(name: string, files: Record<string, string>): Promise<string> {
    const d = join(work, name);
    await mkdir(d, { recursive: true });
    for (const [file, content] of Object.entries(files)) await writeFile(join(d, file), content);
    return d;
  }

  test('nothing to build: the error lists what was looked for', async () => {
    const empty = await dir('empty', { 'README.md': 'hi\n' });
    await assert.rejects(buildImage(empty, { tag: 'acme/x', storageDir, layoutDir: join(work, 'x') }), (err) => {
      assert.ok(isAloftError(err, 'INVALID_ARGUMENT'));
      assert.match(err.message, /must hold one of Dockerfile, Containerfile, package\.json: got none of them/);
      return true;
    });
    await assert.rejects(buildImage(join(work, 'missing'), { tag: 'acme/x', storageDir, layoutDir: join(work, 'x') }), /'dir' must be an existing directory/);
  });

  test('a Containerfile beside a package.json is built with buildah', { skip: SKIP_WITHOUT_BUILDAH }, async () => {
    const d = await dir('both', { Containerfile: 'FROM busybox\nCMD ["echo", "container"]\n', 'package.json': '{"name":"x","main":"index.js"}\n', 'index.js': '' });
    const built = await buildImage(d, { tag: 'acme/both:1', storageDir, registry: reg.target, push: true });
    assert.equal(built.builder, 'dockerfile');
    const store = new ImageStore(join(work, 'images'), { credentials: () => ({ username: 'x', password: reg.target.token }) });
    const image = await store.resolve(`${built.reference ?? ''}`);
    assert.equal(image.digest, built.digest);
    assert.deepEqual(image.config.cmd, ['echo', 'container']);
  });

  test('a package.json alone is a Node app: built, pushed, pulled back by digest', async () => {
    const d = await dir('node', { 'package.json': '{"name":"hello","version":"1.0.0","main":"server.js"}\n', 'server.js': 'console.log("hello")\n' });
    const built = await buildImage(d, { tag: 'acme/node:v1', storageDir, registry: reg.target, push: true, sourceDateEpoch: 0 });
    assert.equal(built.builder, 'node');
    assert.equal(built.reference, `127.0.0.1:${reg.reg.port}/acme/node:v1`);
    const store = new ImageStore(join(work, 'images'), { credentials: () => ({ username: 'x', password: reg.target.token }) });
    const image = await store.resolve(`127.0.0.1:${reg.reg.port}/acme/node@${built.digest}`);
    assert.equal(image.config.workingDir, '/app');
    assert.deepEqual(image.config.cmd, ['/usr/local/bin/node', 'server.js']);
  });
});
