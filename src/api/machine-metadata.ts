import { z } from 'zod';
import { AloftError, formatValue } from '../lib/errors.ts';
import { isTerminal, machineEvent, type Machine } from '../model/index.ts';
import type { Store } from '../store/store.ts';
import { parseInput } from './validate.ts';

/** Keys as Fly's own use them (fly_process_group, fly_platform_version…). */
const KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const KEY_RULE = 'letters, digits, "_", "." and "-", starting with a letter or digit, at most 63 long';
const MAX_VALUE_LENGTH = 1024;

export const metadataValueSchema = z.looseObject({ value: z.string().max(MAX_VALUE_LENGTH) });

/** Throws INVALID_ARGUMENT unless `key` is a valid metadata key. */
export function checkMetadataKey(action: string, key: string): string {
  if (!KEY.test(key)) {
    throw new AloftError('INVALID_ARGUMENT', `Cannot ${action} as 'key' must be ${KEY_RULE}: got ${formatValue(key)}`, { details: { field: 'key' } });
  }
  return key;
}

/**
 * Sets one metadata key. Metadata lives in `config.metadata`, as Fly keeps it; changing
 * it is not a new version and does not restart the Machine.
 */
export async function setMetadata(store: Store, machine: Machine, key: string, body: unknown): Promise<void> {
  checkMetadataKey('set machine metadata', key);
  const { value } = parseInput(metadataValueSchema, body ?? {}, 'set machine metadata');
  refuseTerminal('set metadata on', machine);
  await store.updateMachine(machine.id, {
    action: 'set metadata on',
    patch: { config: { ...machine.config, metadata: { ...machine.config.metadata, [key]: value } } },
    expectVersion: machine.version,
    events: [machineEvent('metadata', 'set', 'user', { key })],
  });
}

/** Deletes one metadata key; deleting a key that is not there is a 404. */
export async function deleteMetadata(store: Store, machine: Machine, key: string): Promise<void> {
  checkMetadataKey('delete machine metadata', key);
  refuseTerminal('delete metadata of', machine);
  const metadata = { ...machine.config.metadata };
  if (!(key in metadata)) {
    throw new AloftError('METADATA_NOT_FOUND', `Cannot delete metadata key ${formatValue(key)} of machine ${machine.id} as it has no such key`);
  }
  delete metadata[key];
  await store.updateMachine(machine.id, {
    action: 'delete metadata of',
    patch: { config: { ...machine.config, metadata } },
    expectVersion: machine.version,
    events: [machineEvent('metadata', 'deleted', 'user', { key })],
  });
}

/**
 * The `metadata.KEY=VALUE` filters of a list query (Fly's Machines_list), validated.
 * Every filter must match for a Machine to be listed.
 */
export function metadataFilters(query: Record<string, string>): [string, string][] {
  return Object.entries(query)
    .filter(([name]) => name.startsWith('metadata.'))
    .map(([name, value]) => [checkMetadataKey('list machines', name.slice('metadata.'.length)), value]);
}

/** True when the Machine's metadata has every key with its value. */
export function matchesMetadata(machine: Machine, filters: readonly [string, string][]): boolean {
  return filters.every(([key, value]) => machine.config.metadata?.[key] === value);
}

function refuseTerminal(action: string, machine: Machine): void {
  if (isTerminal(machine.state) || machine.state === 'destroying') {
    throw new AloftError('ILLEGAL_TRANSITION', `Cannot ${action} machine ${machine.id} as its state must not be destroying or terminal: got ${machine.state}`);
  }
}
