import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { indexModules, moduleDepends, resolveModuleOrder } from './modules.ts';

function ko(depends: string): Buffer {
  // What matters of a .ko: the .modinfo strings, NUL-separated, somewhere in the file.
  return Buffer.from(`\x7fELF junk\0license=GPL\0depends=${depends}\0vermagic=6.1\0`, 'latin1');
}

test('modules come after their dependencies, each once, found by .modinfo', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-mods-'));
  try {
    await mkdir(join(dir, 'kernel/drivers'), { recursive: true });
    await writeFile(join(dir, 'kernel/drivers/virtio_ring.ko'), ko(''));
    await writeFile(join(dir, 'kernel/drivers/virtio.ko'), ko('virtio_ring'));
    await writeFile(join(dir, 'kernel/drivers/net_failover.ko'), ko('failover'));
    await writeFile(join(dir, 'kernel/drivers/failover.ko'), ko(''));
    await writeFile(join(dir, 'kernel/drivers/virtio_net.ko'), ko('virtio_ring,virtio,net_failover'));
    const order = await resolveModuleOrder(await indexModules(dir), ['virtio_net', 'virtio']);
    assert.deepEqual(order.map((m) => m.name), ['virtio_ring', 'virtio', 'failover', 'net_failover', 'virtio_net']);
    await assert.rejects(resolveModuleOrder(await indexModules(dir), ['virtio_blk']), (err: unknown) => isAloftError(err, 'GUEST_BUILD_FAILED') && /'virtio_blk' must be a module/.test(err.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a module with no depends= entry depends on nothing', () => {
  assert.deepEqual(moduleDepends(Buffer.from('\0license=GPL\0')), []);
  assert.deepEqual(moduleDepends(ko('a-b,c')), ['a_b', 'c']);
});
