import { z } from 'zod';
import { AloftError, isAloftError } from '../lib/errors.ts';
import { instanceId, isMachineId, machineId, machineName } from '../lib/ids.ts';
import { isTerminal, machineConfigSchema, machineEvent, type App, type Machine, type MachineState } from '../model/index.ts';
import type { Store } from '../store/store.ts';
import type { ResolvedImage } from '../image/types.ts';
import type { Scheduler } from '../scheduler/index.ts';
import { allocateAddresses } from '../scheduler/addresses.ts';
import { parseInput } from './validate.ts';
import { attachMounts, planMounts } from './machine-mounts.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import { takeLease } from './leases/take-lease.ts';
import type { HostControl } from '../agent/host-control.ts';
import { updateMachine } from './machine-update.ts';
import { cordonMachine, execInMachine, listProcesses, restartMachine, signalMachine, suspendMachine, type ExecResponse } from './machine-actions.ts';
import { deleteMetadata, setMetadata } from './machine-metadata.ts';

/** Resolves a user's image reference to a verified image (the image part's ImageStore). */
export interface ImageResolver {
  resolve(ref: string): Promise<ResolvedImage>;
}

export interface MachineOpsDeps {
  store: Store;
  images: ImageResolver;
  scheduler: Scheduler;
  /** Time for leases taken with `lease_ttl` (tests pass a ManualClock). */
  clock?: Clock | undefined;
  /** How signal, exec and ps reach a Machine's host; without it they answer HOST_UNAVAILABLE. */
  hostControl?: HostControl | undefined;
  /** Makes names for Machines created without one (default: machineName). */
  machineNames?: (() => string) | undefined;
}

export const createMachineRequestSchema = z.looseObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63 long').optional(),
  region: z.string().regex(/^[a-z0-9-]{2,32}$/, 'a region code such as "ams" or "local"').optional(),
  config: machineConfigSchema,
  skip_launch: z.boolean().optional(),
  skip_service_registration: z.boolean().optional(),
  lease_ttl: z.number().int().min(0).optional(),
});

/** Fly's `StopRequest`: the signal and timeout that override the stop config once. */
export const stopRequestSchema = z.looseObject({
  signal: z.string().regex(/^SIG[A-Z0-9]+$/, 'a signal name such as "SIGTERM"').optional(),
  timeout: z.union([z.string(), z.number()]).optional(),
});

/** How many generated names a create tries before giving up on a crowded app. */
const NAME_ATTEMPTS = 8;

/** States from which a Machine may be started, stopped or destroyed. */
const STARTABLE: readonly MachineState[] = ['created', 'stopped', 'suspended', 'failed'];
const STOPPABLE: readonly MachineState[] = ['started', 'starting', 'suspended'];
const LIVE: readonly MachineState[] = ['started', 'starting', 'stopping', 'restarting'];

/**
 * The Machines API's behaviour, apart from HTTP. It records intents as Fly's transient
 * states (`starting`, `stopping`, `destroying`); the host's agent watches the store, does
 * the work and writes the resting state. It never touches a runtime itself.
 */
export class MachineOps {
  readonly #deps: MachineOpsDeps;

  constructor(deps: MachineOpsDeps) {
    this.#deps = deps;
  }

  async requireApp(name: string): Promise<App> {
    const app = await this.#deps.store.getApp(name);
    if (!app) throw new AloftError('APP_NOT_FOUND', `Cannot find app "${name}": no app by that name`);
    return app;
  }

  async requireMachine(appName: string, id: string): Promise<Machine> {
    await this.requireApp(appName);
    const machine = isMachineId(id) ? await this.#deps.store.getMachine(id) : undefined;
    if (!machine || machine.appName !== appName) {
      throw new AloftError('MACHINE_NOT_FOUND', `Cannot find machine "${id}" in app "${appName}"`);
    }
    return machine;
  }

