import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { isMountPoint } from './mounts.ts';
import { prepareRootfs, releaseRootfs } from './rootfs.ts';

// overlayfs needs root; elsewhere these tests say so instead of failing.
const skip = process.getuid?.() !== 0 ? 'needs root for mount' : false;

let base: string;
let image: string;

before(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'aloft-rootfs-')));
  image = join(base, 'image');
  await mkdir(join(image, 'etc'), { recursive: true });
  await writeFile(join(image, 'etc/motd'), 'from the image\n');
});
after(() => rm(base, { recursive: true, force: true }));

test('each machine gets its own writable overlay; the shared image stays untouched', { skip }, async () => {
  const machineA = join(base, 'machines', 'a');
  const machineB = join(base, 'machines', 'b');
  const rootA = await prepareRootfs(image, machineA);
  const rootB = await prepareRootfs(image, machineB);
  try {
    assert.equal(rootA, join(machineA, 'rootfs'));
    assert.equal(await realpath(rootA), rootA, 'absolute and free of symlinks');
    assert.ok(await isMountPoint(rootA));
    assert.equal(await readFile(join(rootA, 'etc/motd'), 'utf8'), 'from the image\n');

    await writeFile(join(rootA, 'etc/motd'), 'changed by a\n');
    await writeFile(join(rootA, 'new-file'), 'a only\n');
    await rm(join(rootB, 'etc/motd'));

    assert.equal(await readFile(join(image, 'etc/motd'), 'utf8'), 'from the image\n');
    assert.deepEqual((await readdir(image)).sort(), ['etc']);
    assert.equal(await lstat(join(rootB, 'new-file')).catch(() => undefined), undefined);
    assert.equal(await readFile(join(machineA, 'upper', 'new-file'), 'utf8'), 'a only\n');

    // Idempotent: the live mount is reused, with its changes.
    assert.equal(await prepareRootfs(image, machineA), rootA);
    assert.equal(await readFile(join(rootA, 'new-file'), 'utf8'), 'a only\n');
  } finally {
    await releaseRootfs(machineA);
    await releaseRootfs(machineB);
  }
  assert.equal(await isMountPoint(rootA), false);
  assert.deepEqual(await readdir(machineA), []);
  assert.equal(await readFile(join(image, 'etc/motd'), 'utf8'), 'from the image\n');
  await releaseRootfs(machineA);
  await releaseRootfs(join(base, 'never-prepared'));
});

test('a missing image dir is IMAGE_NOT_FOUND', { skip }, async () => {
  await assert.rejects(prepareRootfs(join(base, 'nope'), join(base, 'machines', 'c')), (err) => isAloftError(err, 'IMAGE_NOT_FOUND') && err.message.includes('nope'));
});
