import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { AloftError } from '../lib/errors.ts';

/** A process the lab started, recorded so `down` (even after a crash) kills exactly it. */
export interface LabProcess {
  pid: number;
  /** `stray`: found inside a lab namespace by `down`, not recorded (an `up` killed mid-start, an `exec` left running). */
  role: 'bird' | 'socat' | 'relay' | 'responder' | 'etcd' | 'api' | 'registry' | 'agent' | 'proxy' | 'watch' | 'stray';
  /** The place it runs in (`ams-edge`, `inet`…). */
  place: string;
  /** /proc/<pid>/stat's start time: a PID reused by someone else later has another. */
  startTime: string;
  /** How it was started, so `aloft lab heal` can start it again after a fault killed it. */
  spec?: LabSpawnSpec;
}

/** What {@link spawnInNetns} was given; enough to start the same process again. */
export interface LabSpawnSpec {
  ns: string;
  argv: string[];
  logFile: string;
  joinNetworkOnly?: boolean;
  /** The line its log prints once it is ready. */
  readyLine?: string;
}

/**
 * Starts `argv` inside namespace `ns` (`ip netns exec` execs it, so the PID is the
 * program's), detached from this process so it outlives `aloft lab up`, with stdout and
 * stderr appended to `logFile`. `joinNetworkOnly` enters only the network namespace
 * (`nsenter --net`, also exec'ing): `ip netns exec` gives the program its own mount
 * namespace with a fresh /sys that has no cgroup hierarchies, where runsc cannot place
 * sandboxes, and Machines' namespaces made there would be invisible to `down`.
 */
export async function spawnInNetns(ns: string, argv: readonly string[], logFile: string, role: Exclude<LabProcess['role'], 'stray'>, place: string, options: { joinNetworkOnly?: boolean; readyLine?: string } = {}): Promise<LabProcess> {
  const out = openSync(logFile, 'a');
  let child;
  try {
    const enter = options.joinNetworkOnly === true ? ['nsenter', `--net=/var/run/netns/${ns}`] : ['ip', 'netns', 'exec', ns];
    child = spawn(enter[0]!, [...enter.slice(1), ...argv], { stdio: ['ignore', out, out], detached: true });
  } finally {
    closeSync(out);
  }
  const [err] = (await Promise.race([once(child, 'spawn').then(() => [undefined]), once(child, 'error')])) as [Error | undefined];
  if (err !== undefined) throw new AloftError('LAB_FAILED', `Cannot start ${role} in ${place}: ${err.message}`, { cause: err });
  child.unref();
  const pid = child.pid!;
  const spec: LabSpawnSpec = { ns, argv: [...argv], logFile, ...options };
  return { pid, role, place, startTime: (await startTimeOf(pid)) ?? '', spec };
}

/** Starts a recorded process again the way it was first started (after a fault killed it); waits for its ready line. */
export async function respawn(proc: LabProcess, readyMs = 90_000): Promise<LabProcess> {
  const spec = proc.spec;
  if (spec === undefined || proc.role === 'stray') throw new AloftError('LAB_FAILED', `Cannot restart ${proc.role} in ${proc.place} as its start must have been recorded: got none`);
  const before = await readFile(spec.logFile, 'utf8').then((t) => t.length, () => 0);
  const next = await spawnInNetns(spec.ns, spec.argv, spec.logFile, proc.role, proc.place, {
    ...(spec.joinNetworkOnly === undefined ? {} : { joinNetworkOnly: spec.joinNetworkOnly }),
    ...(spec.readyLine === undefined ? {} : { readyLine: spec.readyLine }),
  });
  if (spec.readyLine !== undefined) await waitForLog(spec.logFile, spec.readyLine, readyMs, before);
  return next;
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

/** Waits until a process's log holds `line` (its readiness message); LAB_FAILED with the log's tail if not in time. */
export async function waitForLog(file: string, line: string, timeoutMs: number, fromOffset = 0): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A restarted process appends to its old log: only what follows `fromOffset` (its length before) counts.
  while (Date.now() < deadline) {
    const text = (await readFile(file, 'utf8').catch(() => '')).slice(fromOffset);
    if (text.includes(line)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const text = await readFile(file, 'utf8').catch(() => '');
  throw new AloftError('LAB_FAILED', `Cannot build the lab as a process must print '${line}' within ${timeoutMs} ms: its log ${file} says ${JSON.stringify(text.slice(-600))}`);
}
