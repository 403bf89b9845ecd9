import type { HostControl } from '../agent/host-control.ts';
import { isAloftError } from '../lib/errors.ts';
import type { MachineOps } from '../api/machine-ops.ts';
import type { Machine, MachineConfig, MachineState } from '../model/index.ts';
import type { Store } from '../store/store.ts';
import type { HealthOutcome } from './health-gate.ts';
import { DEPLOY_LEASE_TTL_S, type DeployLeases } from './leases.ts';
import { waitForMachine } from './wait-machine.ts';

/** States a Machine rests in; an update waits for one of them. */
const AT_REST: readonly MachineState[] = ['created', 'started', 'stopped', 'suspended', 'failed'];
/** How a start ends: running, or not. */
const START_ENDS: readonly MachineState[] = ['started', 'stopped', 'failed', 'destroyed'];
/** How often an update that raced the agent is tried. */
const UPDATE_ATTEMPTS = 5;

/**
 * A deploy's hands on one app's Machines: the same MachineOps the API uses (so the
 * agents do the work, and every change is an intent with its event), plus waiting on
 * the store for the result and reading a Machine's last log lines from its host.
 */
export class Fleet {
  readonly #store: Store;
  readonly #ops: MachineOps;
  readonly #hostControl: HostControl | undefined;
  readonly #leases: DeployLeases;
  readonly #signal: AbortSignal | undefined;
  readonly appName: string;

  constructor(deps: { store: Store; ops: MachineOps; hostControl?: HostControl | undefined; leases: DeployLeases; appName: string; signal?: AbortSignal | undefined }) {
    this.#store = deps.store;
    this.#ops = deps.ops;
    this.#hostControl = deps.hostControl;
    this.#leases = deps.leases;
    this.#signal = deps.signal;
    this.appName = deps.appName;
  }

  /** The app's live Machines. */
  list(): Promise<Machine[]> {
    return this.#store.listMachines({ appName: this.appName });
  }

  /** Creates and starts a Machine, leased to this deploy from its first moment. */
  async create(config: MachineConfig, region: string | undefined): Promise<Machine> {
    const created = await this.#ops.create(this.appName, { config, ...(region ? { region } : {}), lease_ttl: DEPLOY_LEASE_TTL_S }, this.#leases.owner);
    if (created.nonce) this.#leases.adopt(created.id, created.nonce);
    const { nonce: _, ...machine } = created;
    return machine;
  }

