import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execCommand } from '../lib/command.ts';
import { endRecorded, type LabProcess } from './lab-processes.ts';
import type { LabState } from './lab-state.ts';

/** The roles that make up the platform, stopped before the network under them. */
const PLATFORM_ROLES: readonly LabProcess['role'][] = ['watch', 'proxy', 'api', 'registry', 'agent'];

/**
 * Stops the platform of a lab before its network goes: the edges' watchdogs and proxies, the API and the
 * agents (SIGTERM, so each leaves cleanly: proxies withdraw, agents stop beating),
 * then every sandbox the agents' runtime still holds (agents leave Machines running on
 * purpose, for the next agent to adopt; a lab going down has no next agent). etcd goes
 * with the other processes afterwards. Best effort: `down` must finish after any crash.
 */
export async function stopLabPlatform(state: LabState): Promise<void> {
  const platform = state.processes.filter((p) => PLATFORM_ROLES.includes(p.role));
  await Promise.all(platform.map((proc) => endRecorded(proc, 8000)));
  for (const agent of state.platform?.agents ?? []) await removeSandboxes(join(agent.dataDir, 'runsc'));
}

/** Kills and deletes every runsc container recorded under `stateRoot`. */
export async function removeSandboxes(stateRoot: string): Promise<void> {
  const listed = await execCommand('runsc', ['--root', stateRoot, 'list', '--quiet'], { timeoutMs: 15_000, errorCode: 'LAB_FAILED' }).catch(() => undefined);
  for (const id of (listed?.stdout ?? '').split('\n').map((l) => l.trim()).filter(Boolean)) {
    await execCommand('runsc', ['--root', stateRoot, 'kill', id, 'KILL'], { timeoutMs: 15_000, errorCode: 'LAB_FAILED' }).catch(() => undefined);
    await execCommand('runsc', ['--root', stateRoot, 'delete', '--force', id], { timeoutMs: 15_000, errorCode: 'LAB_FAILED' }).catch(() => undefined);
  }
}

/**
 * Lazily unmounts whatever is still mounted under the lab's directory (Machines' root
 * filesystems, volumes), deepest first, so removing the directory never reaches into
 * a mount.
 */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .map((line) => (line.split(' ')[1] ?? '').replace(/\\040/g, ' '))
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`))
    .reverse();
  for (const mountPoint of mounts) await execCommand('umount', ['-l', mountPoint], { timeoutMs: 15_000, errorCode: 'LAB_FAILED' }).catch(() => undefined);
}
