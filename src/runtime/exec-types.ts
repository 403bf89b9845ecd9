/**
 * What `Driver.exec` and `Driver.ps` take and give: a command run beside a Machine's
 * main process, and the processes a Machine has. Kept apart from driver.ts so the API
 * and the host control can name them without the rest of the driver.
 */

/** A command to run inside a running Machine: as root, with its main process's env and cwd. */
export interface ExecRequest {
  /** The program and its arguments; never a shell string. */
  args: string[];
  /** Killed after this long; the exec then fails with EXEC_TIMEOUT. */
  timeoutMs: number;
  /** Added to (and winning over) the main process's environment. */
  env?: Record<string, string>;
}

/** How an exec ended and what it printed (each stream capped by the driver). */
export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** One process inside a Machine. `pid` is as the Machine sees it where the runtime says. */
export interface ProcessInfo {
  pid: number;
  /** The command line, space-joined (or the program name where that is all the runtime gives). */
  command: string;
  /** CPU time used, in ms, where known. */
  cpuTimeMs?: number;
  /** Resident memory in bytes, where known. */
  rssBytes?: number;
}
