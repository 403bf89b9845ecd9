import { execFile } from 'node:child_process';
import { lstat, mkdir, realpath, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { AloftError } from '../lib/errors.ts';
import { isMountPoint } from './mounts.ts';

const run = promisify(execFile);

/**
 * Gives a Machine its own writable root: an overlayfs at `<machineDir>/rootfs` whose
 * lower layer is the shared, unpacked image (never written) and whose upper and work
 * dirs are `<machineDir>/upper` and `<machineDir>/work`. Returns the absolute path with
 * no symlinks in it, as runtimes require. Idempotent: an existing mount is reused, so
 * an agent restart re-adopts it. Needs root and a kernel with overlayfs.
 */
export async function prepareRootfs(imageRootDir: string, machineDir: string): Promise<string> {
  if (!isAbsolute(imageRootDir)) throw rootfsError('prepare', 'imageRootDir', 'an absolute path', imageRootDir);
  const lower = await realpath(imageRootDir).catch(() => {
    throw new AloftError('IMAGE_NOT_FOUND', `Cannot prepare rootfs as 'imageRootDir' must be an unpacked image directory: got nothing at ${imageRootDir}`);
  });
  await mkdir(machineDir, { recursive: true, mode: 0o700 });
  const base = await realpath(machineDir);
  const [upper, work, root] = ['upper', 'work', 'rootfs'].map((name) => join(base, name)) as [string, string, string];
  for (const dir of [upper, work, root]) {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    // A symlink planted here would redirect the mount; accept only real directories.
    if ((await lstat(dir)).isSymbolicLink()) throw rootfsError('prepare', dir, 'a directory, not a symlink', dir);
  }
  if (await isMountPoint(root)) return root;
  for (const path of [lower, upper, work]) {
    // overlayfs splits its options on "," and lowerdir on ":"; such paths cannot be passed.
    if (/[,:\\\s]/.test(path)) throw rootfsError('prepare', 'path', 'free of commas, colons, backslashes and spaces', path);
  }
  try {
    await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, root]);
  } catch (err) {
    throw new AloftError('ROOTFS_FAILED', `Cannot prepare rootfs at ${root} as the overlay mount must succeed: got ${stderrOf(err)}`, { cause: err });
  }
  return root;
}

/**
 * Unmounts a Machine's root (anything mounted below it too; lazily when busy) and
 * removes its rootfs, upper and work dirs. Leaves the rest of `machineDir` alone.
 * Idempotent.
 */
export async function releaseRootfs(machineDir: string): Promise<void> {
  const base = await realpath(machineDir).catch(() => undefined);
  if (base === undefined) return;
  const root = join(base, 'rootfs');
  if (await isMountPoint(root)) {
    try {
      await run('umount', ['-R', root]);
    } catch {
      // Busy (a process still has a file open): detach now, the kernel frees it later.
      await run('umount', ['-R', '-l', root]).catch((err: unknown) => {
        throw new AloftError('ROOTFS_FAILED', `Cannot release rootfs at ${root} as unmounting must succeed: got ${stderrOf(err)}`, { cause: err });
      });
    }
  }
  // Never delete through a live mount: that would write whiteouts, or worse.
  if (await isMountPoint(root)) throw rootfsError('release', root, 'unmounted before removal', 'still mounted');
  for (const name of ['rootfs', 'upper', 'work']) await rm(join(base, name), { recursive: true, force: true });
}

function rootfsError(action: string, field: string, rule: string, value: string): AloftError {
  return new AloftError('ROOTFS_FAILED', `Cannot ${action} rootfs as '${field}' must be ${rule}: got ${JSON.stringify(value)}`);
}

function stderrOf(err: unknown): string {
  const stderr = (err as { stderr?: unknown }).stderr;
  return typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : (err as Error).message;
}
