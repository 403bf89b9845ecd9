import { AloftError } from '../lib/errors.ts';
import type { Machine, MachineState } from '../model/index.ts';

/**
 * Throws ILLEGAL_TRANSITION (412, Fly's "precondition failed") unless the Machine is in
 * one of `allowed`, saying which states would do. Checked before anything is written,
 * so a refused request changes nothing.
 */
export function refuseUnless(action: string, machine: Machine, allowed: readonly MachineState[]): void {
  if (!allowed.includes(machine.state)) {
    throw new AloftError(
      'ILLEGAL_TRANSITION',
      `Cannot ${action} machine ${machine.id} as its state must be ${allowed.length === 1 ? allowed[0] : `one of ${allowed.join(', ')}`}: got ${machine.state}`,
      { details: { state: machine.state, allowed } },
    );
  }
}
