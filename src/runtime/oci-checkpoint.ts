import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { MonitorRecord } from './oci-monitor.ts';

/**
 * What a checkpoint of a runsc sandbox needs to stay safe, and the files that carry a
 * suspended Machine across agent restarts. HOST.md: `runsc checkpoint` refuses any TCP
 * endpoint, even one in TIME_WAIT (~60 s after close), and a refused checkpoint kills
 * the sandbox. gVisor's netstack lives inside the sandbox: the host's `ss` in the
 * Machine's netns sees nothing, and gVisor's /proc/net/tcp lists no TIME_WAIT endpoint
 * (measured). Its /proc/net/snmp does count every TCP segment and open, so "quiet" is
 * judged by those counters: unchanged for the whole quiet period and nothing open.
 */

/** The sandbox's TCP activity as read from its /proc/net/snmp and /proc/net/tcp{,6}. */
export interface TcpActivity {
  /** Established connections (snmp Tcp CurrEstab). */
  established: number;
  /** Sockets in /proc/net/tcp{,6} in any state but LISTEN. */
  openSockets: number;
  /** Counters that move with any TCP traffic or connection, joined: equal = no traffic between. */
  counters: string;
}

/** The counters of snmp's Tcp line that change with any connection or segment. */
const ACTIVITY_FIELDS = ['ActiveOpens', 'PassiveOpens', 'AttemptFails', 'EstabResets', 'InSegs', 'OutSegs', 'OutRsts'] as const;
/** The counters of a sandbox that has had no TCP at all (a fresh run's). */
export const NO_TCP_YET = ACTIVITY_FIELDS.map(() => '0').join(' ');
/** /proc/net/tcp's `st` column value for LISTEN. */
const TCP_LISTEN = '0A';

/**
 * Parses the output of `cat /proc/net/snmp /proc/net/tcp /proc/net/tcp6` run in the
 * sandbox. Null when the snmp Tcp lines are missing (then nothing can be judged safe).
 */
export function parseTcpActivity(text: string): TcpActivity | null {
  const lines = text.split('\n');
  const tcp = lines.filter((line) => line.startsWith('Tcp:'));
  const [header, values] = tcp.map((line) => line.trim().split(/\s+/).slice(1));
  if (header === undefined || values === undefined || header.length !== values.length) return null;
  const field = (name: string): string | undefined => values[header.indexOf(name)];
  const established = Number(field('CurrEstab'));
  if (!Number.isFinite(established) || ACTIVITY_FIELDS.some((name) => field(name) === undefined)) return null;
  let openSockets = 0;
  for (const line of lines) {
    // Rows look like "   0: 00000000:1F90 00000000:0000 0A …": slot, local, remote, state.
    const row = /^\s*\d+:\s+\S+\s+\S+\s+([0-9A-Fa-f]{2})\s/.exec(line);
    if (row && row[1]!.toUpperCase() !== TCP_LISTEN) openSockets++;
  }
  return { established, openSockets, counters: ACTIVITY_FIELDS.map((name) => field(name)).join(' ') };
}

/** The last activity seen, and since when it has been unchanged (epoch ms). */
export interface TcpSample {
  counters: string;
  since: number;
}

/** What {@link whyNotQuiet} needs. */
export interface QuietCheck {
  /** Reads the sandbox's TCP activity now, or says why it cannot. */
  read: () => Promise<TcpActivity | string>;
  /** Where the last sample is kept between suspends (a TcpSample). */
  sampleFile: string;
  /** When the run began (epoch ms): with no sample yet, its counters were all zero then. */
  startedAt: number;
  /** How long the counters must stay still. */
  quietMs: number;
  /** How often to read again while waiting (default 250 ms). */
  pollMs?: number;
}

/**
 * Null when the sandbox has had no TCP traffic for `quietMs` and has nothing open, else
 * why a checkpoint is unsafe. Traffic since the last sample starts the quiet period
 * again (conservatively, from now) and this waits it out; traffic while it waits means
 * the Machine is in use, and it answers at once. Keeps its sample in `sampleFile`.
 */
export async function whyNotQuiet(check: QuietCheck): Promise<string | null> {
  let sample = (await readJson<TcpSample>(check.sampleFile)) ?? { counters: NO_TCP_YET, since: check.startedAt };
  for (let first = true; ; first = false) {
    const activity = await check.read();
    if (typeof activity === 'string') return activity;
    const open = Math.max(activity.established, activity.openSockets);
    if (open > 0) return `it has ${open} open TCP connection${open === 1 ? '' : 's'}`;
    if (activity.counters !== sample.counters) {
      if (!first) return `it had TCP traffic within the last ${check.quietMs} ms`;
      sample = { counters: activity.counters, since: Date.now() };
      await writeJson(check.sampleFile, sample);
    }
    const left = sample.since + check.quietMs - Date.now();
    if (left <= 0) return null;
    await delay(Math.min(left, check.pollMs ?? 250));
  }
}

/** Files of a run's record (oci-monitor.ts) that the suspend path adds. */
export interface SuspendFiles {
  /** What a restore needs from the start: bundle, log, netns. */
  runFile: string;
  /** Present while a checkpoint is in flight: the run's exit (the sandbox ends) is not an exit. */
  checkpointingFile: string;
  /** Present while the Machine is suspended to `imageDir`. */
  suspendedFile: string;
  /** The checkpoint image. */
  imageDir: string;
  /** The last TCP sample (see TcpSample). */
  tcpSampleFile: string;
}

/** Where the suspend files of a run live (inside its record, so `remove` drops them all). */
export function suspendFiles(record: MonitorRecord): SuspendFiles {
  return {
    runFile: join(record.dir, 'run.json'),
    checkpointingFile: join(record.dir, 'checkpointing'),
    suspendedFile: join(record.dir, 'suspended.json'),
    imageDir: join(record.dir, 'checkpoint'),
    tcpSampleFile: join(record.dir, 'tcp-sample.json'),
  };
}

/** What a restore needs of the run that was checkpointed. */
export interface RunFacts {
  bundle: string;
  logPath: string;
  netnsPath: string | null;
  workDir: string;
  /** The run's unique cgroup (also read to tell an OOM kill). */
  cgroupsPath: string;
}

/** Writes a small JSON file atomically (temp, then rename): never half-written. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(`${path}.tmp`, `${JSON.stringify(value)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

/** Reads a JSON file written by writeJson; null when absent. */
export async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Removes files, ignoring absent ones. */
export async function removeFiles(...paths: string[]): Promise<void> {
  await Promise.all(paths.map((path) => rm(path, { recursive: true, force: true })));
}
