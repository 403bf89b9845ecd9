import type { MachineService } from '../../model/index.ts';
import { parseDurationMs } from '../../model/machine-config.ts';

/** One health check of a Machine's service, with Fly's defaults filled in. */
export interface HealthCheckSpec {
  type: 'tcp' | 'http';
  /** The port probed: the check's own `port`, else the service's `internal_port`. */
  port: number;
  /** HTTP only: the method and path requested. */
  method: string;
  path: string;
  intervalMs: number;
  timeoutMs: number;
  /** Checks start this long after the Machine became started (its boot time). */
  gracePeriodMs: number;
}

/** Fly's defaults for service checks: every 15 s, 2 s timeout, no grace, GET /. */
export const CHECK_DEFAULTS = { intervalMs: 15_000, timeoutMs: 2_000, gracePeriodMs: 0, method: 'GET', path: '/' } as const;

/** Below this a check would be a load test, not a health check. */
const MIN_INTERVAL_MS = 100;

/**
 * The checks of `service` (its `checks[]`, Machines API shape). A check without `type`
 * is `http` when it names a path, else `tcp`. Durations that cannot be read fall back
 * to the defaults rather than dropping the check: a typo must not make a Machine
 * look healthy by having no checks.
 */
export function healthChecksOf(service: MachineService | undefined): HealthCheckSpec[] {
  if (service === undefined) return [];
  return (service.checks ?? []).map((check) => {
    const type = check.type ?? (check.path !== undefined ? 'http' : 'tcp');
    const path = check.path ?? CHECK_DEFAULTS.path;
    return {
      type,
      port: check.port ?? service.internal_port,
      method: (check.method ?? CHECK_DEFAULTS.method).toUpperCase(),
      path: path.startsWith('/') ? path : `/${path}`,
      intervalMs: Math.max(MIN_INTERVAL_MS, parseDurationMs(check.interval) ?? CHECK_DEFAULTS.intervalMs),
      timeoutMs: Math.max(1, parseDurationMs(check.timeout) ?? CHECK_DEFAULTS.timeoutMs),
      gracePeriodMs: parseDurationMs(check.grace_period) ?? CHECK_DEFAULTS.gracePeriodMs,
    };
  });
}
