import { AloftError } from '../lib/errors.ts';
import type { Driver } from '../runtime/driver.ts';
import type { ExecRequest, ExecResult, ProcessInfo } from '../runtime/exec-types.ts';
import type { LogReadOptions, MachineLogLine, MachineLogs } from './logs/index.ts';

/** Which Machine, on which host: the API knows both from the store. */
export interface MachineTarget {
  hostId: string;
  machineId: string;
}

/**
 * What the API may ask of a Machine's host directly, for actions that change no state
 * and need an answer now (signal, exec, ps, logs). State changes never come this way: they go
 * through the store as intents for the agent. In the embedded platform this is the local
 * driver; in a cluster it is an RPC to the host's agent, with the same interface.
 */
export interface HostControl {
  signal(target: MachineTarget, signal: string): Promise<void>;
  exec(target: MachineTarget, request: ExecRequest): Promise<ExecResult>;
  ps(target: MachineTarget): Promise<ProcessInfo[]>;
  /**
   * The Machine's output: its last `tail` lines kept by the host (all kept when absent),
   * then with `follow` each new line until `signal` aborts or the Machine is destroyed.
   */
  logs(target: MachineTarget, options: LogReadOptions): AsyncIterable<MachineLogLine>;
}

/** HostControl for the one host of the embedded platform: its driver and its agent's MachineLogs, in process. */
export class LocalHostControl implements HostControl {
  readonly #hostId: string;
  readonly #driver: Pick<Driver, 'signal' | 'exec' | 'ps'>;
  readonly #logs: Pick<MachineLogs, 'lines'>;

  constructor(hostId: string, driver: Pick<Driver, 'signal' | 'exec' | 'ps'>, logs: Pick<MachineLogs, 'lines'>) {
    this.#hostId = hostId;
    this.#driver = driver;
    this.#logs = logs;
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

  logs(target: MachineTarget, options: LogReadOptions): AsyncIterable<MachineLogLine> {
    this.#check(target, 'read the logs of');
    return this.#logs.lines(target.machineId, options);
  }

  #local(target: MachineTarget, action: string): Pick<Driver, 'signal' | 'exec' | 'ps'> {
    this.#check(target, action);
    return this.#driver;
  }

  #check(target: MachineTarget, action: string): void {
    if (target.hostId !== this.#hostId) {
      throw new AloftError(
        'HOST_UNAVAILABLE',
        `Cannot ${action} machine ${target.machineId} as its host must be this one (${this.#hostId}): got ${target.hostId}`,
      );
    }
  }
}
