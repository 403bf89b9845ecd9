import type { Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { AloftError } from '../../lib/errors.ts';
import type { LayerEntry } from './reproducible-tar.ts';

/**
 * The largest single file an app build takes (256 MiB). Anything bigger in an app
 * directory is almost always a mistake (a database, a core dump, a video) and would
 * make every Machine start slower; the Node binary itself is ~100 MiB.
 */
export const MAX_FILE_BYTES = 256 * 1024 * 1024;

/** How to walk one host directory into layer entries. */
export interface TreeOptions {
  /** Where the directory lands in the image, e.g. "/app". */
  imagePath: string;
  /** Leave out this relative path ("a/b", "/"-separated); a left-out directory is not entered unless `descendIgnored`. */
  skip?: (relative: string) => boolean;
  /** Walk into left-out directories anyway (an ignore file re-includes something below them). */
  descendIgnored?: boolean;
  /** Default MAX_FILE_BYTES. */
  maxFileBytes?: number;
}

/**
 * Lists a host directory as layer entries below `imagePath`: directories, files (read
 * when the layer is written), symlinks kept as written, and files with several names
 * marked so the layer stores them as hard links. Owners become root and modes 0755
 * (directories, executables) or 0644, so any user of the image can read them and the
 * host's umask leaves no trace. Sockets, FIFOs, devices and files over the size limit
 * are refused with the path named.
 */
export async function collectTree(hostDir: string, options: TreeOptions): Promise<LayerEntry[]> {
  const maxFileBytes = options.maxFileBytes ?? MAX_FILE_BYTES;
  const entries: LayerEntry[] = [{ path: options.imagePath, type: 'dir', mode: 0o755 }];
  const walk = async (relative: string): Promise<void> => {
    const dir = relative === '' ? hostDir : join(hostDir, relative);
    const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      throw new AloftError('BUILD_FAILED', `Cannot build image as directory '${dir}' must be readable: got ${err.code ?? err.message}`, { cause: err });
    });
    for (const name of names.sort()) {
      const rel = relative === '' ? name : `${relative}/${name}`;
      const hostPath = join(hostDir, rel);
      const skipped = options.skip?.(rel) === true;
      const stat = await lstat(hostPath);
      if (stat.isDirectory()) {
        if (!skipped) entries.push({ path: posix.join(options.imagePath, rel), type: 'dir', mode: 0o755 });
        if (!skipped || options.descendIgnored === true) await walk(rel);
        continue;
      }
      if (skipped) continue;
      entries.push(await entryFor(hostPath, posix.join(options.imagePath, rel), stat, maxFileBytes));
    }
  };
  await walk('');
  return entries;
}

async function entryFor(hostPath: string, path: string, stat: Stats, maxFileBytes: number): Promise<LayerEntry> {
  if (stat.isSymbolicLink()) return { path, type: 'symlink', mode: 0o777, linkTarget: await readlink(hostPath) };
  if (!stat.isFile()) {
    throw new AloftError('BUILD_FAILED', `Cannot build image as '${hostPath}' must be a file, directory or symlink: got a ${kindOf(stat)}`, {
      details: { path: hostPath },
    });
  }
  if (stat.size > maxFileBytes) {
    throw new AloftError('BUILD_FAILED', `Cannot build image as '${hostPath}' must be at most ${maxFileBytes} bytes: got ${stat.size} (leave it out with .aloftignore)`, {
      details: { path: hostPath, size: stat.size },
    });
  }
  return {
    path,
    type: 'file',
    mode: (stat.mode & 0o111) === 0 ? 0o644 : 0o755,
    sourcePath: hostPath,
    size: stat.size,
    ...(stat.nlink > 1 ? { inode: `${stat.dev}:${stat.ino}` } : {}),
  };
}

function kindOf(stat: Stats): string {
  if (stat.isSocket()) return 'socket';
  if (stat.isFIFO()) return 'FIFO';
  if (stat.isCharacterDevice()) return 'character device';
  if (stat.isBlockDevice()) return 'block device';
  return 'special file';
}
