import { isAloftError } from '../lib/errors.ts';
import { instanceId, machineId } from '../lib/ids.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { isTerminal, machineEvent, type Machine, type MachineState } from '../model/index.ts';
import { rttBetween, type RegionRttTable } from '../proxy/balance/region-rtt.ts';
import { allocateAddresses } from '../scheduler/addresses.ts';
import { guestDemand, spread, type Scheduler } from '../scheduler/index.ts';
import type { HostRecord } from '../store/host-store.ts';
import type { Store } from '../store/store.ts';

export interface ReplaceDeps {
  store: Store;
  scheduler: Scheduler;
  /** Region RTTs (ms) for choosing the nearest region when the Machine's own has no room. */
  rtt?: RegionRttTable;
  now?: () => number;
  log?: Logger;
}

/** States in which a Machine was meant to be running: its replacement is started. */
const RUNNING: readonly MachineState[] = ['started', 'starting', 'restarting', 'updating'];

/**
 * Whether a Machine on a down host is re-placed elsewhere: not when its restart policy
 * is `no` (the user asked that it not come back by itself), nor when it mounts a
 * volume (the data stays on that host; it waits for the host to return).
 */
export function replacementRefusal(machine: Machine): string | undefined {
  if (machine.config.restart?.policy === 'no') return "its restart policy is 'no'";
  if ((machine.config.mounts ?? []).length > 0) return 'it mounts a volume, which stays on its host';
  return undefined;
}

/** `region` first, then every other region with a host, nearest first by the RTT table. */
export function regionsByDistance(region: string, regions: readonly string[], rtt: RegionRttTable): string[] {
  const others = regions.filter((r) => r !== region);
  others.sort((a, b) => rttBetween(rtt, region, a) - rttBetween(rtt, region, b));
  return [region, ...others];
}

export interface ReplaceOutcome {
  machineId: string;
  /** The replacement's id and host, when one was made. */
  replacement?: { id: string; hostId: string };
  /** Why it was left where it is. */
  skipped?: string;
}

/**
 * Moves `machine` off its down host: places a replacement through the scheduler (its
 * region first, else the nearest with room), then marks the old one `migrated` with an
 * event that says why and where to, then creates the replacement (same name, config and
 * image; new id and addresses on its new host) and asks for its start when the old one
 * was meant to run. Placement comes first, so a Machine that fits nowhere is left as it
 * was (CAPACITY_EXHAUSTED is logged, and the next sweep tries again).
 */
export async function replaceMachine(deps: ReplaceDeps, machine: Machine, down: HostRecord): Promise<ReplaceOutcome> {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const log = (deps.log ?? silentLogger).child({ part: 'replace', machine: machine.id });
  if (isTerminal(machine.state)) return { machineId: machine.id, skipped: `it is ${machine.state}` };
  if (machine.state === 'destroying') {
    // Its host will never finish the destroy; the record may as well say it is done.
    await store.updateMachine(machine.id, { action: 'destroy', patch: { state: 'destroyed' }, expectVersion: machine.version, events: [machineEvent('destroy', 'destroyed', 'flyd', { reason: `host ${down.id} is down` }, now())] });
    return { machineId: machine.id, skipped: 'it was being destroyed' };
  }
  const refusal = replacementRefusal(machine);
  if (refusal !== undefined) return { machineId: machine.id, skipped: refusal };

  const app = await store.getApp(machine.appName);
  if (!app) return { machineId: machine.id, skipped: 'its app is gone' };
  const loads = (await deps.scheduler.loads(store)).filter((l) => l.host.id !== down.id);
  const regions = regionsByDistance(machine.region, [...new Set(loads.map((l) => l.host.region))], deps.rtt ?? {});
  const [host] = spread(loads, { count: 1, demand: guestDemand(machine.config.guest), regions, what: `replacement for machine ${machine.id}` });
  const addresses = await allocateAddresses(store, host!, app.network);
  const at = now();
  const replacement: Machine = {
    id: machineId(),
    name: machine.name,
    appName: machine.appName,
    region: host!.region,
    hostId: host!.id,
    state: 'created',
    instanceId: instanceId(at),
    config: machine.config,
    imageRef: machine.imageRef,
    addresses,
    version: 1,
    createdAt: at,
    updatedAt: at,
  };
  const why = { reason: `host ${down.id} is down (${down.downReason ?? 'missed heartbeats'})`, from_host: down.id, to_host: host!.id, replacement: replacement.id };
  // The old one first: that frees its name for the replacement.
  await store.updateMachine(machine.id, { action: 'migrate', patch: { state: 'migrated' }, expectVersion: machine.version, events: [machineEvent('migrate', 'migrated', 'flyd', why, at)] });
  try {
    await store.createMachine(replacement, [machineEvent('launch', 'created', 'flyd', { reason: why.reason, replaces: machine.id, from_host: down.id }, at)]);
  } catch (err) {
    // Put the old record back so the next sweep tries again, rather than lose the Machine.
    log.error({ err }, 'creating the replacement failed; the machine stays on its down host');
    await store.updateMachine(machine.id, { action: 'migrate', patch: { state: machine.state }, events: [machineEvent('migrate', 'failed', 'flyd', { reason: String(err) }, now())] });
    throw err;
  }
  if (RUNNING.includes(machine.state)) {
    await store.updateMachine(replacement.id, { patch: { state: 'starting' }, expectState: ['created'], events: [machineEvent('start', 'requested', 'flyd', { reason: why.reason }, now())] });
  }
  log.info({ to: replacement.id, host: host!.id }, 'machine re-placed off a down host');
  return { machineId: machine.id, replacement: { id: replacement.id, hostId: host!.id } };
}

/** Re-places every eligible Machine of `down`; one that fails is logged and left for the next sweep. */
export async function replaceHostMachines(deps: ReplaceDeps, down: HostRecord): Promise<ReplaceOutcome[]> {
  const log = (deps.log ?? silentLogger).child({ part: 'replace', host: down.id });
  const outcomes: ReplaceOutcome[] = [];
  for (const machine of await deps.store.listMachines({ hostId: down.id })) {
    try {
      outcomes.push(await replaceMachine(deps, machine, down));
    } catch (err) {
      if (isAloftError(err, 'STORE_CONFLICT') || isAloftError(err, 'ILLEGAL_TRANSITION')) {
        // Someone changed it as we looked: the next sweep reads it afresh.
        log.info({ err, machine: machine.id }, 're-placement raced a change; will retry');
      } else {
        log.error({ err, machine: machine.id }, 're-placing a machine failed');
      }
      outcomes.push({ machineId: machine.id, skipped: err instanceof Error ? err.message : String(err) });
    }
  }
  return outcomes;
}
