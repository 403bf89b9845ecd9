import { AloftError, isAloftError } from '../lib/errors.ts';
import { instanceId, shortId } from '../lib/ids.ts';
import { machineEvent, type Machine, type MachineState } from '../model/index.ts';
import type { Store } from '../store/store.ts';

/**
 * How new secrets reach an app's running Machines. The API calls it after a write that
 * is not staged, and for `aloft secrets deploy`. A seam: the deploy engine can take its
 * place (health-gated, its strategies) without the secrets code changing.
 */
export interface SecretsRollout {
  /** Restarts the app's started Machines so that they boot with its current secrets. */
  rollout(appName: string): Promise<RolloutResult>;
}

export interface RolloutResult {
  /** The Machines restarted, in order, each with the version it now runs. */
  machines: { id: string; instanceId: string }[];
}

export interface RestartRolloutOptions {
  /** Longest wait for one Machine to be started again (default 120 s). */
  timeoutMs?: number;
  now?: () => number;
}

/** States that end a Machine's restart without it running: the rollout stops there. */
const GAVE_UP: readonly MachineState[] = ['failed', 'stopped', 'destroyed', 'destroying', 'suspended'];

/**
 * The simple rollout: one started Machine at a time, updated to a new version with the
 * same config (the agent stops it and boots the new version, whose environment it
 * builds with the secrets as they are now), then waited for until it is started again
 * before the next. The first Machine that does not come back stops the rollout with
 * SECRETS_DEPLOY_FAILED; the ones after it are left untouched. Each Machine is leased
 * while it restarts, so a deploy holding one makes the rollout stop instead of racing it.
 */
export class RestartRollout implements SecretsRollout {
  readonly #store: Store;
  readonly #timeoutMs: number;
  readonly #now: () => number;

  constructor(store: Store, options: RestartRolloutOptions = {}) {
    this.#store = store;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#now = options.now ?? Date.now;
  }

  async rollout(appName: string): Promise<RolloutResult> {
    const machines = (await this.#store.listMachines({ appName })).filter((m) => m.state === 'started');
    const done: RolloutResult['machines'] = [];
    for (const listed of machines) {
      const machine = await this.#store.getMachine(listed.id);
      // Stopped (or gone) since the list: it boots with the new secrets whenever it starts.
      if (machine?.state !== 'started') continue;
      done.push({ id: machine.id, instanceId: await this.#restart(machine, done.length, machines.length) });
    }
    return { machines: done };
  }

  async #restart(machine: Machine, index: number, total: number): Promise<string> {
    const where = `machine ${machine.id} (${index + 1} of ${total}) of app "${machine.appName}"`;
    const lease = await this.#store
      .acquireLease({ machineId: machine.id, newNonce: shortId(16), owner: 'aloft-secrets', description: 'restart to apply secrets', ttlMs: this.#timeoutMs + 30_000, now: this.#now() })
      .catch((err: unknown) => {
        if (!isAloftError(err, 'MACHINE_LEASED')) throw err;
        const { owner, expiresAt } = err.details ?? {};
        const until = typeof expiresAt === 'number' ? ` until ${new Date(expiresAt).toISOString()}` : '';
        throw new AloftError(
          'MACHINE_LEASED',
          `Cannot restart ${where} to apply secrets as it must not be leased by another holder: got a lease held by ${String(owner ?? 'someone else')}${until}. The secrets stay staged; run 'aloft secrets deploy' once it is free`,
          { cause: err, details: { machineId: machine.id, owner } },
        );
      });
    try {
      const next = instanceId(this.#now());
      const settled = this.#waitForRestart(machine.id, next);
      await this.#store
        .updateMachine(machine.id, {
          action: 'restart',
          patch: { instanceId: next, state: 'updating' },
          expectState: ['started'],
          expectVersion: machine.version,
          events: [machineEvent('update', 'requested', 'user', { instance_id: next, replaces: machine.instanceId, restart: true, reason: 'secrets' })],
        })
        .catch((err: unknown) => {
          settled.cancel();
          throw err;
        });
      const outcome = await settled.promise;
      if (outcome.state !== 'started') {
        const why = await this.#lastError(machine.id);
        throw new AloftError(
          'SECRETS_DEPLOY_FAILED',
          `Cannot apply secrets to app "${machine.appName}" as ${where} must be started again after its restart: got ${outcome.state}${why ? ` (${why})` : ''}. The secrets stay staged and the Machines after it were not restarted; fix it and run 'aloft secrets deploy'`,
          { details: { machineId: machine.id, state: outcome.state } },
        );
      }
      return next;
    } finally {
      await this.#store.releaseLease(machine.id, lease.nonce, this.#now()).catch(() => undefined);
    }
  }

  /**
   * Resolves with the Machine's state once its version `next` is started or has given up,
   * from the store's watch (started before the write, so nothing is missed). A timeout
   * resolves as `timed out`.
   */
  #waitForRestart(id: string, next: string): { promise: Promise<{ state: string }>; cancel(): void } {
    let finish: (state: string) => void = () => undefined;
    let settled = false;
    const promise = new Promise<{ state: string }>((resolve) => {
      finish = (state) => {
        if (settled) return;
        settled = true;
        unwatch();
        clearTimeout(timer);
        resolve({ state });
      };
      const unwatch = this.#store.watch((change) => {
        if (change.kind !== 'machine' || change.key !== id) return;
        if (change.op === 'delete') return finish('destroyed');
        const { state, instanceId: current } = change.machine;
        if (current !== next) return;
        if (state === 'started' || GAVE_UP.includes(state)) finish(state);
      });
      const timer = setTimeout(() => finish(`still not started after ${this.#timeoutMs / 1000}s`), this.#timeoutMs);
    });
    return { promise, cancel: () => finish('cancelled') };
  }

  /** The error the agent recorded last for the Machine, if any. */
  async #lastError(id: string): Promise<string | undefined> {
    const events = await this.#store.listEvents(id, { limit: 5 }).catch(() => []);
    const error = events.map((e) => e.request?.['error']).find((e) => typeof e === 'string');
    return typeof error === 'string' ? error : undefined;
  }
}
