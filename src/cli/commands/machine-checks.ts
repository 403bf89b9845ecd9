import pc from 'picocolors';
import type { MachineView } from '../api-client.ts';
import { printTable, say } from '../output.ts';

type CheckView = NonNullable<MachineView['checks']>[number];

/** passing green, warning yellow, critical red (colour only on a TTY, as picocolors decides). */
export function colourCheck(status: string): string {
  if (status === 'passing') return pc.green(status);
  if (status === 'critical') return pc.red(status);
  return pc.yellow(status);
}

/**
 * The Machine's health checks, as `aloft machine status` shows them: a summary line
 * ("Checks: 1 passing, 1 critical") and one row per check with its last output on one
 * line. Nothing for a Machine without checks.
 */
export function printChecks(checks: readonly CheckView[]): void {
  if (checks.length === 0) return;
  const counts = new Map<string, number>();
  for (const check of checks) counts.set(check.status, (counts.get(check.status) ?? 0) + 1);
  say(`Checks: ${[...counts].map(([status, n]) => `${n} ${colourCheck(status)}`).join(', ')}`);
  printTable(
    ['NAME', 'STATUS', 'UPDATED', 'OUTPUT'],
    checks.map((c) => [c.name, colourCheck(c.status), c.updated_at, c.output.replace(/\s+/g, ' ').trim()]),
  );
}
