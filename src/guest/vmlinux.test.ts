import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { extractPvhVmlinux, findLz4Payload } from './vmlinux.ts';

/** A bzImage-shaped file: setup sectors, a header naming the payload, the payload, its 4-byte size, then trailing code. */
function fakeBzImage(elf: Buffer): Buffer {
  const lz4 = execFileSync('lz4', ['-l', '-c'], { input: elf });
  const setupSects = 3;
  const pmStart = (setupSects + 1) * 512;
  const payloadOffset = 100;
  const size = Buffer.alloc(4);
  size.writeUInt32LE(elf.length);
  const image = Buffer.concat([Buffer.alloc(pmStart + payloadOffset), lz4, size, Buffer.from('trailing code after the payload')]);
  image[0x1f1] = setupSects;
  image.writeUInt32LE(0x53726448, 0x202);
  image.writeUInt32LE(payloadOffset, 0x248);
  image.writeUInt32LE(lz4.length + 4, 0x24c);
  return image;
}

test('the LZ4 payload named by the bzImage header decompresses to the ELF', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-vmlinux-'));
  try {
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(50_000, 7)]);
    await writeFile(join(dir, 'vmlinuz'), fakeBzImage(elf));
    await extractPvhVmlinux(join(dir, 'vmlinuz'), join(dir, 'vmlinux'));
    assert.deepEqual(await readFile(join(dir, 'vmlinux')), elf);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an image without the LZ4 magic is refused', () => {
  assert.throws(() => findLz4Payload(Buffer.alloc(4096)), (err: unknown) => isAloftError(err, 'GUEST_BUILD_FAILED') && /magic 02 21 4c 18/.test(err.message));
});

test('a payload that is not an ELF is refused and leaves no file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-vmlinux-'));
  try {
    await writeFile(join(dir, 'vmlinuz'), fakeBzImage(Buffer.from('not an elf at all')));
    await assert.rejects(extractPvhVmlinux(join(dir, 'vmlinuz'), join(dir, 'vmlinux')), /must decompress to an ELF/);
    await assert.rejects(readFile(join(dir, 'vmlinux')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
