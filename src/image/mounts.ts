import { readFile } from 'node:fs/promises';

/**
 * The mount points of this mount namespace, from /proc/self/mountinfo (field 5, with
 * the kernel's octal escapes for space, tab, newline and backslash undone).
 */
export async function mountPoints(): Promise<Set<string>> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const points = new Set<string>();
  for (const line of info.split('\n')) {
    const field = line.split(' ')[4];
    if (field !== undefined) points.add(field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))));
  }
  return points;
}

/** True when `path` (absolute, symlinks resolved) is a mount point. */
export async function isMountPoint(path: string): Promise<boolean> {
  return (await mountPoints()).has(path);
}
