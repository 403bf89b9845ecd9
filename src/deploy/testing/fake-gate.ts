import type { Store } from '../../store/store.ts';
import type { HealthGate, HealthOutcome } from '../health-gate.ts';

/**
 * A HealthGate for tests: `decide` says how each Machine's checks end (default:
 * passing), from the Machine as it is when the gate is asked. Records every call.
 */
export function fakeGate(store: Store, decide: (machine: { id: string; config: { metadata?: Record<string, string> | undefined }; instanceId: string }) => HealthOutcome | Promise<HealthOutcome> = () => ({ outcome: 'passing' })): HealthGate & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async waitHealthy(machineId, options) {
      calls.push(machineId);
      const machine = await store.getMachine(machineId);
      if (!machine) return { outcome: 'exited', state: 'destroyed', exitCode: null };
      options.onUpdate?.([{ name: 'http', status: 'warning' }]);
      await new Promise((r) => setImmediate(r));
      const outcome = await decide(machine);
      if (outcome.outcome === 'passing') options.onUpdate?.([{ name: 'http', status: 'passing' }]);
      return outcome;
    },
  };
}
