import { AloftError } from '../lib/errors.ts';
import type { Machine } from '../model/index.ts';
import type { Store } from '../store/store.ts';

/**
 * Resolves with the Machine as soon as `done(machine)` says so — checked now and on
 * every change the store publishes for it (no polling) — or with `undefined` when
 * `timeoutMs` passes or `signal` aborts first. A Machine that disappears is passed as
 * undefined to `done` once, so callers can treat it as gone.
 */
export function waitForMachine(
  store: Store,
  machineId: string,
  done: (machine: Machine | undefined) => boolean,
  options: { timeoutMs: number; signal?: AbortSignal | undefined },
): Promise<Machine | undefined> {
  return new Promise((resolve, reject) => {
    let finished = false;
    const finish = (machine: Machine | undefined): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      stop();
      options.signal?.removeEventListener('abort', onAbort);
      resolve(machine);
    };
    const onAbort = (): void => finish(undefined);
    const timer = setTimeout(() => finish(undefined), options.timeoutMs);
    // Watch first, then read: a change between the two is still seen.
    const stop = store.watch((change) => {
      if (change.kind !== 'machine' || change.key !== machineId) return;
      const machine = change.op === 'put' ? change.machine : undefined;
      if (done(machine)) finish(machine);
    });
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) return finish(undefined);
    store.getMachine(machineId).then(
      (machine) => {
        if (done(machine)) finish(machine);
      },
      (err: unknown) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        stop();
        reject(err instanceof AloftError ? err : new AloftError('STORE_FAILED', `Cannot wait for machine ${machineId}: ${(err as Error).message}`, { cause: err }));
      },
    );
  });
}
