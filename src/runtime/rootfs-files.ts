import { constants } from 'node:fs';
import { lstat, mkdir, open, readlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AloftError, invalidField } from '../lib/errors.ts';

/** Symlinks followed while resolving one path before giving up (Linux's own limit). */
const MAX_LINKS = 40;

/**
 * Resolves `path` inside `root` as if `root` were `/`: symlinks are followed, but an
 * absolute target or a `..` can never climb above the root (as chroot would see it).
 * Components that do not exist yet resolve to themselves. Returns a host path.
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  const pending = path.split('/').filter((part) => part !== '' && part !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = join(root, ...resolved, part);
    const stat = await lstat(candidate).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (stat?.isSymbolicLink() === true) {
      if (++links > MAX_LINKS) {
        throw new AloftError('RUNTIME_FAILED', `Cannot resolve '${path}' in the root as it has more than ${MAX_LINKS} symlinks`);
      }
      const target = await readlink(candidate);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    resolved.push(part);
  }
  return join(root, ...resolved);
}

/**
 * Writes files into a Machine's root filesystem (e.g. /etc/hosts, /etc/resolv.conf),
 * creating parent directories. The image controls the root, so every path is resolved
 * within it (a symlink /etc -> /host/etc lands in <root>/host/etc) and the final open
 * refuses to follow a symlink swapped in after resolving.
 */
export async function placeFiles(root: string, files: readonly { path: string; content: string }[]): Promise<void> {
  for (const file of files) {
    if (!file.path.startsWith('/')) {
      throw invalidField('place file in machine root', 'path', 'an absolute path', file.path);
    }
    const target = await resolveInRoot(root, file.path);
    if (target === root) throw invalidField('place file in machine root', 'path', 'a file, not the root', file.path);
    // Every existing component of `target` is a real directory now, so mkdir stays inside.
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
    const handle = await open(target, flags, 0o644);
    try {
      await handle.writeFile(file.content);
    } finally {
      await handle.close();
    }
  }
}
