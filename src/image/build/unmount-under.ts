import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { AloftError } from '../../lib/errors.ts';

const run = promisify(execFile);

/** Mount points at or below `dir` in this mount namespace, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    // mountinfo escapes space, tab, newline and backslash as octal.
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))));
  return points.filter((p) => p === dir || p.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length);
}

/**
 * Unmounts everything at or below `dir` (debootstrap leaves /proc, and in containers
 * bind mounts of /dev nodes, when it fails), so that removing `dir` afterwards can
 * never reach through a mount into the host's files. Throws when a mount stays.
 */
export async function unmountUnder(dir: string): Promise<void> {
  for (const point of await mountsUnder(dir)) {
    await run('umount', ['--lazy', point]).catch(() => undefined);
  }
  const left = await mountsUnder(dir);
  if (left.length > 0) {
    throw new AloftError('BUILD_FAILED', `Cannot clean up ${dir} as its mounts must be unmounted first: got ${left.join(', ')} still mounted`);
  }
}
