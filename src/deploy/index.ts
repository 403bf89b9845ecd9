/**
 * Deploys: a plan per process group from an app config, an image and the app's
 * Machines; strategies (rolling, immediate, canary, bluegreen), each step health-gated;
 * the release command; leases; numbered releases with their events, rollback and
 * auto_rollback. Runs in the API process (Deployer); the API's routes start and follow it.
 */
export { Deployer, type DeployerDeps, type DeployRequest } from './deployer.ts';
export { planDeploy, describePlan, groupOf, isAppMachine, PROCESS_GROUP_KEY, RELEASE_KEY, ROLE_KEY, type DeployPlan, type GroupPlan, type PlannedCreate, type PlannedUpdate, type VmSizeChange } from './plan.ts';
export type { HealthGate, HealthOutcome, HealthWaitOptions, HealthCheckView } from './health-gate.ts';
export type { DeployEvent, DeployEventType, Emit } from './events.ts';
export { batchSize } from './max-unavailable.ts';
export { releaseCommandConfig, RELEASE_COMMAND_GROUP, DEFAULT_RELEASE_COMMAND_TIMEOUT_MS } from './release-command.ts';
export { DEFAULT_WAIT_TIMEOUT_MS } from './run-release.ts';
export { DEPLOY_LEASE_TTL_S } from './leases.ts';
export { checksHealthGate } from './checks-health-gate.ts';
