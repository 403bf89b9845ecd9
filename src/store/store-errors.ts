import { AloftError } from '../lib/errors.ts';
import type { Machine } from '../model/index.ts';

/**
 * The errors every Store raises, built in one place so that the SQLite and etcd stores
 * say the same thing in the same words.
 */

export function appExists(name: string): AloftError {
  return new AloftError('APP_EXISTS', `Cannot create app ${name} as its name must be unique: got a taken name`, {
    details: { appName: name },
  });
}

/** `action` reads as "Cannot <action> app <name>", e.g. "delete", "create machine in". */
export function appNotFound(action: string, name: string): AloftError {
  return new AloftError('APP_NOT_FOUND', `Cannot ${action} app ${name} as it must exist: got no app by that name`, {
    details: { appName: name },
  });
}

/** `action` reads as "Cannot <action> machine <id>", e.g. "stop", "append an event to". */
export function machineNotFound(action: string, id: string): AloftError {
  return new AloftError('MACHINE_NOT_FOUND', `Cannot ${action} machine ${id} as it must exist: got no machine by that id`, {
    details: { machineId: id },
  });
}

export function machineIdTaken(id: string): AloftError {
  return new AloftError('STORE_CONFLICT', `Cannot create machine as 'id' must be unique: got "${id}"`, {
    details: { machineId: id },
  });
}

export function machineNameTaken(machine: Machine, takenBy: string): AloftError {
  return new AloftError(
    'MACHINE_NAME_TAKEN',
    `Cannot name machine ${machine.id} as 'name' must be unique among app ${machine.appName}'s machines: got "${machine.name}" (taken by ${takenBy})`,
    { details: { appName: machine.appName, name: machine.name, takenBy } },
  );
}

export function versionConflict(action: string, id: string, expected: number, actual: number): AloftError {
  return new AloftError('STORE_CONFLICT', `Cannot ${action} machine ${id} as its version must be ${expected}: got ${actual}`, {
    details: { machineId: id, expectVersion: expected, version: actual },
  });
}

export function illegalState(action: string, id: string, expected: readonly string[], actual: string): AloftError {
  return new AloftError(
    'ILLEGAL_TRANSITION',
    `Cannot ${action} machine ${id} as its state must be one of ${expected.join(', ')}: got ${actual}`,
    { details: { machineId: id, expectState: [...expected], state: actual } },
  );
}

export function storeClosed(action: string): AloftError {
  return new AloftError('STORE_FAILED', `Cannot ${action} as the store must be open: got a closed store`);
}
