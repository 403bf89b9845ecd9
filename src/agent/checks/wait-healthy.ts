import { machineChecksOf } from '../../health/index.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { AloftError } from '../../lib/errors.ts';
import type { Machine, MachineCheckStatus, MachineEvent, MachineState } from '../../model/index.ts';
import type { Store } from '../../store/store.ts';

export interface WaitHealthyOptions {
  /**
   * The version to wait for (an update's new `instance_id`). A Machine that moved to
   * another version meanwhile counts as exited (state `replaced`). Default: any.
   */
  instanceId?: string;
  /** Give up after this long: `{outcome: 'timeout'}`. */
  timeoutMs: number;
  /** Aborting rejects the wait with the signal's reason. */
  signal?: AbortSignal;
  /** Called with the Machine as first read, then at every change of it (state or checks). */
  onUpdate?: (machine: Machine) => void;
  clock?: Clock;
}

/** How a wait for health ended. */
export type WaitHealthyResult =
  | { outcome: 'passing'; machine: Machine }
  | {
      outcome: 'exited';
      /** The state that ended the wait: stopped, failed, destroyed, replaced, starting (a restart after an exit)… */
      state: MachineState;
      /** From the Machine's latest exit event; null when it did not run or was killed by a signal. */
      exitCode: number | null;
      /** What the exit event or the failed start said ("oom killed", the start error), if anything. */
      reason?: string;
      /** The command that shows what the Machine printed before it went. */
      logsHint: string;
      machine: Machine | undefined;
    }
  | { outcome: 'timeout'; state: MachineState; checks: MachineCheckStatus[]; machine: Machine };

/** States that mean the run is over; `starting` too once the run was seen (a restart policy after an exit). */
const GONE: ReadonlySet<MachineState> = new Set([
  'stopping',
  'stopped',
  'failed',
  'suspending',
  'suspended',
  'destroying',
  'destroyed',
  'replaced',
  'migrated',
  'launch_failed',
]);

/**
 * Waits until every check of the Machine passes for its current run (at once, once it
 * is started, when it has no checks). Resolves `exited` as soon as the Machine stops,
 * fails, exits or is replaced — it never waits out the timeout for a Machine that is
 * gone (Fly's flyctl#2653) — and `timeout` after `timeoutMs` with the checks as they
 * were. Driven by the store's watch: no polling. Throws MACHINE_NOT_FOUND for an
 * unknown Machine and INVALID_ARGUMENT for a bad timeout.
 */
export async function waitForMachineHealthy(store: Store, machineId: string, options: WaitHealthyOptions): Promise<WaitHealthyResult> {
  const { timeoutMs, signal } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new AloftError('INVALID_ARGUMENT', `Cannot wait for machine health as 'timeoutMs' must be a positive number of milliseconds: got ${String(timeoutMs)}`);
  }
  signal?.throwIfAborted();
  const clock = options.clock ?? systemClock;
  const revision = await store.revision();
  const first = await store.getMachine(machineId);
  if (first === undefined) {
    throw new AloftError('MACHINE_NOT_FOUND', `Cannot wait for machine health as 'machineId' must name a machine: got ${machineId}`);
  }

  return new Promise<WaitHealthyResult>((resolve, reject) => {
    let latest: Machine = first;
    let seenStarted = false;
    let settled = false;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      stopWatch();
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const exited = (machine: Machine | undefined, state: MachineState): void => {
      if (!finish()) return;
      exitDetails(store, machineId).then(
        ({ exitCode, reason }) => resolve({ outcome: 'exited', state, exitCode, ...(reason === undefined ? {} : { reason }), logsHint: logsHint(machineId, first.appName), machine }),
        reject,
      );
    };
    const see = (machine: Machine | undefined): void => {
      if (settled) return;
      if (machine === undefined) return exited(undefined, 'destroyed');
      latest = machine;
      options.onUpdate?.(machine);
      if (options.instanceId !== undefined && machine.instanceId !== options.instanceId) return exited(machine, 'replaced');
      if (machine.state === 'started') {
        seenStarted = true;
        if (allPassing(machine) && finish()) resolve({ outcome: 'passing', machine });
        return;
      }
      if (GONE.has(machine.state) || (seenStarted && machine.state === 'starting')) exited(machine, machine.state);
    };
    const onAbort = (): void => {
      if (finish()) reject(signal!.reason);
    };
    const timer = clock.setTimeout(() => {
      if (finish()) resolve({ outcome: 'timeout', state: latest.state, checks: latest.checks ?? [], machine: latest });
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    // Watch from before the first read: a change between the read and the watch is replayed, not missed.
    const stopWatch = store.watch(
      (change) => {
        if (change.kind !== 'machine' || change.key !== machineId) return;
        see(change.op === 'put' ? change.machine : undefined);
      },
      { fromRevision: revision, onError: (err) => void (finish() && reject(err)) },
    );
    see(first);
    // Aborted while the first read was in flight: the listener came too late to hear it.
    if (signal?.aborted === true) onAbort();
  });
}

/** Every configured check has a `passing` status (statuses are reset at each start, so they are this run's). */
function allPassing(machine: Machine): boolean {
  const statuses = new Map((machine.checks ?? []).map((s) => [s.name, s.status]));
  return machineChecksOf(machine.config).every((check) => statuses.get(check.name) === 'passing');
}

/** The exit code and reason from the Machine's latest exit (or failed start) event. */
async function exitDetails(store: Store, machineId: string): Promise<{ exitCode: number | null; reason: string | undefined }> {
  const events = await store.listEvents(machineId, { limit: 20 }).catch((): MachineEvent[] => []);
  const last = events.find((e) => e.type === 'exit' || (e.type === 'start' && e.status === 'failed'));
  const request = last?.request ?? {};
  const exit = (request['exit_event'] ?? {}) as Record<string, unknown>;
  const exitCode = typeof exit['exit_code'] === 'number' ? exit['exit_code'] : null;
  const reason = [exit['reason'], request['error'], request['reason']].find((r): r is string => typeof r === 'string' && r !== '');
  return { exitCode, reason };
}

function logsHint(machineId: string, appName: string): string {
  return `aloft machine logs ${machineId} --app ${appName}`;
}