  /**
   * Gives the Machine its new config; answers the updated Machine and whether it was
   * (re)started on it. A started, created or failed Machine is, and so is one stopped by
   * a crash; one stopped on purpose (by a user, or autostop) or suspended takes the
   * config without starting, as flyctl does. A Machine mid-transition is first waited
   * on until it rests; an update that races the agent's own write is tried again.
   */
  async update(machine: Machine, config: MachineConfig, timeoutMs: number): Promise<{ machine: Machine; launched: boolean }> {
    for (let attempt = 1; ; attempt++) {
      const now = (await this.#store.getMachine(machine.id)) ?? machine;
      const current = AT_REST.includes(now.state) ? now : ((await waitForMachine(this.#store, machine.id, (m) => !m || AT_REST.includes(m.state), { timeoutMs, signal: this.#signal })) ?? now);
      const launched = current.state === 'started' || current.state === 'created' || current.state === 'failed' || (current.state === 'stopped' && (await this.#crashed(current.id)));
      try {
        const updated = await this.#ops.update(this.appName, machine.id, { config, ...(launched ? {} : { skip_launch: true }) });
        return { machine: updated, launched };
      } catch (err) {
        const raced = isAloftError(err, 'STORE_CONFLICT') || isAloftError(err, 'ILLEGAL_TRANSITION');
        if (!raced || attempt >= UPDATE_ATTEMPTS || this.#signal?.aborted) throw err;
      }
    }
  }

  /** True when the Machine's last exit was not asked for (it crashed, or ran out of restarts). */
  async #crashed(machineId: string): Promise<boolean> {
    const exit = (await this.#store.listEvents(machineId, { limit: 20 })).find((e) => e.type === 'exit');
    const event = exit?.request?.['exit_event'] as { requested_stop?: unknown } | undefined;
    return event !== undefined && event.requested_stop === false;
  }

  /**
   * Waits until the Machine's instance `instanceId` is started: undefined then, else how
   * it ended — `exited` when it stopped or failed first, `timeout` after `timeoutMs`.
   */
  async waitStarted(machineId: string, instanceId: string, timeoutMs: number): Promise<HealthOutcome | undefined> {
    const machine = await waitForMachine(this.#store, machineId, (m) => !m || (m.instanceId === instanceId && START_ENDS.includes(m.state)), { timeoutMs, signal: this.#signal });
    if (!machine) {
      const now = await this.#store.getMachine(machineId);
      if (!now || now.state === 'destroyed') return { outcome: 'exited', state: 'destroyed', exitCode: null };
      return { outcome: 'timeout', checks: [] };
    }
    if (machine.state === 'started') return undefined;
    return { outcome: 'exited', state: machine.state, exitCode: await this.exitCode(machineId), ...(await this.#failure(machineId)) };
  }

  /** Waits until the Machine has stopped (or gone); true when it did within `timeoutMs`. */
  async waitStopped(machineId: string, timeoutMs: number): Promise<Machine | undefined> {
    return waitForMachine(this.#store, machineId, (m) => !m || m.state === 'stopped' || m.state === 'failed' || m.state === 'destroyed', { timeoutMs, signal: this.#signal });
  }

  /** The exit code of the Machine's last exit, from its events; null when it has none. */
  async exitCode(machineId: string): Promise<number | null> {
    const exit = (await this.#store.listEvents(machineId, { limit: 20 })).find((e) => e.type === 'exit');
    const code = (exit?.request?.['exit_event'] as { exit_code?: unknown } | undefined)?.exit_code;
    return typeof code === 'number' ? code : null;
  }

  /** Keeps new proxy traffic away from the Machine (the blue side of a bluegreen switch). */
  cordon(machine: Machine): Promise<void> {
    return this.#ops.cordon(this.appName, machine.id, true);
  }

  /**
   * Stops the Machine (its stop signal, then its kill timeout), then destroys it, and
   * waits until it is destroyed. A Machine already stopped or failed is destroyed at once.
   */
  async retire(machine: Machine, timeoutMs: number): Promise<void> {
    const now = (await this.#store.getMachine(machine.id)) ?? machine;
    if (now.state === 'destroyed' || now.state === 'destroying') return this.#waitDestroyed(machine.id, timeoutMs);
    if (now.state === 'started' || now.state === 'starting' || now.state === 'suspended') {
      await this.#ops.stop(this.appName, machine.id, {});
      await this.waitStopped(machine.id, timeoutMs);
    }
    await this.destroy(machine, timeoutMs);
  }

  /** Destroys the Machine (forced: it may be running) and waits until it is destroyed. */
  async destroy(machine: Machine, timeoutMs: number): Promise<void> {
    const now = await this.#store.getMachine(machine.id);
    if (now && now.state !== 'destroyed' && now.state !== 'destroying') await this.#ops.destroy(this.appName, machine.id, true);
    await this.#waitDestroyed(machine.id, timeoutMs);
    this.#leases.forget(machine.id);
  }

  /**
   * The Machine's last `n` output lines as its host keeps them, only those read since
   * `sinceMs` (the host keeps earlier runs' lines too; a failed run's own are what
   * helps); empty when they cannot be read.
   */
  async logTail(machine: Pick<Machine, 'id' | 'hostId'>, n: number, sinceMs = 0): Promise<string[]> {
    if (!this.#hostControl) return [];
    const lines: string[] = [];
    try {
      for await (const line of this.#hostControl.logs({ hostId: machine.hostId, machineId: machine.id }, {})) {
        if (Date.parse(line.timestamp) >= sinceMs) lines.push(line.message);
      }
    } catch {
      // The logs are shown to help; a host that cannot answer must not hide the real failure.
    }
    return lines.slice(-n);
  }

  async #waitDestroyed(machineId: string, timeoutMs: number): Promise<void> {
    await waitForMachine(this.#store, machineId, (m) => !m || m.state === 'destroyed', { timeoutMs, signal: this.#signal });
  }

  /** What the agent recorded when a start failed (its error), for the message. */
  async #failure(machineId: string): Promise<{ reason?: string }> {
    const failed = (await this.#store.listEvents(machineId, { limit: 10 })).find((e) => e.status === 'failed');
    const error = failed?.request?.['error'];
    return typeof error === 'string' ? { reason: error } : {};
  }
}
