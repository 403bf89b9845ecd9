import { AloftError } from '../lib/errors.ts';
import type { Driver } from '../runtime/driver.ts';
import type { ExecRequest, ExecResult, ProcessInfo } from '../runtime/exec-types.ts';

/** Which Machine, on which host: the API knows both from the store. */
export interface MachineTarget {
  hostId: string;
  machineId: string;
}

/**
 * What the API may ask of a Machine's host directly, for actions that change no state
 * and need an answer now (signal, exec, ps). State changes never come this way: they go
 * through the store as intents for the agent. In the embedded platform this is the local
 * driver; in a cluster it is an RPC to the host's agent, with the same interface.
 */
export interface HostControl {
  signal(target: MachineTarget, signal: string): Promise<void>;
  exec(target: MachineTarget, request: ExecRequest): Promise<ExecResult>;
  ps(target: MachineTarget): Promise<ProcessInfo[]>;
}

/** HostControl for the one host of the embedded platform: its driver, in process. */
export class LocalHostControl implements HostControl {
  readonly #hostId: string;
  readonly #driver: Pick<Driver, 'signal' | 'exec' | 'ps'>;

  constructor(hostId: string, driver: Pick<Driver, 'signal' | 'exec' | 'ps'>) {
    this.#hostId = hostId;
    this.#driver = driver;
  }

  signal(target: MachineTarget, signal: string): Promise<void> {
    return this.#local(target, 'signal').signal(target.machineId, signal);
  }

  exec(target: MachineTarget, request: ExecRequest): Promise<ExecResult> {
    return this.#local(target, 'exec in').exec(target.machineId, request);
  }

  ps(target: MachineTarget): Promise<ProcessInfo[]> {
    return this.#local(target, 'list processes of').ps(target.machineId);
  }

  #local(target: MachineTarget, action: string): Pick<Driver, 'signal' | 'exec' | 'ps'> {
    if (target.hostId !== this.#hostId) {
      throw new AloftError(
        'HOST_UNAVAILABLE',
        `Cannot ${action} machine ${target.machineId} as its host must be this one (${this.#hostId}): got ${target.hostId}`,
      );
    }
    return this.#driver;
  }
}
