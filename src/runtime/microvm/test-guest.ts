import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { GUEST_KERNEL_APPEND } from '../../guest/kernel-cmdline.ts';
import { busyboxInitramfs } from './busybox-initramfs.ts';
import { QEMU_BINARY } from './qemu-command.ts';
import { QemuVmm } from './qemu-vmm.ts';
import { testGuestKernel } from './test-kernel.ts';
import type { VmHandle, VmSpec } from './vmm.ts';

/**
 * For tests: an initramfs whose /init (busybox sh) counts up on the console every
 * 100 ms, forever. A counter that goes on from where it was after a suspend and resume
 * proves the guest's memory survived; one that starts again at 1 means a cold boot.
 */
export async function writeCounterInitramfs(file: string, busybox = '/bin/busybox'): Promise<void> {
  const init = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
i=0
while true; do i=$((i+1)); echo "tick $i"; /bin/busybox usleep 100000; done
`;
  await writeFile(file, await busyboxInitramfs(init, busybox));
}

/** The tick numbers printed to a console log so far. */
export async function readTicks(consoleLog: string): Promise<number[]> {
  const text = await readFile(consoleLog, 'utf8').catch(() => '');
  return [...text.matchAll(/^tick (\d+)\r?$/gm)].map((m) => Number(m[1]));
}

/** Resolves once the console shows a tick above `after` (polls the file; QEMU writes it). */
export async function waitForTick(consoleLog: string, after: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ticks = await readTicks(consoleLog);
    const last = ticks.at(-1) ?? 0;
    if (last > after) return last;
    if (Date.now() > deadline) throw new Error(`no tick above ${after} within ${timeoutMs} ms (last ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A counter guest's test world: its temp dir, a spec booting it, a VMM and the handles to kill. */
export interface CounterGuest {
  /** Why its tests must skip (no QEMU, no tool, no guest kernel), or false. */
  skip: string | false;
  /** QEMU answers --version (some tests need only that). */
  hasQemu: boolean;
  dir: string;
  /** The counter guest with one raw disk `disk.img`; meaningless when `skip`. */
  spec: VmSpec;
  vmm: QemuVmm;
  /** Push every booted handle: the suite's `after` kills them and removes `dir`. */
  handles: VmHandle[];
}

/**
 * The shared setup of the VMM-level tests (qemu-vmm, snapshot): a temp dir, the counter
 * initramfs, a disk of `diskBytes` filled with `diskFill`, a TCG spec, and an `after`
 * hook that kills what was booted and removes the dir. `tools` must answer --version.
 */
export async function counterGuest(options: { prefix: string; memoryMb: number; diskBytes: number; diskFill?: number; channel?: boolean; tools?: string[] }): Promise<CounterGuest> {
  const missing = [QEMU_BINARY, ...(options.tools ?? [])].find((tool) => spawnSync(tool, ['--version']).status !== 0);
  const guest = missing !== undefined ? { kernel: null, skip: `${missing} is not installed` } : await testGuestKernel();
  const dir = mkdtempSync(join(tmpdir(), options.prefix));
  const hasQemu = missing !== QEMU_BINARY;
  const world: CounterGuest = { skip: guest.skip, hasQemu, dir, spec: undefined as unknown as VmSpec, vmm: new QemuVmm(), handles: [] };
  after(async () => {
    for (const handle of world.handles) await world.vmm.kill(handle).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  if (guest.kernel === null) return world;
  await writeCounterInitramfs(join(dir, 'counter.cpio'));
  await writeFile(join(dir, 'disk.img'), Buffer.alloc(options.diskBytes, options.diskFill ?? 0));
  world.spec = {
    kernel: guest.kernel.vmlinux,
    initrd: join(dir, 'counter.cpio'),
    cmdline: GUEST_KERNEL_APPEND,
    disks: [{ path: join(dir, 'disk.img') }],
    consoleLog: join(dir, 'console.log'),
    controlSocket: join(dir, 'qmp.sock'),
    ...(options.channel === true ? { channel: { socketPath: join(dir, 'channel.sock'), name: 'aloft0' } } : {}),
    memoryMb: options.memoryMb,
    cpus: 1,
    accel: 'tcg',
  };
  return world;
}
