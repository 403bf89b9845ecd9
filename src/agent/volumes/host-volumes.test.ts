import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HostVolumes } from './host-volumes.ts';

/** Real loop mounts need root; the suite runs as root (CI), a developer may not. */
const skip = process.getuid?.() !== 0 ? 'needs root for loop mounts' : false;

/** 16 MiB per "GB": big enough for ext4 with a journal, small enough to be quick. */
const UNIT = 16 * 1024 * 1024;

describe('HostVolumes on a real disk', { skip }, () => {
  let dir: string;
  let volumes: HostVolumes;
  const ids = ['vol_aaaaaaaaaaaaaaa1', 'vol_aaaaaaaaaaaaaaa2', 'vol_aaaaaaaaaaaaaaa3'] as const;
  const [first, restored, forked] = ids;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-volumes-'));
    volumes = new HostVolumes({ dataDir: dir, bytesPerGb: UNIT });
  });
  after(async () => {
    // Unmount by name before removing the dir, so nothing is left on a loop device.
    for (const id of ids) await volumes.unmount(id).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  const fsBytes = async (id: string): Promise<number> => {
    const s = await statfs(volumes.mountPath(id));
    return s.blocks * s.bsize;
  };

  test('create makes a sparse ext4 image of size_gb; create again is a no-op', async () => {
    await volumes.create(first, 1);
    const info = await stat(volumes.imagePath(first));
    assert.equal(info.size, UNIT);
    assert.ok(info.blocks * 512 < UNIT, 'the image is sparse');
    await volumes.create(first, 1);
  });

  test('mount, write, unmount, mount again: the data persists', async () => {
    const target = await volumes.mount(first);
    assert.equal(await volumes.mount(first), target, 'mounting twice is a no-op');
    await writeFile(join(target, 'hello.txt'), 'persisted');
    await volumes.unmount(first);
    assert.equal(await volumes.isMounted(first), false);
    await volumes.mount(first);
    assert.equal(await readFile(join(target, 'hello.txt'), 'utf8'), 'persisted');
  });

  test('extend of a mounted volume grows it online where the host can, else at its next mount', async () => {
    const before1 = await fsBytes(first);
    const { online } = await volumes.extend(first, 2);
    assert.equal((await stat(volumes.imagePath(first))).size, 2 * UNIT);
    // Online resize needs CAP_SYS_RESOURCE; a container host without it grows at the next mount.
    if (online) assert.ok((await fsBytes(first)) > before1 + UNIT / 2, 'grown online');
    await volumes.unmount(first);
    await volumes.mount(first);
    assert.ok((await fsBytes(first)) > before1 + UNIT / 2, `grown by the next mount (online: ${online})`);
    assert.equal(await readFile(join(volumes.mountPath(first), 'hello.txt'), 'utf8'), 'persisted');
  });

  test('extend of a detached volume grows it offline', async () => {
    const before2 = await fsBytes(first);
    await volumes.unmount(first);
    assert.deepEqual(await volumes.extend(first, 3), { online: false });
    await volumes.mount(first);
    assert.ok((await fsBytes(first)) > before2 + UNIT / 2, 'offline growth shows after mounting');
    assert.equal(await readFile(join(volumes.mountPath(first), 'hello.txt'), 'utf8'), 'persisted');
  });

  test('remove refuses a mounted volume', async () => {
    await assert.rejects(volumes.remove(first), /must not be mounted/);
  });

  test('a snapshot of a mounted volume holds its files; a volume restored from it has them', async () => {
    await writeFile(join(volumes.mountPath(first), 'later.txt'), 'in the snapshot');
    const snap = await volumes.snapshot(first, 'vs_aaaaaaaaaaaaaaa1');
    assert.match(snap.digest, /^sha256:[0-9a-f]{64}$/);
    assert.ok(snap.size > 0 && snap.size < 3 * UNIT, `sparse snapshot: ${snap.size}`);
    await writeFile(join(volumes.mountPath(first), 'after.txt'), 'not in the snapshot');

    await volumes.createFrom(restored, volumes.snapshotPath('vs_aaaaaaaaaaaaaaa1'), 4);
    const target = await volumes.mount(restored);
    assert.equal(await readFile(join(target, 'later.txt'), 'utf8'), 'in the snapshot');
    assert.equal(await readFile(join(target, 'hello.txt'), 'utf8'), 'persisted');
    await assert.rejects(readFile(join(target, 'after.txt')));
    assert.ok((await fsBytes(restored)) > 3 * UNIT, 'restored volumes grow to their size');
    await volumes.unmount(restored);
  });

  test('a fork of a detached volume copies it; remove deletes images and snapshots', async () => {
    await volumes.unmount(first);
    await volumes.createFrom(forked, volumes.imagePath(first), 3);
    await volumes.mount(forked);
    assert.equal(await readFile(join(volumes.mountPath(forked), 'after.txt'), 'utf8'), 'not in the snapshot');
    await volumes.unmount(forked);
    for (const id of ids) await volumes.remove(id);
    await volumes.removeSnapshot('vs_aaaaaaaaaaaaaaa1');
    for (const id of ids) assert.equal(await volumes.exists(id), false);
  });
});
