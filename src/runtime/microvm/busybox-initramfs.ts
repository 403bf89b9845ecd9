import { readFile } from 'node:fs/promises';
import { writeCpio } from '../../guest/cpio.ts';

/**
 * A one-file initramfs for small probe and test guests: a static busybox, /dev/console
 * and `init` (a busybox sh script). The accelerator probe (accel.ts) and the VMM tests'
 * counter guest (test-guest.ts) boot it; Machines boot the real initramfs
 * (src/guest/initramfs.ts).
 */
export async function busyboxInitramfs(init: string, busybox = '/bin/busybox'): Promise<Buffer> {
  return writeCpio([
    { type: 'dir', path: 'bin' },
    { type: 'dir', path: 'dev' },
    { type: 'dir', path: 'proc' },
    { type: 'chardev', path: 'dev/console', major: 5, minor: 1, mode: 0o600 },
    { type: 'file', path: 'bin/busybox', data: await readFile(busybox), mode: 0o755 },
    { type: 'file', path: 'init', data: Buffer.from(init), mode: 0o755 },
  ]);
}
