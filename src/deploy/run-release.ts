import type { HostControl } from '../agent/host-control.ts';
import type { MachineOps } from '../api/machine-ops.ts';
import type { AppConfig } from '../config/index.ts';
import type { Clock } from '../lib/clock.ts';
import { AloftError } from '../lib/errors.ts';
import type { Machine } from '../model/index.ts';
import type { Release } from '../store/release-store.ts';
import type { Store } from '../store/store.ts';
import type { Emit } from './events.ts';
import { Fleet } from './fleet.ts';
import type { HealthGate } from './health-gate.ts';
import { DeployLeases } from './leases.ts';
import { describePlan, planDeploy, type DeployPlan } from './plan.ts';
import { DEFAULT_RELEASE_COMMAND_TIMEOUT_MS, runReleaseCommand } from './release-command.ts';
import type { RolloutContext } from './rollout.ts';
import { runStrategy } from './strategies/index.ts';

/** Fly's default for `[deploy] wait_timeout`: how long one Machine may take to be healthy. */
export const DEFAULT_WAIT_TIMEOUT_MS = 5 * 60_000;

export interface RunReleaseDeps {
  store: Store;
  ops: MachineOps;
  gate: HealthGate;
  clock: Clock;
  hostControl?: HostControl | undefined;
}

/**
 * Plans a deploy and checks what would fail before anything is touched: the Machine
 * configs (CONFIG_INVALID), strategies that cannot work with volumes, and a free volume
 * for each new Machine that mounts one (assigned into the plan).
 */
export async function preparePlan(store: Store, appName: string, config: AppConfig, image: string, strategy: Release['strategy']): Promise<DeployPlan> {
  const plan = planDeploy(config, image, await store.listMachines({ appName }));
  // A volume has one Machine: a green or canary beside the old Machine could not mount it.
  const extra = strategy === 'bluegreen' ? plan.groups : strategy === 'canary' ? plan.groups.filter((g) => g.update.length > 0).slice(0, 1) : [];
  const mounting = extra.find((g) => g.config.mounts !== undefined);
  if (mounting) {
    throw new AloftError('INVALID_ARGUMENT', `Cannot deploy app ${appName} as 'deploy.strategy' must be rolling or immediate when process group ${mounting.group}'s Machines mount a volume (a volume has one Machine, so no ${strategy === 'canary' ? 'canary' : 'green Machine'} could mount it): got ${strategy}`, {
      details: { field: 'deploy.strategy', group: mounting.group },
    });
  }
  await assignVolumes(store, appName, plan);
  return plan;
}

/** Each new Machine that mounts a volume gets a free volume of that name (in its region), or the deploy is refused. */
async function assignVolumes(store: Store, appName: string, plan: DeployPlan): Promise<void> {
  const taken = new Set<string>();
  const volumes = await store.listVolumes({ appName });
  for (const group of plan.groups) {
    for (const create of group.create) {
      const mount = create.config.mounts?.[0];
      if (!mount || mount.volume !== undefined) continue;
      const free = volumes.find((v) => v.name === mount.name && v.attachedMachineId === null && v.state !== 'failed' && !taken.has(v.id) && (create.region === undefined || v.region === create.region));
      if (!free) {
        throw new AloftError('DEPLOY_FAILED', `Cannot deploy app ${appName} as a new Machine of process group ${group.group} must have a free volume named "${mount.name ?? ''}"${create.region ? ` in ${create.region}` : ''} to mount at ${mount.path}: got none (create one: aloft volumes create ${mount.name ?? 'NAME'} --app ${appName})`, {
          details: { group: group.group, volume: mount.name },
        });
      }
      taken.add(free.id);
      create.config = { ...create.config, mounts: [{ ...mount, volume: free.id }] };
      if (create.region === undefined) create.region = free.region;
    }
  }
}

/**
 * Runs one release: shows the plan (VM size changes first), leases every Machine it
 * will touch, runs the release command, then the strategy; leases are released at the
 * end, failed or not. Throws what failed (DEPLOY_FAILED, DEPLOY_CONFLICT,
 * RELEASE_COMMAND_FAILED…); the deployer records it.
 */
export async function runRelease(deps: RunReleaseDeps, release: Release, config: AppConfig, plan: DeployPlan, emit: Emit, signal?: AbortSignal): Promise<void> {
  emit({
    type: 'plan',
    message: `release v${release.version}: ${release.strategy} deploy of ${release.image.ref} — ${describePlan(plan)}`,
    strategy: release.strategy,
    image: release.image,
    groups: plan.groups.map((g) => ({ group: g.group, update: g.update.map((u) => u.machine.id), create: g.create.length })),
    destroy: plan.destroy.map((m) => m.id),
  });
  for (const change of plan.vmSizeChanges) {
    emit({ type: 'plan', message: `VM size of ${change.machine ?? 'new Machines'} [${change.group}] changes: ${change.from} -> ${change.to} (from [[vm]] in the config)`, ...(change.machine ? { machine: change.machine } : {}), group: change.group, vmSizeChange: change });
  }
  const leases = new DeployLeases(deps.store, deps.clock, `${release.createdBy} (deploy v${release.version})`, `aloft deploy v${release.version}`);
  const touched: Machine[] = [...plan.groups.flatMap((g) => g.update.map((u) => u.machine)), ...plan.destroy];
  await leases.takeAll(touched);
  if (touched.length > 0) emit({ type: 'lease', message: `leased ${touched.length} Machines for this deploy`, machines: touched.map((m) => m.id) });
  const fleet = new Fleet({ store: deps.store, ops: deps.ops, hostControl: deps.hostControl, leases, appName: release.appName, signal });
  const ctx: RolloutContext = { fleet, gate: deps.gate, emit, waitTimeoutMs: config.deploy?.wait_timeout ?? DEFAULT_WAIT_TIMEOUT_MS, release: release.version, signal };
  try {
    const command = config.deploy?.release_command;
    if (command) {
      const template = plan.groups[0]?.config;
      if (template) await runReleaseCommand(ctx, command, template, config.primary_region, config.deploy?.release_command_timeout ?? DEFAULT_RELEASE_COMMAND_TIMEOUT_MS);
    }
    await runStrategy(release.strategy, ctx, plan, config.deploy?.max_unavailable);
  } finally {
    const held = leases.held().length;
    await leases.releaseAll();
    if (held > 0) emit({ type: 'lease', message: `released ${held} leases` });
  }
}
