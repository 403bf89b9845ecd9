import { machineChecksOf, type NamedCheck } from '../../health/index.ts';
import { truncateCheckOutput, type MachineCheckStatus, type MachineConfig } from '../../model/index.ts';

/**
 * The statuses a Machine's checks start each run with: `warning` until the first probe
 * answers (Fly's "waiting for status update"), or `critical` for a check that cannot
 * run. The agent writes them in the same update that records `started`, so statuses
 * from an earlier run are never read as this run's.
 */
export function initialCheckStatuses(config: MachineConfig, now: number): MachineCheckStatus[] {
  return machineChecksOf(config).map((check) => initialStatus(check, now));
}

/** One check's status before its first probe. */
export function initialStatus(check: NamedCheck, now: number): MachineCheckStatus {
  if (check.invalid !== undefined) return { name: check.name, status: 'critical', output: truncateCheckOutput(check.invalid), updatedAt: now };
  const grace = check.spec.gracePeriodMs > 0 ? ` (grace period ${check.spec.gracePeriodMs} ms)` : '';
  return { name: check.name, status: 'warning', output: `waiting for the first check${grace}`, updatedAt: now };
}
