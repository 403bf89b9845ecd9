import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, basename, join, posix } from 'node:path';
import { execCommand, type CommandRunner } from '../lib/command.ts';
import { AloftError } from '../lib/errors.ts';

/** A file to put into a disk image: absolute path inside it, content, root-owned. */
export interface DiskFile {
  path: string;
  content: string;
  /** Permission bits; default 0o644. */
  mode?: number;
}

/**
 * Writes small files (e.g. /etc/hosts) into an ext4 image with `debugfs -w`, without
 * mounting it: each replaces what is at its path, owned by root. The parent directory
 * must exist in the image. The image must not be in use (no VM has it open).
 */
export async function writeFilesIntoExt4(disk: string, files: readonly DiskFile[], run: CommandRunner = execCommand): Promise<void> {
  if (files.length === 0) return;
  const staging = await mkdtemp(join(tmpdir(), 'aloft-ext4-files-'));
  try {
    const commands: string[] = [];
    for (const [i, file] of files.entries()) {
      const path = posix.normalize(file.path);
      if (!path.startsWith('/') || path === '/' || /[\s"]/.test(path)) {
        throw new AloftError('INVALID_ARGUMENT', `Cannot write into the disk image as 'path' must be an absolute file path without spaces or quotes: got ${JSON.stringify(file.path)}`);
      }
      const source = join(staging, String(i));
      await writeFile(source, file.content);
      // debugfs writes into its current directory; rm first since write never replaces.
      commands.push(`cd ${dirname(path)}`, `rm ${basename(path)}`, `write ${source} ${basename(path)}`);
      commands.push(`sif ${basename(path)} mode 0${(0o100000 | (file.mode ?? 0o644)).toString(8)}`, `sif ${basename(path)} uid 0`, `sif ${basename(path)} gid 0`);
    }
    const script = join(staging, 'commands');
    await writeFile(script, `${commands.join('\n')}\n`);
    const result = await run('debugfs', ['-w', '-f', script, disk], { timeoutMs: 30_000, errorCode: 'ROOTFS_FAILED' });
    // debugfs exits 0 even when a command fails; its stderr names what failed. A missing
    // file for `rm` is expected (nothing to replace); anything else (a missing parent
    // directory above all) spoils the image, which the caller then discards.
    const failures = result.stderr
      .split('\n')
      .filter((line) => line.trim() !== '' && !/^debugfs \d/.test(line) && !/^rm: File not found/.test(line));
    if (result.code !== 0 || failures.length > 0) {
      throw new AloftError('ROOTFS_FAILED', `Cannot write ${files.map((f) => f.path).join(', ')} into ${disk}: debugfs said ${failures.join('; ') || `exit ${result.code}`}`);
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
