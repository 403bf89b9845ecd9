import type { Machine, MachineEvent } from '../model/index.ts';
import type { ExitStatus } from '../runtime/driver.ts';

/** Fly's defaults for a Machine without a restart policy. */
export const DEFAULT_RESTART = { policy: 'on-failure', maxRetries: 10 } as const;

/**
 * Whether a Machine whose process exited on its own is started again: `always`, or
 * `on-failure` when it failed (non-zero code, or killed by a signal), up to
 * `max_retries` restarts in a row (counted since the last start someone asked for).
 */
export function restartDecision(machine: Machine, status: ExitStatus, recentEventsNewestFirst: MachineEvent[]): { restart: boolean; attempt: number } {
  const policy = machine.config.restart?.policy ?? DEFAULT_RESTART.policy;
  const maxRetries = machine.config.restart?.max_retries ?? DEFAULT_RESTART.maxRetries;
  let attempts = 0;
  for (const event of recentEventsNewestFirst) {
    // A user's start, restart or update begins a fresh count; the agent's own restarts add to it.
    if (event.source === 'user' && event.status === 'requested' && ['start', 'restart', 'update'].includes(event.type)) break;
    if (event.type === 'restart' && event.source === 'flyd') attempts++;
  }
  const failed = status.signal !== null || (status.exitCode !== null && status.exitCode !== 0);
  const wants = policy === 'always' || (policy === 'on-failure' && failed);
  const restart = wants && (policy === 'always' || attempts < maxRetries);
  return { restart, attempt: attempts + 1 };
}
