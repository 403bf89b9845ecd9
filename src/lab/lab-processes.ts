import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { AloftError } from '../lib/errors.ts';

/** A process the lab started, recorded so `down` (even after a crash) kills exactly it. */
export interface LabProcess {
  pid: number;
  /** `stray`: found inside a lab namespace by `down`, not recorded (an `up` killed mid-start, an `exec` left running). */
  role: 'bird' | 'socat' | 'relay' | 'responder' | 'stray';
  /** The place it runs in (`ams-edge`, `inet`…). */
  place: string;
  /** /proc/<pid>/stat's start time: a PID reused by someone else later has another. */
  startTime: string;
}

/**
 * Starts `argv` inside namespace `ns` (`ip netns exec` execs it, so the PID is the
 * program's), detached from this process so it outlives `aloft lab up`, with stdout and
 * stderr appended to `logFile`.
 */
export async function spawnInNetns(ns: string, argv: readonly string[], logFile: string, role: Exclude<LabProcess['role'], 'stray'>, place: string): Promise<LabProcess> {
  const out = openSync(logFile, 'a');
  let child;
  try {
    child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', out, out], detached: true });
  } finally {
    closeSync(out);
  }
  const [err] = (await Promise.race([once(child, 'spawn').then(() => [undefined]), once(child, 'error')])) as [Error | undefined];
  if (err !== undefined) throw new AloftError('LAB_FAILED', `Cannot start ${role} in ${place}: ${err.message}`, { cause: err });
  child.unref();
  const pid = child.pid!;
  return { pid, role, place, startTime: (await startTimeOf(pid)) ?? '' };
}

/** The start time field of /proc/<pid>/stat, or undefined when there is no such process. */
export async function startTimeOf(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command's closing parenthesis; starttime is field 22 overall.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True when the recorded process still runs (same PID and start time, not a zombie). */
export async function isRunning(proc: LabProcess): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${proc.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] !== 'Z' && fields[19] === proc.startTime;
  } catch {
    return false;
  }
}

/** Sends a signal to a recorded process, only when it is still the one recorded. */
export async function signalRecorded(proc: LabProcess, signal: NodeJS.Signals): Promise<boolean> {
  if (!(await isRunning(proc))) return false;
  try {
    process.kill(proc.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends a recorded process: SIGTERM and SIGCONT (a frozen one must wake to hear it),
 * then SIGKILL after `graceMs`; resolves once it is gone.
 */
export async function endRecorded(proc: LabProcess, graceMs = 2000): Promise<void> {
  if (!(await signalRecorded(proc, 'SIGTERM'))) return;
  await signalRecorded(proc, 'SIGCONT');
  const deadline = Date.now() + graceMs;
  while (await isRunning(proc)) {
    if (Date.now() > deadline) await signalRecorded(proc, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
