import { machineEvent, type Machine, type MachineState } from '../../model/index.ts';
import type { Store } from '../../store/store.ts';

/** What the fake agent does when a Machine's run starts: keep running, or exit with a code. */
export type OnStart = (machine: Machine) => { exitCode: number } | undefined;

/** Intents and the resting state the agent writes for each. */
const RESTS: Partial<Record<MachineState, MachineState>> = {
  starting: 'started',
  updating: 'started',
  restarting: 'started',
  stopping: 'stopped',
  destroying: 'destroyed',
};

/**
 * Plays the host's agent for in-process deploy tests: it follows the store and moves
 * each intent to its resting state (starting/updating → started, stopping → stopped,
 * destroying → destroyed) with the events a real agent writes, in a later turn of the
 * event loop, as a real agent would. `onStart` may make a run exit (an exit event with
 * the code, then `stopped`). Returns a function that stops it.
 */
export function fakeAgent(store: Store, onStart: OnStart = () => undefined): { stop(): void; starts: Machine[] } {
  const starts: Machine[] = [];
  const busy = new Set<string>();
  const act = async (machine: Machine): Promise<void> => {
    const to = RESTS[machine.state];
    if (!to || busy.has(machine.id)) return;
    busy.add(machine.id);
    try {
      await new Promise((r) => setImmediate(r));
      const events = to === 'destroyed' ? [machineEvent('destroy', 'destroyed', 'flyd')] : to === 'stopped' ? [machineEvent('exit', 'stopped', 'flyd', { exit_event: { exit_code: 0, requested_stop: true } })] : [machineEvent('start', 'started', 'flyd')];
      const rested = await store.updateMachine(machine.id, { patch: { state: to }, expectState: [machine.state], events });
      if (to !== 'started') return;
      starts.push(rested);
      const exit = onStart(rested);
      if (!exit) return;
      await new Promise((r) => setImmediate(r));
      await store.updateMachine(machine.id, {
        patch: { state: 'stopped' },
        expectState: ['started'],
        events: [machineEvent('exit', 'stopped', 'flyd', { exit_event: { exit_code: exit.exitCode, requested_stop: false } })],
      });
    } catch {
      // The Machine moved on meanwhile (another intent): the next change brings it back here.
    } finally {
      busy.delete(machine.id);
      const now = await store.getMachine(machine.id).catch(() => undefined);
      if (now && RESTS[now.state]) void act(now);
    }
  };
  const stop = store.watch((change) => {
    if (change.kind === 'machine' && change.op === 'put') void act(change.machine);
  });
  return { stop, starts };
}
