import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AloftError, invalidField } from '../lib/errors.ts';
import { ip, namespacesWithPrefix } from './lab-network.ts';
import { endRecorded, isRunning, startTimeOf, type LabProcess } from './lab-processes.ts';
import { LAB_ROOT, readLabState, removeLabState } from './lab-state.ts';
import { stopLabPlatform, unmountUnder } from './lab-platform-down.ts';

/** What `down` removed. */
export interface LabDownResult {
  name: string;
  processes: number;
  namespaces: string[];
}

const LAB_NAME = /^[a-z][a-z0-9]{0,7}$/;

/**
 * Removes lab `name`: ends every process it recorded (by PID, checked against the
 * recorded start time, so a reused PID is never hit), then any process still inside a
 * namespace named `al-<name>-…`, deletes those namespaces (which takes every veth, TAP
 * and bridge inside with them: the lab makes none in the root namespace), then its
 * directory and state file. Works without a state
 * file too (a crash before it was written): namespaces go by prefix. Throws LAB_FAILED
 * if anything is still there afterwards.
 */
export async function labDown(name: string, options: { root?: string } = {}): Promise<LabDownResult> {
  if (typeof name !== 'string' || !LAB_NAME.test(name)) throw invalidField('remove the lab', 'name', 'a letter then up to 7 of [a-z0-9]', name);
  const root = options.root ?? LAB_ROOT;
  const state = await readLabState(name, root).catch(() => undefined);
  const processes = state?.processes ?? [];
  // The platform before the network it runs on: agents' Machines need their agents gone first.
  if (state !== undefined) await stopLabPlatform(state);
  // Processes first: a namespace with a process in it outlives `ip netns del`.
  await Promise.all(processes.map((proc) => endRecorded(proc)));
  const prefix = `al-${name}-`;
  const namespaces = await namespacesWithPrefix(prefix);
  // Whatever still runs inside the lab's own namespaces is the lab's too: a process `up`
  // started but died before recording, or a command left by `aloft lab exec`.
  const strays = await processesIn(namespaces);
  await Promise.all(strays.map((proc) => endRecorded(proc)));
  for (const ns of namespaces) await ip('netns', 'del', ns);
  await unmountUnder(join(root, name));
  await rm(join(root, name), { recursive: true, force: true });
  const stillNs = await namespacesWithPrefix(prefix);
  const stillProcs = [];
  for (const proc of [...processes, ...strays]) if (await isRunning(proc)) stillProcs.push(proc.pid);
  if (stillNs.length > 0 || stillProcs.length > 0) {
    throw new AloftError('LAB_FAILED', `Cannot remove lab '${name}' as nothing of it must remain: namespaces ${stillNs.join(', ') || 'none'}, processes ${stillProcs.join(', ') || 'none'}`);
  }
  await removeLabState(name, root);
  return { name, processes: processes.length, namespaces };
}

/** The processes inside these namespaces now (`ip netns pids`), as records with their start times. */
async function processesIn(namespaces: readonly string[]): Promise<LabProcess[]> {
  const found: LabProcess[] = [];
  for (const ns of namespaces) {
    const out = await ip('netns', 'pids', ns);
    for (const pid of out.split('\n').filter((l) => /^\d+$/.test(l.trim())).map(Number)) {
      const startTime = await startTimeOf(pid);
      if (startTime !== undefined) found.push({ pid, role: 'stray', place: ns, startTime });
    }
  }
  return found;
}
