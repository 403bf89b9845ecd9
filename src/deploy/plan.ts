import { DEFAULT_PROCESS_GROUP, machineConfigsFor, type AppConfig } from '../config/index.ts';
import type { Machine, MachineConfig, MachineGuest } from '../model/index.ts';
import { configSetsGuest, describeGuest, sameSize } from './guest.ts';

/** Metadata keys a deploy writes on the Machines it makes. */
export const PROCESS_GROUP_KEY = 'fly_process_group';
export const RELEASE_KEY = 'aloft_release';
/** A Machine that is not part of the app's process groups: the release command's, or a canary. */
export const ROLE_KEY = 'aloft_role';

/** One existing Machine and the config it gets. */
export interface PlannedUpdate {
  machine: Machine;
  config: MachineConfig;
}

/** A Machine to create, and where. */
export interface PlannedCreate {
  group: string;
  region?: string;
  config: MachineConfig;
}

/** A Machine whose VM size the deploy changes; always shown before it happens (Fly's #1310). */
export interface VmSizeChange {
  machine?: string;
  group: string;
  from: string;
  to: string;
}

export interface GroupPlan {
  group: string;
  /** The group's Machine config for new Machines. */
  config: MachineConfig;
  update: PlannedUpdate[];
  create: PlannedCreate[];
}

/** What a deploy will do, per process group, before it does anything. */
export interface DeployPlan {
  image: string;
  /** The app had no Machines: each group gets one in the primary region. */
  firstDeploy: boolean;
  groups: GroupPlan[];
  /** Machines of groups the config no longer has. */
  destroy: Machine[];
  vmSizeChanges: VmSizeChange[];
}

/** The process group a Machine belongs to ("app" when it has none, as flyctl reads it). */
export function groupOf(machine: Machine): string {
  return machine.config.metadata?.[PROCESS_GROUP_KEY] ?? DEFAULT_PROCESS_GROUP;
}

/** True for Machines a deploy manages: not the release command's or a leftover canary. */
export function isAppMachine(machine: Machine): boolean {
  return machine.config.metadata?.[ROLE_KEY] === undefined;
}

/**
 * Plans a deploy of `image` with `config` over the app's current Machines: per process
 * group, its Machines are updated in place (same id, region and volume); a group with
 * none gets one Machine in `primary_region` (so a first deploy makes one per group);
 * Machines of groups the config dropped are destroyed. The VM size comes from the
 * config's `[[vm]]` when it has one for the group, else stays the Machine's own; every
 * change of size is listed in `vmSizeChanges`.
 */
export function planDeploy(config: AppConfig, image: string, current: readonly Machine[]): DeployPlan {
  const machines = current.filter(isAppMachine);
  const groupConfigs = machineConfigsFor(config, { image });
  const groups = new Set(groupConfigs.map((g) => g.processGroup));
  const vmSizeChanges: VmSizeChange[] = [];
  const plans = groupConfigs.map(({ processGroup: group, config: template }): GroupPlan => {
    const own = machines.filter((m) => groupOf(m) === group);
    const setsGuest = configSetsGuest(config, group);
    const update = own.map((machine): PlannedUpdate => {
      const guest = setsGuest ? keepDriver(template.guest, machine.config.guest) : machine.config.guest;
      if (setsGuest && !sameSize(machine.config.guest, guest)) {
        vmSizeChanges.push({ machine: machine.id, group, from: describeGuest(machine.config.guest), to: describeGuest(guest) });
      }
      return { machine, config: updatedConfig(template, machine, guest) };
    });
    const create: PlannedCreate[] = own.length > 0 ? [] : [{ group, ...(config.primary_region ? { region: config.primary_region } : {}), config: template }];
    return { group, config: template, update, create };
  });
  return {
    image,
    firstDeploy: machines.length === 0,
    groups: plans,
    destroy: machines.filter((m) => !groups.has(groupOf(m))),
    vmSizeChanges,
  };
}

/** The group's config for one existing Machine: its size (unless the config sets one) and its volume kept. */
function updatedConfig(template: MachineConfig, machine: Machine, guest: MachineGuest | undefined): MachineConfig {
  const next: MachineConfig = { ...template };
  if (guest) next.guest = guest;
  else delete next.guest;
  // The Machine keeps the volume it has: the API attached it by name at create, and
  // an update does not re-plan mounts.
  if (template.mounts && machine.config.mounts) next.mounts = machine.config.mounts;
  return next;
}

/** A size from the config keeps the runtime the Machine runs under ([[vm]] cannot name one). */
function keepDriver(guest: MachineGuest | undefined, current: MachineGuest | undefined): MachineGuest | undefined {
  if (!guest || guest.driver !== undefined || current?.driver === undefined) return guest;
  return { ...guest, driver: current.driver };
}

/** Counts for messages: "web: update 2, create 0; worker: update 1…". */
export function describePlan(plan: DeployPlan): string {
  const parts = plan.groups.map((g) => `${g.group}: update ${g.update.length}, create ${g.create.length}`);
  if (plan.destroy.length > 0) parts.push(`destroy ${plan.destroy.length} (groups no longer in the config: ${[...new Set(plan.destroy.map(groupOf))].join(', ')})`);
  return parts.join('; ');
}
