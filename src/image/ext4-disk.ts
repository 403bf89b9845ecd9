import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { execCommand, mustRun, type CommandRunner } from '../lib/command.ts';
import { AloftError } from '../lib/errors.ts';

/** Options of prepareExt4Disk. */
export interface Ext4DiskOptions {
  /** Grow the copy (file and filesystem) to this many MiB; never shrinks. */
  sizeMb?: number;
  /** Runs cp and resize2fs; tests wrap it. Default: execFile. */
  run?: CommandRunner;
}

const MIB = 1 << 20;
const SLOW = { timeoutMs: 10 * 60_000, errorCode: 'ROOTFS_FAILED' } as const;

/**
 * Gives a microVM Machine its own root disk: `<machineDir>/rootfs.ext4`, a copy of the
 * shared read-only `baseImage` (see ImageStore.ext4Image) made with `cp --reflink=auto
 * --sparse=always`, so it costs no data blocks on reflink file systems and only the
 * written ones elsewhere, then grown to `sizeMb` with resize2fs when asked. The copy is
 * made under a temp name and renamed. An existing disk is the Machine's own data and is
 * kept (grown when `sizeMb` asks for more), so a restarted agent re-adopts it.
 */
export async function prepareExt4Disk(baseImage: string, machineDir: string, options: Ext4DiskOptions = {}): Promise<string> {
  if (!isAbsolute(baseImage)) throw invalid('baseImage', 'an absolute path', baseImage);
  if (!isAbsolute(machineDir)) throw invalid('machineDir', 'an absolute path', machineDir);
  const { sizeMb } = options;
  if (sizeMb !== undefined && !(Number.isSafeInteger(sizeMb) && sizeMb > 0)) throw invalid('sizeMb', 'a positive integer', String(sizeMb));
  const run = options.run ?? execCommand;
  const base = await stat(baseImage).catch(() => undefined);
  if (base === undefined || !base.isFile()) throw invalid('baseImage', 'an existing image file', baseImage);
  const want = sizeMb === undefined ? 0 : sizeMb * MIB;
  await mkdir(machineDir, { recursive: true, mode: 0o700 });
  const disk = join(machineDir, 'rootfs.ext4');
  const existing = await stat(disk).catch(() => undefined);
  if (existing !== undefined) {
    if (want > existing.size) {
      // The Machine has mounted this one: resize2fs needs it checked (0–2: clean or fixed).
      const check = await run('e2fsck', ['-f', '-p', disk], SLOW);
      if (check.code > 2) throw new AloftError('ROOTFS_FAILED', `Cannot grow ext4 disk ${disk} as e2fsck must find it clean or fix it: got exit ${check.code}: ${check.stderr.trim().slice(-500)}`);
      await grow(run, disk, want);
    }
    return disk;
  }
  if (want !== 0 && want < base.size) {
    throw invalid('sizeMb', `at least the base image's ${Math.ceil(base.size / MIB)} MiB`, String(sizeMb));
  }
  const tmp = join(machineDir, `.rootfs.ext4.tmp-${randomBytes(6).toString('hex')}`);
  try {
    await mustRun(run, 'cp', ['--reflink=auto', '--sparse=always', baseImage, tmp], SLOW);
    // cp keeps the base's read-only mode; the disk is the Machine's to write, and no one else's.
    await chmod(tmp, 0o600);
    if (want > base.size) await grow(run, tmp, want);
    await rename(tmp, disk);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return disk;
}

/** Grows the image file to `bytes` (sparse) and its filesystem to fill it, offline. */
async function grow(run: CommandRunner, file: string, bytes: number): Promise<void> {
  await truncate(file, bytes);
  // -f: the file is a fresh copy or was just checked, so resize2fs's own check only costs time.
  await mustRun(run, 'resize2fs', ['-f', file], SLOW);
}

function invalid(field: string, rule: string, got: string): AloftError {
  return new AloftError('INVALID_ARGUMENT', `Cannot prepare ext4 disk as '${field}' must be ${rule}: got ${JSON.stringify(got.slice(0, 200))}`);
}
