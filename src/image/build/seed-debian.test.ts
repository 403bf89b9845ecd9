// The Debian seed: debootstrap minbase from apt's mirror, pushed to the registry, then
// a Dockerfile build FROM it. It needs root and the network to the Debian mirror and
// takes about a minute, so it runs only with ALOFT_TEST_DEBOOTSTRAP=1.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ImageStore } from '../image-store.ts';
import { startAuthRegistry, SKIP_WITHOUT_BUILDAH } from './buildah-fixture.ts';
import { buildDockerfile, removeBuildahStorage } from './buildah.ts';
import { seedImages } from './seed.ts';
import { mountsUnder } from './unmount-under.ts';

const SKIP =
  process.env['ALOFT_TEST_DEBOOTSTRAP'] !== '1'
    ? 'set ALOFT_TEST_DEBOOTSTRAP=1 to run (needs root, debootstrap and the Debian mirror; about a minute)'
    : SKIP_WITHOUT_BUILDAH;

test('seed debian:bookworm with debootstrap, then build FROM debian with buildah', { skip: SKIP, timeout: 15 * 60_000 }, async () => {
  const reg = await startAuthRegistry();
  const work = await mkdtemp(join(tmpdir(), 'aloft-seed-debian-test-'));
  try {
    const started = Date.now();
    const [debian] = await seedImages({ registry: reg.target, only: ['debian'], debian: { workDir: work } });
    assert.ok(debian);
    const host = `127.0.0.1:${reg.reg.port}`;
    assert.deepEqual(debian.references, [`${host}/library/debian:bookworm`, `${host}/library/debian:latest`]);
    process.stdout.write(`# debian seed: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    assert.deepEqual(await mountsUnder(work), [], 'debootstrap left no mounts');

    const store = new ImageStore(join(work, 'images'), { credentials: () => ({ username: 'x', password: reg.target.token }) });
    const image = await store.resolve(`${host}/library/debian:bookworm`);
    const root = await store.unpack(image.digest);
    assert.match(await readFile(join(root, 'etc', 'debian_version'), 'utf8'), /^12\./);
    assert.ok((await readFile(join(root, 'var', 'lib', 'dpkg', 'status'), 'utf8')).includes('Package: apt'), 'apt is installed');

    const ctx = join(work, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), "FROM debian:bookworm\nRUN dpkg-query -W -f '${Version}' bash > /bash-version\nCMD [\"cat\", \"/bash-version\"]\n");
    const built = await buildDockerfile(ctx, { tag: 'acme/deb:1', storageDir: join(work, 'buildah'), registry: reg.target, push: true });
    const app = await store.resolve(`${host}/acme/deb@${built.digest}`);
    assert.match(await readFile(join(await store.unpack(app.digest), 'bash-version'), 'utf8'), /^5\.2/);
    await removeBuildahStorage(join(work, 'buildah'));
  } finally {
    await rm(work, { recursive: true, force: true });
    await reg.close();
  }
});
