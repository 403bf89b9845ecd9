import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AloftError } from '../lib/errors.ts';
import { execCommand } from '../lib/command.ts';
import { removeSandboxes } from './lab-platform-down.ts';
import { isRunning, respawn, signalRecorded, type LabProcess } from './lab-processes.ts';
import type { LabState } from './lab-state.ts';

/** The platform's processes a host runs (whichever of them the plan put there). */
export const HOST_ROLES: readonly LabProcess['role'][] = ['agent', 'etcd', 'api', 'registry'];

/**
 * Kills (SIGKILL: no goodbye, as a crash) the recorded processes of `roles` at `place`
 * and waits until they are gone. LAB_FAILED when there is none to kill.
 */
export async function killAt(state: LabState, place: string, roles: readonly LabProcess['role'][]): Promise<void> {
  const targets = state.processes.filter((p) => p.place === place && roles.includes(p.role));
  if (targets.length === 0) throw new AloftError('LAB_FAILED', `Cannot kill ${roles.join('/')} at ${place} as the lab must run one there: got none`);
  for (const proc of targets) await signalRecorded(proc, 'SIGKILL');
  for (const proc of targets) while (await isRunning(proc)) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Starts again (as first started) every recorded process of `roles` at `place` that is not running; the state's records are replaced. */
export async function restartAt(state: LabState, place: string, roles: readonly LabProcess['role'][]): Promise<void> {
  // etcd first, then the API and registry, then the agent: each needs the ones before.
  const order = (p: LabProcess): number => ['etcd', 'api', 'registry', 'agent', 'proxy', 'watch'].indexOf(p.role);
  const dead: LabProcess[] = [];
  for (const proc of state.processes) if (proc.place === place && roles.includes(proc.role) && !(await isRunning(proc))) dead.push(proc);
  for (const proc of dead.sort((a, b) => order(a) - order(b))) {
    const next = await respawn(proc);
    state.processes = state.processes.map((p) => (p === proc ? next : p));
  }
}

/**
 * A host dies: every platform process on it is killed, its Machines' sandboxes with
 * them, and its link goes down (so nothing on it answers: Machines, etcd member).
 */
export async function killHost(state: LabState, place: string): Promise<void> {
  const host = state.plan.regions.flatMap((r) => r.hosts).find((h) => h.place === place);
  const agent = state.platform?.agents.find((a) => a.place === place);
  if (host === undefined || agent === undefined) throw new AloftError('LAB_FAILED', `Cannot fail host ${place} as it must be one of the lab's hosts running an agent: got none`);
  await killAt(state, place, HOST_ROLES);
  await removeSandboxes(join(agent.dataDir, 'runsc'));
  await isolate(state, host.ns, 'fail');
}

/** The host comes back: its link up, then its processes started again (the agent re-registers and adopts or drops its Machines). */
export async function reviveHost(state: LabState, place: string): Promise<void> {
  const host = state.plan.regions.flatMap((r) => r.hosts).find((h) => h.place === place);
  if (host === undefined) throw new AloftError('LAB_FAILED', `Cannot heal host ${place} as it must be one of the lab's hosts: got none`);
  await isolate(state, host.ns, 'heal');
  await restartAt(state, place, HOST_ROLES);
}

/** The table that cuts a dead host off: its own, so healing removes exactly it. */
const FAULT_TABLE = 'aloft_lab_fault';

/**
 * Drops everything the host sends or receives on its uplink (`eth0`), its Machines'
 * forwarded traffic included, without touching the link: a silent death, which peers
 * notice only by timeouts (as with a crashed machine), and which leaves the
 * addresses and routes in place for the heal.
 */
async function isolate(state: LabState, ns: string, action: 'fail' | 'heal'): Promise<void> {
  const rules = action === 'fail'
    ? `table inet ${FAULT_TABLE} {
  chain in { type filter hook input priority -500; iifname "eth0" drop; }
  chain out { type filter hook output priority -500; oifname "eth0" drop; }
  chain through { type filter hook forward priority -500; iifname "eth0" drop; oifname "eth0" drop; }
}
`
    : `delete table inet ${FAULT_TABLE}\n`;
  const file = join(state.dir, `fault-${ns}.nft`);
  await writeFile(file, rules);
  const result = await execCommand('ip', ['netns', 'exec', ns, 'nft', '-f', file], { timeoutMs: 10_000, errorCode: 'LAB_FAILED' });
  if (result.code !== 0) throw new AloftError('LAB_FAILED', `Cannot ${action} the host in ${ns} as nft must accept its rules: ${result.stderr.trim()}`);
}
