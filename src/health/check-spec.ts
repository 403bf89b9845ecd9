import type { MachineService } from '../model/index.ts';
import { parseDurationMs } from '../model/machine-config.ts';

/** One health check of a Machine, with Fly's defaults filled in. */
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
  /** HTTP only: extra request headers (Fly's `headers: [{name, values}]`). */
  headers?: Readonly<Record<string, readonly string[]>>;
  /** HTTP only: `https` speaks TLS to the port. Absent = `http`. */
  protocol?: 'http' | 'https';
  /** HTTPS only: accept any certificate (Fly's `tls_skip_verify`). */
  tlsSkipVerify?: boolean;
  /** HTTPS only: the name sent as SNI and checked against the certificate. */
  tlsServerName?: string;
}

/** A check as the Machines API carries it (service `checks[]` or top-level `checks{}`). */
export interface CheckConfig {
  type?: 'tcp' | 'http' | undefined;
  port?: number | undefined;
  path?: string | undefined;
  method?: string | undefined;
  interval?: string | undefined;
  timeout?: string | undefined;
  grace_period?: string | undefined;
  [key: string]: unknown;
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
  return (service.checks ?? []).map((check) => checkSpecOf(check, service.internal_port));
}

/** One check with defaults applied; `port` is used when the check names none. */
export function checkSpecOf(check: CheckConfig, port: number): HealthCheckSpec {
  const type = check.type ?? (check.path !== undefined ? 'http' : 'tcp');
  const path = check.path ?? CHECK_DEFAULTS.path;
  const spec: HealthCheckSpec = {
    type,
    port: check.port ?? port,
    method: (check.method ?? CHECK_DEFAULTS.method).toUpperCase(),
    path: path.startsWith('/') ? path : `/${path}`,
    intervalMs: Math.max(MIN_INTERVAL_MS, parseDurationMs(check.interval) ?? CHECK_DEFAULTS.intervalMs),
    timeoutMs: Math.max(1, parseDurationMs(check.timeout) ?? CHECK_DEFAULTS.timeoutMs),
    gracePeriodMs: parseDurationMs(check.grace_period) ?? CHECK_DEFAULTS.gracePeriodMs,
  };
  if (type !== 'http') return spec;
  const headers = headersOf(check['headers']);
  if (headers !== undefined) spec.headers = headers;
  if (check['protocol'] === 'https') spec.protocol = 'https';
  if (check['tls_skip_verify'] === true) spec.tlsSkipVerify = true;
  if (typeof check['tls_server_name'] === 'string' && check['tls_server_name'] !== '') spec.tlsServerName = check['tls_server_name'];
  return spec;
}

/**
 * Fly's `headers: [{name, values: [...]}]` as a record; also accepts a plain
 * `{name: value | [values]}` object (fly.toml's form). Entries of other shapes are
 * skipped: a config that round-trips Fly's loose shape must not break the check.
 */
function headersOf(raw: unknown): Record<string, string[]> | undefined {
  const out: Record<string, string[]> = {};
  const add = (name: unknown, values: unknown): void => {
    if (typeof name !== 'string' || name === '') return;
    const list = (Array.isArray(values) ? values : [values]).filter((v): v is string => typeof v === 'string');
    if (list.length > 0) out[name.toLowerCase()] = [...(out[name.toLowerCase()] ?? []), ...list];
  };
  if (Array.isArray(raw)) {
    for (const entry of raw) {
      if (typeof entry === 'object' && entry !== null) add((entry as Record<string, unknown>)['name'], (entry as Record<string, unknown>)['values']);
    }
  } else if (typeof raw === 'object' && raw !== null) {
    for (const [name, values] of Object.entries(raw)) add(name, values);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