  /**
   * Creates a Machine. Everything that can fail on bad input (validation, image
   * resolution, placement) happens before the first write, so a failed create leaves
   * nothing behind.
   */
  async create(appName: string, body: unknown, leaseOwner = 'operator'): Promise<Machine & { nonce?: string }> {
    const request = parseInput(createMachineRequestSchema, body, 'create machine');
    const app = await this.requireApp(appName);
    const image = await this.#deps.images.resolve(request.config.image);
    // A Machine that mounts a volume runs on the volume's host.
    const mounts = await planMounts(this.#deps.store, this.#deps.scheduler, appName, request);
    const host = mounts.host ?? this.#deps.scheduler.place({ region: request.region });
    const { store } = this.#deps;
    const addresses = await allocateAddresses(store, host, app.network);
    const now = Date.now();
    const machine: Machine = {
      id: machineId(),
      name: request.name ?? this.#name(),
      appName,
      region: host.region,
      hostId: host.id,
      state: 'created',
      instanceId: instanceId(now),
      config: request.config,
      imageRef: { registry: image.registry, repository: image.repository, tag: image.tag, digest: image.digest },
      addresses,
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    const created = await this.#insert(machine, request.name === undefined);
    await attachMounts(store, created, mounts);
    // `lease_ttl`: leased before the start intent is written; Fly answers its nonce in `nonce`.
    const lease = request.lease_ttl ? await takeLease(store, this.#deps.clock ?? systemClock, { machineId: created.id, ttlSeconds: request.lease_ttl, owner: leaseOwner }) : undefined;
    const answer = lease ? { ...created, nonce: lease.nonce } : created;
    if (request.skip_launch) return answer;
    await store.updateMachine(created.id, {
      patch: { state: 'starting' },
      expectState: ['created'],
      events: [machineEvent('start', 'requested', 'user')],
    });
    // Fly answers a create with the Machine as it was created.
    return answer;
  }

  /**
   * Inserts the new Machine. A generated name that another live Machine of the app
   * already has is replaced and tried again: the caller asked for no name, so a name
   * clash is ours to solve, never theirs (regression: random names collided after a
   * few thousand Machines in one app).
   */
  #name(): string {
    return (this.#deps.machineNames ?? machineName)();
  }

  async #insert(machine: Machine, nameGenerated: boolean): Promise<Machine> {
    const events = [machineEvent('launch', 'created', 'user', undefined, machine.createdAt)];
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#deps.store.createMachine(machine, events);
      } catch (err) {
        if (!nameGenerated || attempt >= NAME_ATTEMPTS || !isAloftError(err, 'MACHINE_NAME_TAKEN')) throw err;
        machine = { ...machine, name: this.#name() };
      }
    }
  }

  /** Asks the agent to start the Machine. Starting a started one is a no-op. */
  async start(appName: string, id: string): Promise<{ previous_state: MachineState }> {
    const machine = await this.requireMachine(appName, id);
    if (machine.state === 'started' || machine.state === 'starting') return { previous_state: machine.state };
    this.#refuse('start', machine, STARTABLE);
    await this.#deps.store.updateMachine(id, {
      patch: { state: 'starting' },
      expectState: STARTABLE,
      events: [machineEvent('start', 'requested', 'user')],
    });
    return { previous_state: machine.state };
  }

  /** Asks the agent to stop the Machine with its stop config or the given override. */
  async stop(appName: string, id: string, body: unknown): Promise<void> {
    const request = parseInput(stopRequestSchema, body ?? {}, 'stop machine');
    const machine = await this.requireMachine(appName, id);
    this.#refuse('stop', machine, STOPPABLE);
    await this.#deps.store.updateMachine(id, {
      patch: { state: 'stopping' },
      expectState: STOPPABLE,
      events: [machineEvent('stop', 'requested', 'user', { signal: request.signal, timeout: request.timeout })],
    });
  }

  /** Asks the agent to destroy the Machine. A live one needs `force`. */
  async destroy(appName: string, id: string, force: boolean): Promise<void> {
    const machine = await this.requireMachine(appName, id);
    if (machine.state === 'destroying' || isTerminal(machine.state)) {
      throw new AloftError('ILLEGAL_TRANSITION', `Cannot destroy machine ${id} as it is already ${machine.state}`);
    }
    if (LIVE.includes(machine.state) && !force) {
      throw new AloftError(
        'ILLEGAL_TRANSITION',
        `Cannot destroy machine ${id} as its state must be stopped or created unless 'force' is true: got ${machine.state}`,
      );
    }
    await this.#deps.store.updateMachine(id, {
      patch: { state: 'destroying' },
      expectVersion: machine.version,
      events: [machineEvent('destroy', 'requested', 'user', { force })],
    });
  }

  /** Replaces the config (a new version); see machine-update.ts. */
  async update(appName: string, id: string, body: unknown): Promise<Machine> {
    return updateMachine(this.#deps, await this.requireMachine(appName, id), body);
  }

  async restart(appName: string, id: string, query: Record<string, string>): Promise<void> {
    await restartMachine(this.#deps, await this.requireMachine(appName, id), query);
  }

  async suspend(appName: string, id: string): Promise<void> {
    await suspendMachine(this.#deps, await this.requireMachine(appName, id));
  }

  async signal(appName: string, id: string, body: unknown): Promise<void> {
    await signalMachine(this.#deps, await this.requireMachine(appName, id), body);
  }

  async exec(appName: string, id: string, body: unknown): Promise<ExecResponse> {
    return execInMachine(this.#deps, await this.requireMachine(appName, id), body);
  }

  async ps(appName: string, id: string, query: Record<string, string>): Promise<Record<string, unknown>[]> {
    return listProcesses(this.#deps, await this.requireMachine(appName, id), query);
  }

  async cordon(appName: string, id: string, cordoned: boolean): Promise<void> {
    await cordonMachine(this.#deps, await this.requireMachine(appName, id), cordoned);
  }

  async setMetadata(appName: string, id: string, key: string, body: unknown): Promise<void> {
    await setMetadata(this.#deps.store, await this.requireMachine(appName, id), key, body);
  }

  async deleteMetadata(appName: string, id: string, key: string): Promise<void> {
    await deleteMetadata(this.#deps.store, await this.requireMachine(appName, id), key);
  }

  #refuse(action: string, machine: Machine, allowed: readonly MachineState[]): void {
    if (!allowed.includes(machine.state)) {
      throw new AloftError(
        'ILLEGAL_TRANSITION',
        `Cannot ${action} machine ${machine.id} as its state must be one of ${allowed.join(', ')}: got ${machine.state}`,
      );
    }
  }
}
