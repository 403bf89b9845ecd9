import { readFile } from 'node:fs/promises';
import type { ProcessInfo } from './exec-types.ts';

/** Linux reports CPU times in clock ticks; USER_HZ is 100 on every platform we run on. */
const TICK_MS = 10;

/**
 * Reads one host process (a pid that `runc ps` gave) from /proc: its command line, its
 * pid as the Machine sees it (the last NSpid), CPU time and resident memory. Undefined
 * when it exited meanwhile.
 */
export async function readHostProcess(hostPid: number, proc = '/proc'): Promise<ProcessInfo | undefined> {
  try {
    const [cmdline, status, stat] = await Promise.all([
      readFile(`${proc}/${hostPid}/cmdline`, 'utf8'),
      readFile(`${proc}/${hostPid}/status`, 'utf8'),
      readFile(`${proc}/${hostPid}/stat`, 'utf8'),
    ]);
    const nspid = /^NSpid:\s*(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/).at(-1);
    const rssKb = /^VmRSS:\s*(\d+)\s*kB$/m.exec(status)?.[1];
    // Fields after the parenthesised name (which may itself hold spaces or parens).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    const name = /^Name:\s*(.*)$/m.exec(status)?.[1] ?? '';
    const command = cmdline.split('\0').filter((part) => part !== '').join(' ') || name;
    return {
      pid: nspid === undefined ? hostPid : Number(nspid),
      command,
      cpuTimeMs: ticks * TICK_MS,
      ...(rssKb === undefined ? {} : { rssBytes: Number(rssKb) * 1024 }),
    };
  } catch {
    return undefined;
  }
}

/**
 * Parses `runsc ps` (the table: its JSON form gives only pids in some releases):
 * `UID PID PPID C TTY STIME TIME CMD`, CMD last. Pids are the sandbox's own; CPU time
 * is a Go duration such as "10ms" or "1.5s".
 */
export function parseRunscPs(table: string): ProcessInfo[] {
  const [header, ...rows] = table.split('\n').filter((line) => line.trim() !== '');
  const columns = (header ?? '').trim().split(/\s+/);
  const pidAt = columns.indexOf('PID');
  const timeAt = columns.indexOf('TIME');
  const cmdAt = columns.indexOf('CMD');
  if (pidAt < 0 || cmdAt < 0) return [];
  return rows.flatMap((row) => {
    const cells = row.trim().split(/\s+/);
    const pid = Number(cells[pidAt]);
    if (!Number.isSafeInteger(pid)) return [];
    const cpu = timeAt < 0 ? undefined : goDurationMs(cells[timeAt] ?? '');
    return [{ pid, command: cells.slice(cmdAt).join(' '), ...(cpu === undefined ? {} : { cpuTimeMs: cpu }) }];
  });
}

function goDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ns|µs|us|ms|s|m|h)$/.exec(text);
  if (!match) return undefined;
  const factor = { ns: 1e-6, µs: 1e-3, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2]!] ?? 0;
  return Math.round(Number(match[1]) * factor);
}
