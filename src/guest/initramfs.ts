/**
 * The guest's initramfs: busybox-static, the virtio modules, /init (init-script.ts) and
 * aloft-init, as one gzip'd newc cpio. It is the same for every Machine on a host, so it
 * is cached by what goes in it; a Machine's own run config is a second tiny cpio appended
 * to a copy (`writeMachineInitrd`).
 */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeCpio, type CpioEntry } from './cpio.ts';
import { buildOnce } from './build-cache.ts';
import { INIT_SCRIPT } from './init-script.ts';
import type { GuestKernel } from './kernel.ts';
import { runConfigCpio, type RunConfig } from './run-config.ts';

/** Debian's busybox-static binary. */
export const GUEST_BUSYBOX = '/bin/busybox';

/** The parts of an initramfs: the kernel's modules, the init binary, busybox. */
export interface InitramfsInputs {
  kernel: Pick<GuestKernel, 'modulesDir' | 'modules' | 'version'>;
  /** Path of the built aloft-init (buildGuestInit). */
  init: string;
  busybox?: string;
}

/** The cpio entries, in order (directories first). */
export async function initramfsEntries(inputs: InitramfsInputs): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'proc', 'sys', 'newroot', 'lib', 'lib/modules', 'aloft', 'tmp', 'run'].map((path): CpioEntry => ({ type: 'dir', path })),
    // The kernel opens /dev/console for /init before anything mounts devtmpfs.
    { type: 'chardev', path: 'dev/console', major: 5, minor: 1, mode: 0o600 },
    { type: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
    { type: 'file', path: 'bin/busybox', data: await readFile(inputs.busybox ?? GUEST_BUSYBOX), mode: 0o755 },
    { type: 'symlink', path: 'bin/sh', target: 'busybox' },
    { type: 'file', path: 'init', data: Buffer.from(INIT_SCRIPT), mode: 0o755 },
    { type: 'file', path: 'aloft/init', data: await readFile(inputs.init), mode: 0o755 },
    { type: 'file', path: 'lib/modules/order', data: Buffer.from(`${inputs.kernel.modules.join('\n')}\n`) },
  ];
  for (const name of inputs.kernel.modules) {
    entries.push({ type: 'file', path: `lib/modules/${name}.ko`, data: await readFile(join(inputs.kernel.modulesDir, `${name}.ko`)) });
  }
  return entries;
}

/** Builds (or finds in the cache) the gzip'd initramfs and returns its path. */
export async function buildInitramfs(cacheDir: string, kernel: InitramfsInputs['kernel'], init: string, busybox: string = GUEST_BUSYBOX): Promise<string> {
  const entries = await initramfsEntries({ kernel, init, busybox });
  const hash = createHash('sha256');
  for (const e of entries) hash.update(JSON.stringify({ ...e, data: undefined })).update(e.type === 'file' ? e.data : Buffer.alloc(0));
  const dir = await buildOnce(join(cacheDir, `initramfs-${hash.digest('hex').slice(0, 16)}`), async (temp) => {
    await writeFile(join(temp, 'initramfs.cpio.gz'), gzipSync(writeCpio(entries), { level: 9 }));
  });
  return join(dir, 'initramfs.cpio.gz');
}

/**
 * Writes a Machine's initrd: the shared initramfs followed by a cpio with its run config
 * (the kernel unpacks both, in order). Written to a temp file then renamed.
 */
export async function writeMachineInitrd(initramfs: string, config: RunConfig, outPath: string): Promise<void> {
  const temp = `${outPath}.tmp-${process.pid}`;
  // The gzip stream ends on a byte boundary; the kernel looks for the next archive after it,
  // skipping zero padding, so a 4-byte aligned start keeps its cpio reader happy.
  const base = await readFile(initramfs);
  const pad = Buffer.alloc((4 - (base.length % 4)) % 4);
  await writeFile(temp, Buffer.concat([base, pad, runConfigCpio(config)]));
  await rename(temp, outPath);
}
