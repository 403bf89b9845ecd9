import { machineEvent, type Machine } from '../model/index.ts';
import type { Store } from '../store/store.ts';
import type { MachineSecrets } from './machine-secrets.ts';

/** What the fake agent did for one boot. */
export interface FakeBoot {
  id: string;
  instanceId: string;
  env: Record<string, string>;
}

/**
 * Plays the host's agent for rollout tests, through the store as the real one does: a
 * Machine put in `updating` or `starting` is booted (its env read from `secrets`, as
 * machineEnv would get it) and recorded `started`, or `failed` when `fail` says so.
 */
export class FakeAgent {
  readonly boots: FakeBoot[] = [];
  /** Machines in `updating` right now: a rollout must never have two. */
  maxConcurrent = 0;
  #updating = new Set<string>();
  readonly #stop: () => void;

  constructor(
    readonly store: Store,
    readonly options: { secrets?: MachineSecrets; fail?: (machine: Machine) => boolean } = {},
  ) {
    this.#stop = store.watch((change) => {
      if (change.kind !== 'machine' || change.op !== 'put') return;
      const machine = change.machine;
      if (machine.state !== 'updating' && machine.state !== 'starting') return;
      this.#updating.add(machine.id);
      this.maxConcurrent = Math.max(this.maxConcurrent, this.#updating.size);
      // After the write that caused it has resolved, as a real agent's reconcile would be.
      setImmediate(() => void this.#boot(machine));
    });
  }

  async #boot(machine: Machine): Promise<void> {
    const env = (await this.options.secrets?.envFor(machine)) ?? {};
    const failed = this.options.fail?.(machine) === true;
    if (!failed) this.boots.push({ id: machine.id, instanceId: machine.instanceId, env });
    this.#updating.delete(machine.id);
    await this.store.updateMachine(machine.id, {
      patch: { state: failed ? 'failed' : 'started' },
      expectState: [machine.state],
      events: [machineEvent('start', failed ? 'failed' : 'started', 'flyd', failed ? { error: 'exit code 3: missing DATABASE_URL' } : undefined)],
    });
  }

  stop(): void {
    this.#stop();
  }
}
