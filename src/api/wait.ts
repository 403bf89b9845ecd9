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

/** Resting states a Machine leaves only on a new request: a wait for another state ends there. */
const DEAD_ENDS: readonly MachineState[] = ['failed', 'destroyed'];

/**
 * Resolves when the Machine reaches `state`, by subscribing to the store's changes (never
 * by polling). The watch starts before the current state is read, so a transition that
 * happens in between is not missed. A Machine that vanished counts as destroyed. One that
 * comes to rest in `failed` or `destroyed` (of the version waited for) while another state
 * is wanted ends the wait at once with WAIT_UNREACHABLE, instead of at the timeout.
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
    const deadEnd = (machine: Machine | undefined): MachineState | undefined => {
      const state = machine?.state ?? 'destroyed';
      if (state === request.state || !DEAD_ENDS.includes(state)) return undefined;
      if (machine !== undefined && request.instanceId !== undefined && machine.instanceId !== request.instanceId) return undefined;
      return state;
    };
    const settle = (machine: Machine | undefined): void => {
      if (matches(machine)) return finish(() => resolve(machine));
      const rest = deadEnd(machine);
      if (rest === undefined) return;
      finish(() =>
        reject(
          new AloftError('WAIT_UNREACHABLE', `Cannot wait for machine ${request.machineId} to be ${request.state} as it must not come to rest first: got ${rest}`, {
            details: { machine: request.machineId, state: rest },
          }),
        ),
      );
    };
    const unwatch = store.watch((change) => {
      if (change.kind !== 'machine' || change.key !== request.machineId) return;
      settle(change.op === 'put' ? change.machine : undefined);
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
      (machine) => settle(machine),
      (err: unknown) => finish(() => reject(err)),
    );
  });
}
