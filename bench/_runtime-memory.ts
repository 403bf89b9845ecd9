/**
 * Memory figures for bench runtime, read from /proc: the RSS and PSS of a process tree,
 * and the host's available memory and swap.
 */
import { readdir, readFile } from 'node:fs/promises';

/** pid → parent pid of every process now. */
async function parents(): Promise<Map<number, number>> {
  const map = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => null);
    if (stat === null) continue;
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    map.set(Number(name), Number(fields[1]));
  }
  return map;
}

/** `root` and every process below it. */
export async function processTree(root: number): Promise<number[]> {
  const byParent = new Map<number, number[]>();
  for (const [pid, ppid] of await parents()) byParent.set(ppid, [...(byParent.get(ppid) ?? []), pid]);
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    tree.push(pid);
    queue.push(...(byParent.get(pid) ?? []));
  }
  return tree;
}

/** A field in kB of a /proc file of `pid` (VmRSS in status, Pss in smaps_rollup); 0 when gone. */
async function kb(pid: number, file: 'status' | 'smaps_rollup', field: string): Promise<number> {
  const text = await readFile(`/proc/${pid}/${file}`, 'utf8').catch(() => '');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

/** Summed RSS and PSS (kB) of the processes, and what they are (for the log). */
export async function treeMemory(pids: number[]): Promise<{ rssKb: number; pssKb: number; names: string[] }> {
  let rssKb = 0;
  let pssKb = 0;
  const names: string[] = [];
  for (const pid of pids) {
    rssKb += await kb(pid, 'status', 'VmRSS');
    pssKb += await kb(pid, 'smaps_rollup', 'Pss');
    names.push((await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')).trim());
  }
  return { rssKb, pssKb, names };
}

/** The host's MemAvailable, swap in use, and pages swapped out so far (kB, kB, pages). */
export async function hostMemory(): Promise<{ availableKb: number; swapTotalKb: number; swapUsedKb: number; swappedOutPages: number }> {
  const meminfo = await readFile('/proc/meminfo', 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? NaN);
  const vmstat = await readFile('/proc/vmstat', 'utf8');
  const swappedOutPages = Number(/^pswpout (\d+)/m.exec(vmstat)?.[1] ?? NaN);
  return { availableKb: field('MemAvailable'), swapTotalKb: field('SwapTotal'), swapUsedKb: field('SwapTotal') - field('SwapFree'), swappedOutPages };
}

/** A pid read from a pid file, or null. */
export async function readPid(file: string): Promise<number | null> {
  const text = await readFile(file, 'utf8').catch(() => null);
  const pid = text === null ? NaN : Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}
