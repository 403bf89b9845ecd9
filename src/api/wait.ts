import { AloftError } from '../lib/errors.ts';
import type { Machine, MachineState } from '../model/index.ts';
import type { Store } from '../store/store.ts';

export interface WaitRequest {
  machineId: string;
  state: MachineState;
  /** When given, the state must be reached by this version of the Machine. */
  instanceId?: string | undefined;
  timeoutMs: number;
}

/**
 * Resolves when the Machine reaches `state`, by subscribing to the store's changes (never
 * by polling). The watch starts before the current state is read, so a transition that
 * happens in between is not missed. A Machine that vanished counts as destroyed.
 */
export function waitForState(store: Store, request: WaitRequest, signal?: AbortSignal): Promise<Machine | undefined> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const matches = (machine: Machine | undefined): boolean => {
      if (!machine) return request.state === 'destroyed';
      if (request.instanceId !== undefined && machine.instanceId !== request.instanceId) return false;
      return machine.state === request.state;
    };
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      unwatch();
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const unwatch = store.watch((change) => {
      if (change.kind !== 'machine' || change.key !== request.machineId) return;
      const machine = change.op === 'put' ? change.machine : undefined;
      if (matches(machine)) finish(() => resolve(machine));
    });
    const timer = setTimeout(() => {
      finish(() =>
        reject(
          new AloftError(
            'WAIT_TIMEOUT',
            `Cannot wait for machine ${request.machineId} to be ${request.state} as it did not get there within ${request.timeoutMs / 1000}s`,
          ),
        ),
      );
    }, request.timeoutMs);
    const onAbort = (): void => finish(() => reject(new AloftError('INTERNAL', 'wait aborted: the client went away')));
    signal?.addEventListener('abort', onAbort, { once: true });
    store.getMachine(request.machineId).then(
      (machine) => {
        if (matches(machine)) finish(() => resolve(machine));
      },
      (err: unknown) => finish(() => reject(err)),
    );
  });
}
