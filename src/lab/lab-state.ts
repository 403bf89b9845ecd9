import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AloftError } from '../lib/errors.ts';
import { BirdClient } from '../edge/bgp/index.ts';
import type { LabPlan } from './lab-plan.ts';
import type { LabPlatformPlan } from './lab-platform-plan.ts';
import type { LabProcess } from './lab-processes.ts';

/** A fault injected by `aloft lab fail`, undone by `heal`. */
export type LabFault =
  | { kind: 'edge'; region: string; mode: 'drain' | 'silent' }
  | { kind: 'link'; link: string }
  | { kind: 'region'; region: string }
  | { kind: 'proxy'; region: string }
  | { kind: 'etcd'; region: string }
  | { kind: 'host'; host: string };

/** What a lab leaves on disk so any later `aloft lab …` (and `down` after a crash) can find it. */
export interface LabState {
  version: 1;
  plan: LabPlan;
  /** The platform running on the network (absent: the network alone). */
  platform?: LabPlatformPlan;
  /** Where its configs, sockets and logs live: `<root>/<name>/`. */
  dir: string;
  processes: LabProcess[];
  faults: LabFault[];
  createdAt: string;
  /** False while `up` is still building (a crash leaves it false). */
  ready: boolean;
}

/** Where labs are recorded: /run/aloft-lab (tmpfs: a reboot, which removes every namespace, forgets them too). */
export const LAB_ROOT = '/run/aloft-lab';

/** The state file of lab `name`. */
export function statePath(name: string, root = LAB_ROOT): string {
  return join(root, `${name}.json`);
}

/** Reads lab `name`'s state; LAB_NOT_FOUND when there is none. */
export async function readLabState(name: string, root = LAB_ROOT): Promise<LabState> {
  let text: string;
  try {
    text = await readFile(statePath(name, root), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AloftError('LAB_NOT_FOUND', `Cannot find lab '${name}' as it must be up ('aloft lab up --name ${name}'): no ${statePath(name, root)}`, {
        details: { name },
      });
    }
    throw err;
  }
  return JSON.parse(text) as LabState;
}

/** Each state file's writes in this process, one after another (see writeLabState). */
const writing = new Map<string, Promise<void>>();

/**
 * Writes the state atomically (temp file, then rename): a crash never leaves half a file.
 * Writes from one process are queued, each serialising the state when its turn comes:
 * processes started in parallel each record themselves, and a slower older write must
 * never land after a newer one (it would forget a process `down` has to end).
 */
export function writeLabState(state: LabState, root = LAB_ROOT): Promise<void> {
  const path = statePath(state.plan.name, root);
  const write = async (): Promise<void> => {
    await mkdir(root, { recursive: true, mode: 0o755 });
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
    await rename(temp, path);
  };
  const next = (writing.get(path) ?? Promise.resolve()).then(write, write);
  writing.set(path, next);
  void next.finally(() => {
    if (writing.get(path) === next) writing.delete(path);
  }).catch(() => undefined);
  return next;
}

/** Removes the state file (the last step of `down`). */
export async function removeLabState(name: string, root = LAB_ROOT): Promise<void> {
  await rm(statePath(name, root), { force: true });
}

/** The control socket of the bird at `place` (`ams-router`, `ams-edge`) of a lab. */
export function birdSocket(dir: string, place: string): string {
  return join(dir, `${place}.ctl`);
}

/** A birdc client for the bird at `place` of a lab. */
export function birdAt(state: LabState, place: string): BirdClient {
  return new BirdClient(birdSocket(state.dir, place));
}
