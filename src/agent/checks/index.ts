/**
 * Machine health checks run by the host's agent (Fly's flyd checks): the runner that
 * probes started Machines and records status changes on them, and the wait other code
 * (the deploy engine) uses to learn that a Machine's new run is healthy or gone.
 */
export { CheckRunner, type CheckRunnerOptions } from './check-runner.ts';
export { initialCheckStatuses } from './initial-statuses.ts';
export type { CheckProbe } from './machine-checks-run.ts';
export { waitForMachineHealthy, type WaitHealthyOptions, type WaitHealthyResult } from './wait-healthy.ts';
