import { machineEvent, type Machine, type MachineState } from '../../model/index.ts';
import type { Store } from '../../store/store.ts';

/** What the proxy may do to Machines: read them and write intents, as the API does. */
export type AutoscaleStore = Pick<Store, 'listMachines' | 'updateMachine'>;

/** States the proxy starts a Machine from (never `created` or `failed`: those are the user's). */
export const AUTOSTARTABLE: readonly MachineState[] = ['stopped', 'suspended'];

/**
 * Writes the start intent (`starting`) with a "start requested by proxy" event, as the
 * API's start does (api/machine-ops.ts, which records the source `user`); the agent
 * acts on it. Throws the store's ILLEGAL_TRANSITION when the Machine moved meanwhile.
 */
export function writeStartIntent(store: AutoscaleStore, machine: Machine): Promise<Machine> {
  return store.updateMachine(machine.id, {
    action: 'start',
    patch: { state: 'starting' },
    expectState: AUTOSTARTABLE,
    events: [machineEvent('start', 'requested', 'proxy', { reason: 'autostart' })],
  });
}

/**
 * Writes the stop (`stopping`) or suspend (`suspending`) intent of an idle, drained
 * Machine with a "requested by proxy" event (api/machine-ops.ts and
 * api/machine-actions.ts write the same intents for users). Only from `started`.
 */
export function writeStopIntent(store: AutoscaleStore, machineId: string, how: 'stop' | 'suspend'): Promise<Machine> {
  return store.updateMachine(machineId, {
    action: how,
    patch: { state: how === 'stop' ? 'stopping' : 'suspending' },
    expectState: ['started'],
    events: [machineEvent(how, 'requested', 'proxy', { reason: 'autostop' })],
  });
}
