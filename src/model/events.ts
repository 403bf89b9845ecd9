import { shortId } from '../lib/ids.ts';
import type { MachineEvent } from './machine.ts';

/** Builds a MachineEvent with a fresh id and the current time. */
export function machineEvent(
  type: string,
  status: string,
  source: 'user' | 'flyd' | 'proxy',
  request?: Record<string, unknown>,
  now: number = Date.now(),
): MachineEvent {
  return { id: shortId(), type, status, source, timestamp: now, ...(request ? { request } : {}) };
}
