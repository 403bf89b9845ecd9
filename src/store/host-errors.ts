import { AloftError } from '../lib/errors.ts';

/** The host registry's errors, in one place so the SQLite and etcd stores say the same. */

/** `action` reads as "Cannot <action> host <id>", e.g. "heartbeat", "mark down". */
export function hostNotFound(action: string, id: string): AloftError {
  return new AloftError('HOST_NOT_FOUND', `Cannot ${action} host ${id} as it must be registered: got no host by that id`, {
    details: { hostId: id },
  });
}

export function hostDown(action: string, id: string, reason: string | undefined): AloftError {
  return new AloftError(
    'HOST_DOWN',
    `Cannot ${action} host ${id} as it must be up: got down (${reason ?? 'no reason recorded'}); its agent must register again`,
    { details: { hostId: id } },
  );
}

export function hostNumberTaken(id: string, number: number, holder: string): AloftError {
  return new AloftError(
    'STORE_CONFLICT',
    `Cannot register host ${id} as 'number' must be unique among hosts: got ${number} (taken by ${holder})`,
    { details: { hostId: id, number, takenBy: holder } },
  );
}

export function heartbeatMoved(id: string, expected: number, actual: number): AloftError {
  return new AloftError(
    'STORE_CONFLICT',
    `Cannot mark host ${id} down as its heartbeat must still be at ${expected}: got ${actual} (it beat since)`,
    { details: { hostId: id, expected, actual } },
  );
}
