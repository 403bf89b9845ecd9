import type { MachineService } from '../../model/index.ts';

/** How much traffic one Machine's service takes, as the proxy counts it. */
export interface Concurrency {
  /** `requests`: in-flight requests; `connections`: client connections routed to it. */
  type: 'connections' | 'requests';
  /** At or over this the Machine is chosen only when every other one is too. */
  softLimit: number;
  /** At this the Machine gets nothing new. */
  hardLimit: number;
}

/**
 * Fly's defaults: type `connections`, soft_limit 20, hard_limit 25 (PLATFORM.md and
 * Fly's concurrency guide; newer Fly docs leave hard_limit unset, but a bound keeps a
 * Machine from being buried, so aloft keeps 25).
 */
export const DEFAULT_CONCURRENCY: Concurrency = Object.freeze({ type: 'connections', softLimit: 20, hardLimit: 25 });

/**
 * The concurrency of `service` with defaults filled in. A soft limit above the hard
 * one is clamped to it (Fly does the same: the hard limit wins); a hard limit of 0
 * would make the Machine unreachable, so it counts as 1.
 */
export function concurrencyOf(service: MachineService | undefined): Concurrency {
  const given = service?.concurrency ?? {};
  const hardLimit = Math.max(1, given.hard_limit ?? DEFAULT_CONCURRENCY.hardLimit);
  const softLimit = Math.min(hardLimit, given.soft_limit ?? Math.min(DEFAULT_CONCURRENCY.softLimit, hardLimit));
  return { type: given.type ?? DEFAULT_CONCURRENCY.type, softLimit, hardLimit };
}
