/**
 * Health checks shared by the proxy (which takes unhealthy Machines out of rotation)
 * and the agent (which reports each Machine's checks, as Fly's flyd does): the check
 * specs read from a Machine config with Fly's defaults, and one probe.
 */
export { CHECK_DEFAULTS, checkSpecOf, healthChecksOf, type CheckConfig, type HealthCheckSpec } from './check-spec.ts';
export { machineChecksOf, type NamedCheck } from './machine-checks.ts';
export { probe, type ProbeResult } from './probe.ts';
