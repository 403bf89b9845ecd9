import type { Machine } from '../model/index.ts';
import type { MachineChange } from './store.ts';
import { illegalState, versionConflict } from './store-errors.ts';

/** Fields a patch may never change: identity and the store's own bookkeeping. */
const FIXED_FIELDS: ReadonlySet<string> = new Set(['id', 'appName', 'version', 'createdAt', 'updatedAt']);

/**
 * Computes the record `updateMachine` writes: checks `expectVersion` (STORE_CONFLICT)
 * and `expectState` (ILLEGAL_TRANSITION) against `current`, applies the patch, bumps
 * `version` and stamps `updatedAt` with `now`. Shared by every Store so that the rules
 * cannot drift between them. Fixed fields and undefined values in the patch are
 * ignored, since callers outside TypeScript can send anything.
 */
export function applyMachineChange(current: Machine, change: MachineChange, now: number): Machine {
  const action = change.action ?? 'update';
  if (change.expectVersion !== undefined && change.expectVersion !== current.version) {
    throw versionConflict(action, current.id, change.expectVersion, current.version);
  }
  if (change.expectState !== undefined && !change.expectState.includes(current.state)) {
    throw illegalState(action, current.id, change.expectState, current.state);
  }
  const patch = Object.entries(change.patch ?? {}).filter(([key, value]) => value !== undefined && !FIXED_FIELDS.has(key));
  return {
    ...current,
    ...(Object.fromEntries(patch) as Partial<Machine>),
    version: current.version + 1,
    updatedAt: now,
  };
}
