import { AloftError } from '../lib/errors.ts';
import type { Driver, DriverStatus, ExitStatus, RunSpec, SuspendOutcome } from './driver.ts';
import type { ExecRequest, ExecResult, ProcessInfo } from './exec-types.ts';

/**
 * Several drivers on one host behind the one `Driver` interface, so the agent stays
 * unaware of which runs a Machine: `start` picks by `spec.driver` (else the default);
 * every other call goes to the driver that holds the Machine.
 *
 * Which driver holds a Machine is remembered from `start`, and after an agent restart
 * found by asking each driver (`status`), since Machines outlive the agent. A driver
 * that is not installed does not stop the host: `check` requires only the default, and
 * a Machine that asks for a missing one fails its start with RUNTIME_MISSING.
 */
export class DriverSet implements Driver {
  readonly name: string;
  readonly #drivers: ReadonlyMap<string, Driver>;
  readonly #defaultName: string;
  /** Machine id → the name of the driver holding it. */
  readonly #holder = new Map<string, string>();
  /** Drivers whose `check` passed (others are tried again on the next start). */
  readonly #ready = new Set<string>();

  /** `drivers` by kind, e.g. `{ oci: …, microvm: … }`; `defaultName` must be one of them. */
  constructor(drivers: Record<string, Driver>, defaultName: string) {
    if (!(defaultName in drivers)) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot build the host's drivers as 'default' must be one of ${Object.keys(drivers).join(', ')}: got ${defaultName}`);
    }
    this.#drivers = new Map(Object.entries(drivers));
    this.#defaultName = defaultName;
    this.name = Object.keys(drivers).join('+');
  }

  /** The kinds this host offers, default first. */
  get kinds(): string[] {
    return [this.#defaultName, ...[...this.#drivers.keys()].filter((k) => k !== this.#defaultName)];
  }

  /** The default driver must work; the others are checked when a Machine first asks. */
  async check(): Promise<void> {
    await this.#driver(this.#defaultName).check();
    this.#ready.add(this.#defaultName);
  }

  async start(spec: RunSpec): Promise<void> {
    const kind = spec.driver ?? this.#defaultName;
    const driver = this.#drivers.get(kind);
    if (!driver) {
      throw new AloftError(
        'INVALID_ARGUMENT',
        `Cannot start machine ${spec.machineId} as 'config.guest.driver' must be one this host offers (${this.kinds.join(', ')}): got ${kind}`,
      );
    }
    if (!this.#ready.has(kind)) {
      await driver.check();
      this.#ready.add(kind);
    }
    this.#holder.set(spec.machineId, kind);
    await driver.start(spec);
  }

  async wait(machineId: string): Promise<ExitStatus> {
    return (await this.#holding(machineId)).wait(machineId);
  }

  async signal(machineId: string, signal: string): Promise<void> {
    await (await this.#holding(machineId)).signal(machineId, signal);
  }

  async stop(machineId: string, options: { signal: string; timeoutMs: number }): Promise<ExitStatus> {
    return (await this.#holding(machineId)).stop(machineId, options);
  }

  async status(machineId: string): Promise<DriverStatus> {
    return (await this.#holding(machineId)).status(machineId);
  }

  async remove(machineId: string): Promise<void> {
    await (await this.#holding(machineId)).remove(machineId);
    this.#holder.delete(machineId);
  }

  async list(): Promise<string[]> {
    const ids = new Set<string>();
    for (const [kind, driver] of this.#drivers) {
      if (!(await this.#usable(kind, driver))) continue;
      for (const id of await driver.list()) {
        ids.add(id);
        this.#holder.set(id, kind);
      }
    }
    return [...ids];
  }

  async pause(machineId: string): Promise<void> {
    await (await this.#holding(machineId)).pause(machineId);
  }

  async resume(machineId: string): Promise<void> {
    await (await this.#holding(machineId)).resume(machineId);
  }

  /** The holder's own suspend (e.g. a checkpoint), else a freeze that says why. */
  async suspend(machineId: string): Promise<SuspendOutcome> {
    const driver = await this.#holding(machineId);
    if (driver.suspend) return driver.suspend(machineId);
    await driver.pause(machineId);
    return { how: 'paused', reason: `the ${driver.name} driver suspends by freezing` };
  }

  async restoreFromSuspend(machineId: string): Promise<void> {
    const driver = await this.#holding(machineId);
    if (!driver.restoreFromSuspend) {
      throw new AloftError('RUNTIME_FAILED', `Cannot restore machine ${machineId} as its driver ${driver.name} has no saved images`);
    }
    await driver.restoreFromSuspend(machineId);
  }

  async exec(machineId: string, request: ExecRequest): Promise<ExecResult> {
    return (await this.#holding(machineId)).exec(machineId, request);
  }

  async ps(machineId: string): Promise<ProcessInfo[]> {
    return (await this.#holding(machineId)).ps(machineId);
  }

  #driver(kind: string): Driver {
    const driver = this.#drivers.get(kind);
    if (!driver) throw new AloftError('RUNTIME_FAILED', `Cannot find driver ${kind} on this host`);
    return driver;
  }

  /**
   * The driver holding `machineId`. Unknown ids (after an agent restart) are looked up
   * in every usable driver; an id no driver knows goes to the default, which answers
   * `absent` and treats stop/remove of it as done.
   */
  async #holding(machineId: string): Promise<Driver> {
    const known = this.#holder.get(machineId);
    if (known) return this.#driver(known);
    for (const [kind, driver] of this.#drivers) {
      if (!(await this.#usable(kind, driver))) continue;
      if ((await driver.status(machineId)) !== 'absent') {
        this.#holder.set(machineId, kind);
        return driver;
      }
    }
    return this.#driver(this.#defaultName);
  }

  /** Whether a driver can be asked about Machines: its check passed, now or before. */
  async #usable(kind: string, driver: Driver): Promise<boolean> {
    if (this.#ready.has(kind)) return true;
    try {
      await driver.check();
      this.#ready.add(kind);
      return true;
    } catch {
      return false;
    }
  }
}
