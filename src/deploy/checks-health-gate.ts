import { waitForMachineHealthy } from '../agent/checks/index.ts';
import type { Store } from '../store/store.ts';
import type { HealthCheckView, HealthGate } from './health-gate.ts';

/**
 * The real HealthGate: the agent's checks as recorded on each Machine
 * (agent/checks waitForMachineHealthy), followed through the store. Check updates are
 * passed on only when a check's status changes, so progress lines stay few.
 */
export function checksHealthGate(store: Store): HealthGate {
  return {
    async waitHealthy(machineId, options) {
      let last = '';
      const result = await waitForMachineHealthy(store, machineId, {
        instanceId: options.instanceId,
        timeoutMs: options.timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
        onUpdate: (machine) => {
          const checks: HealthCheckView[] = (machine.checks ?? []).map((c) => ({ name: c.name, status: c.status, output: c.output }));
          const key = checks.map((c) => `${c.name}=${c.status}`).join(',');
          if (checks.length === 0 || key === last) return;
          last = key;
          options.onUpdate?.(checks);
        },
      });
      if (result.outcome === 'passing') return { outcome: 'passing' };
      if (result.outcome === 'exited') return { outcome: 'exited', state: result.state, exitCode: result.exitCode, ...(result.reason === undefined ? {} : { reason: result.reason }) };
      return { outcome: 'timeout', checks: result.checks.map((c) => ({ name: c.name, status: c.status, output: c.output })) };
    },
  };
}
