import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExitStatus } from './driver.ts';
import { exitStatusFromCode } from './exit-status.ts';

/**
 * The monitor of one run: a small detached `sh` that runs the runtime in the foreground
 * (`runc run --keep`, `runsc run`) and, when it returns, writes the exit code to a file.
 *
 * Why not `run --detach`: a detached runc container is reparented to init and its exit
 * code is lost; `runsc wait` answers only while the sandbox lives, and a sandbox whose
 * process has exited is gone (measured: "sandbox no longer running and its exit status
 * is unavailable"). The monitor has its own session, so it outlives the agent, and the
 * file outlives both: a later driver instance reads how the Machine exited.
 */
export interface MonitorRecord {
  /** `<recordRoot>/<id>`: everything below belongs to the current run. */
  dir: string;
  /** The runtime writes the container's pid here once the process exists. */
  pidFile: string;
  /** The monitor writes the runtime's exit code here. */
  exitFile: string;
  /** The monitor's own pid. */
  monitorPidFile: string;
  /** The runtime's own log (`--log`, JSON lines): where its start errors land. */
  runtimeLogFile: string;
}

const MONITOR_NAME = 'aloft-oci-monitor';
// No user data in the script: paths and the command arrive as positional parameters.
const MONITOR_SCRIPT = 'exitfile=$1; shift; "$@"; code=$?; printf "%s\\n" "$code" > "$exitfile.tmp" && mv -f "$exitfile.tmp" "$exitfile"';

/** Where the record of machine `id` lives. */
export function monitorRecord(recordRoot: string, id: string): MonitorRecord {
  const dir = join(recordRoot, id);
  return {
    dir,
    pidFile: join(dir, 'pid'),
    exitFile: join(dir, 'exit'),
    monitorPidFile: join(dir, 'monitor.pid'),
    runtimeLogFile: join(dir, 'runtime.log'),
  };
}

/**
 * Starts the monitor for `command`, in its own session, with the Machine's log as its
 * stdout and stderr (the container inherits them, and so do the runtime's own errors).
 * Returns the monitor's pid, also written to the record.
 */
export async function spawnMonitor(record: MonitorRecord, command: readonly string[], logPath: string): Promise<number> {
  const log = await open(logPath, 'a', 0o640);
  try {
    const child = spawn('sh', ['-c', MONITOR_SCRIPT, MONITOR_NAME, record.exitFile, ...command], {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
    });
    await once(child, 'spawn');
    child.unref();
    const pid = child.pid!;
    await writeText(record.monitorPidFile, `${pid}\n`);
    return pid;
  } finally {
    await log.close();
  }
}

/** How the run ended, or null while it has not (or the record is gone). */
export async function readExit(record: MonitorRecord): Promise<ExitStatus | null> {
  const text = await readOptional(record.exitFile);
  if (text === null || !/^\d+\s*$/.test(text)) return null;
  return exitStatusFromCode(Number(text.trim()));
}

/**
 * The runtime's own error, when it logged one (runc and runsc write JSON lines with
 * "level":"error" or "fatal" to --log): tells a failed start from a process that ran
 * and exited at once, which look alike from the outside.
 */
export async function readRuntimeError(record: MonitorRecord): Promise<string | null> {
  const text = (await readOptional(record.runtimeLogFile)) ?? '';
  const errors: string[] = [];
  for (const line of text.split('\n')) {
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
      if ((entry.level === 'error' || entry.level === 'fatal') && typeof entry.msg === 'string') errors.push(entry.msg);
    } catch {
      // not a JSON line: not an error entry
    }
  }
  return errors.length > 0 ? errors.join('; ') : null;
}

/** True when the container's process has been created (the runtime wrote its pid file). */
export async function hasStarted(record: MonitorRecord): Promise<boolean> {
  const text = await readOptional(record.pidFile);
  return text !== null && /^\d+/.test(text);
}

/**
 * True while the monitor of this record runs. Checks the process's command line names
 * this record's exit file, so a recycled pid never passes for the monitor.
 */
export async function isMonitorAlive(record: MonitorRecord): Promise<boolean> {
  const pid = (await readOptional(record.monitorPidFile))?.trim();
  if (pid === undefined || !/^\d+$/.test(pid)) return false;
  const cmdline = await readOptional(`/proc/${pid}/cmdline`);
  return cmdline !== null && cmdline.split('\0').includes(record.exitFile);
}

/** Forgets the record (all of the run's files). */
export async function removeRecord(record: MonitorRecord): Promise<void> {
  await rm(record.dir, { recursive: true, force: true });
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    // ESRCH: a /proc/<pid> file whose process exited while we read it.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw err;
  }
}

async function writeText(path: string, text: string): Promise<void> {
  const handle = await open(path, 'w', 0o600);
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}
