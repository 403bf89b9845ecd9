import { readFile } from 'node:fs/promises';
import type { CommandRunner } from '../lib/command.ts';

/** Where cgroup v1's memory controller is mounted (HOST.md: hybrid mode). */
const MEMORY_CGROUP_ROOT = '/sys/fs/cgroup/memory';

/**
 * Whether the kernel's OOM killer acted in this run's memory cgroup.
 *
 * runc (`run --keep`) leaves the cgroup until `delete`, so its `memory.oom_control`
 * still holds the `oom_kill` count. runsc removes the sandbox's cgroup as soon as the
 * sandbox dies (an OOM kills the whole sandbox, HOST.md), so the only trace left is the
 * kernel's own log line, which names the cgroup: `oom-kill:…,oom_memcg=<path>,…`. The
 * path is unique per run (oci-driver.ts), so a match cannot be another run's. A host
 * whose kernel log has since wrapped answers false: not proven, so not claimed.
 */
export async function wasOomKilled(cgroupsPath: string, run: CommandRunner): Promise<boolean> {
  const control = await readFile(`${MEMORY_CGROUP_ROOT}${cgroupsPath}/memory.oom_control`, 'utf8').catch(() => null);
  if (control !== null) return oomKillCount(control) > 0;
  const log = await run('dmesg', [], { timeoutMs: 10_000, errorCode: 'RUNTIME_FAILED' }).catch(() => null);
  if (log === null || log.code !== 0) return false;
  return kernelLogShowsOomKill(log.stdout, cgroupsPath);
}

/** The `oom_kill` count of a cgroup v1 `memory.oom_control` file (0 when absent). */
export function oomKillCount(oomControl: string): number {
  const match = /^oom_kill (\d+)$/m.exec(oomControl);
  return match ? Number(match[1]) : 0;
}

/** True when the kernel log has an OOM kill whose memory cgroup is exactly `cgroupsPath`. */
export function kernelLogShowsOomKill(kernelLog: string, cgroupsPath: string): boolean {
  const needle = `oom_memcg=${cgroupsPath},`;
  return kernelLog.split('\n').some((line) => line.includes('oom-kill:') && line.includes(needle));
}
