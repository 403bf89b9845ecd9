import { AloftError } from '../lib/errors.ts';
import { systemClock } from '../lib/clock.ts';
import type { Machine, MachineGuest, MachineState } from '../model/index.ts';
import { describeAmount, guestDemand, type Resources } from '../scheduler/index.ts';
import type { Store } from '../store/store.ts';
import type { MachineOpsDeps } from './machine-ops.ts';
import { updateMachine } from './machine-update.ts';
import { takeLease } from './leases/take-lease.ts';
import { nextGuest } from './scale-plan.ts';

export interface GuestChange {
  size?: string | undefined;
  memoryMb?: number | undefined;
}

/** One Machine's guest before (its config) and after the change. */
export interface GuestPlan {
  machine: Machine;
  guest: MachineGuest;
  changed: boolean;
}

/** A resized Machine restarts; these are the states an update is taken in (machine-update.ts). */
const AT_REST: readonly MachineState[] = ['created', 'started', 'stopped', 'suspended', 'failed'];
const RUNNING: readonly MachineState[] = ['started', 'suspended'];

/**
 * Plans `scale vm` / `scale memory` for a group, checking everything before the first
 * write: the new guest of each Machine (Fly's memory rules), that each is at rest, that
 * each host has room for what its Machines grow by, and that each image tag still
 * names the digest the Machine runs (a resize must not change the image).
 */
export async function planGuests(deps: MachineOpsDeps, members: readonly Machine[], change: GuestChange, action: string): Promise<GuestPlan[]> {
  if (members.length === 0) {
    throw new AloftError('INVALID_ARGUMENT', `Cannot ${action} as 'process_group' must name a group with machines: got one with none`, { details: { field: 'process_group' } });
  }
  const plan = members.map((machine) => {
    const guest = nextGuest(machine.config.guest, change, action);
    return { machine, guest, changed: JSON.stringify(guest) !== JSON.stringify(machine.config.guest ?? {}) };
  });
  for (const { machine } of plan.filter((p) => p.changed)) {
    if (!AT_REST.includes(machine.state)) {
      throw new AloftError('ILLEGAL_TRANSITION', `Cannot ${action} as machine ${machine.id} must be at rest (${AT_REST.join(', ')}): got ${machine.state}; retry when it settles`);
    }
    const image = await deps.images.resolve(machine.config.image);
    if (image.digest !== machine.imageRef.digest) {
      throw new AloftError('SCALE_IMAGE_MOVED', `Cannot ${action} as the image of machine ${machine.id} must still be ${machine.imageRef.digest}: got "${machine.config.image}" now naming ${image.digest}; deploy first`, {
        details: { machineId: machine.id },
      });
    }
  }
  await requireRoom(deps, plan, action);
  return plan;
}

/** Each host must have free what its Machines grow by (shrinking frees room, counted too). */
async function requireRoom(deps: MachineOpsDeps, plan: readonly GuestPlan[], action: string): Promise<void> {
  const growth = new Map<string, Resources>();
  for (const { machine, guest } of plan) {
    const [before, after] = [guestDemand(machine.config.guest), guestDemand(guest)];
    const sum = growth.get(machine.hostId) ?? { cpus: 0, memoryMb: 0, diskGb: 0, gpus: 0 };
    growth.set(machine.hostId, { cpus: sum.cpus + after.cpus - before.cpus, memoryMb: sum.memoryMb + after.memoryMb - before.memoryMb, diskGb: 0, gpus: sum.gpus + after.gpus - before.gpus });
  }
  for (const load of await deps.scheduler.loads(deps.store)) {
    const grow = growth.get(load.host.id);
    if (!grow) continue;
    for (const resource of ['cpus', 'memoryMb', 'gpus'] as const) {
      if (grow[resource] > 0 && load.free[resource] + 1e-9 < grow[resource]) {
        throw new AloftError(
          'CAPACITY_EXHAUSTED',
          `Cannot ${action} as host ${load.host.id} in ${load.host.region} must have ${describeAmount(resource, grow[resource])} free for its machines to grow: got ${describeAmount(resource, load.free[resource])} free`,
          { details: { host: load.host.id, region: load.host.region, resource, free: load.free[resource], needed: grow[resource] } },
        );
      }
    }
  }
}

/**
 * The rolling update: every changed Machine leased first (a deploy in progress stops
 * the scale before anything changes), then one at a time: its config updated with the
 * new guest, and a running one waited for until it is started again on the new version
 * before the next is touched. A Machine that fails or does not come back stops the
 * roll; the error says which were updated. Stopped Machines keep resting, resized.
 */
export async function rollGuests(deps: MachineOpsDeps, plan: readonly GuestPlan[], options: { timeoutMs: number; action: string }): Promise<string[]> {
  const { store } = deps;
  const clock = deps.clock ?? systemClock;
  const changed = plan.filter((p) => p.changed);
  const leases = [];
  const done: string[] = [];
  try {
    for (const { machine } of changed) {
      leases.push(await takeLease(store, clock, { machineId: machine.id, ttlSeconds: Math.ceil(options.timeoutMs / 1000) * changed.length + 30, owner: 'aloft scale', description: options.action }));
    }
    for (const { machine, guest } of changed) {
      const current = (await store.getMachine(machine.id)) ?? machine;
      const running = RUNNING.includes(current.state);
      try {
        const updated = await updateMachine(deps, current, { config: { ...current.config, guest }, skip_launch: !running });
        if (running) await startedAgain(store, updated, options.timeoutMs);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        throw new AloftError(err instanceof AloftError ? err.code : 'INTERNAL', `${message}; ${options.action} stopped after updating ${done.length} of ${changed.length} machines${done.length ? ` (${done.join(', ')})` : ''}, the rest unchanged`, { cause: err });
      }
      done.push(machine.id);
    }
  } finally {
    for (const lease of leases) await store.releaseLease(lease.machineId, lease.nonce, clock.now()).catch(() => undefined);
  }
  return done;
}

/** Resolves when the Machine is started on `machine.instanceId`; rejects at once if it fails or stops instead, or at the timeout. */
function startedAgain(store: Store, machine: Machine, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error?: AloftError): void => {
      if (settled) return;
      settled = true;
      unwatch();
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    const check = (m: Machine | undefined): void => {
      if (!m) return finish(new AloftError('ILLEGAL_TRANSITION', `Cannot resize machine ${machine.id} as it must come back started: got it removed`));
      if (m.instanceId !== machine.instanceId) return;
      if (m.state === 'started') finish();
      else if (m.state === 'failed' || m.state === 'stopped' || m.state === 'destroyed') {
        finish(new AloftError('ILLEGAL_TRANSITION', `Cannot resize machine ${machine.id} as it must come back started with its new size: got ${m.state}`));
      }
    };
    const unwatch = store.watch((change) => {
      if (change.kind === 'machine' && change.key === machine.id) check(change.op === 'put' ? change.machine : undefined);
    });
    const timer = setTimeout(
      () => finish(new AloftError('WAIT_TIMEOUT', `Cannot resize machine ${machine.id} as it must be started again within ${timeoutMs / 1000}s: it was not`)),
      timeoutMs,
    );
    store.getMachine(machine.id).then(check, (err: unknown) => finish(new AloftError('STORE_FAILED', String(err))));
  });
}
