import { randomBytes } from 'node:crypto';
import { isTerminal, type Machine, type MachineEvent } from '../../model/index.ts';
import { machineNameTaken } from '../store-errors.ts';
import type { MachineVersion } from '../store.ts';
import { decode } from './codec.ts';
import { getJson, lastSegment } from './context.ts';
import type { EtcdKeys } from './keys.ts';
import type { Tx } from './transaction.ts';

/**
 * A machine's keys beside its record, staged in the same transaction as the record:
 * the app and host indexes, the live-name index (names are unique among an app's
 * machines that are not in a terminal state), its versions and its events.
 */

/** One stored event: `n` orders the events of one transaction (they share a revision). */
interface StoredEvent {
  n: number;
  event: MachineEvent;
}

export function nameKey(keys: EtcdKeys, machine: Machine): string | undefined {
  return isTerminal(machine.state) ? undefined : keys.key('idx', 'machine-name', machine.appName, machine.name);
}

/**
 * Stages `next` (and its indexes) over `previous` (undefined for a new machine).
 * Throws MACHINE_NAME_TAKEN when another live machine of the app holds its name.
 */
export async function stageMachine(tx: Tx, keys: EtcdKeys, next: Machine, previous: Machine | undefined): Promise<void> {
  const oldName = previous && nameKey(keys, previous);
  const newName = nameKey(keys, next);
  if (newName !== undefined) {
    const holder = await tx.get(newName);
    const holderId = holder?.value.toString();
    if (holderId !== undefined && holderId !== next.id) throw machineNameTaken(next, holderId);
  }
  if (oldName !== undefined && oldName !== newName) tx.delete(oldName);
  if (newName !== undefined && newName !== oldName) tx.put(newName, next.id);
  if (previous === undefined) tx.put(keys.key('idx', 'machine-app', next.appName, next.id), '');
  if (previous?.hostId !== next.hostId) {
    if (previous !== undefined) tx.delete(keys.key('idx', 'machine-host', previous.hostId, next.id));
    tx.put(keys.key('idx', 'machine-host', next.hostId, next.id), '');
  }
  if (previous?.instanceId !== next.instanceId) {
    if (previous !== undefined) {
      const oldKey = keys.key('versions', next.id, previous.instanceId);
      const old = await getJson<MachineVersion>(tx, oldKey);
      if (old !== undefined) tx.putJson(oldKey, { ...old, replacedAt: next.updatedAt });
    }
    const version: MachineVersion = { instanceId: next.instanceId, config: next.config, createdAt: next.updatedAt };
    tx.putJson(keys.key('versions', next.id, next.instanceId), version);
  }
  tx.putJson(keys.machine(next.id), next);
}

/** Stages the machine's events, in order. */
export function stageEvents(tx: Tx, keys: EtcdKeys, machineId: string, events: readonly MachineEvent[]): void {
  const batch = randomBytes(6).toString('hex');
  events.forEach((event, n) => {
    const stored: StoredEvent = { n, event };
    tx.putJson(keys.key('events', machineId, `${batch}-${n}`), stored);
  });
}

/** The machine's events, newest first. */
export async function readEvents(tx: Tx, keys: EtcdKeys, machineId: string): Promise<MachineEvent[]> {
  const kvs = await tx.list(keys.dir('events', machineId));
  return kvs
    .map((kv) => ({ rev: kv.createRevision, ...decode<StoredEvent>(kv.value) }))
    .sort((a, b) => b.rev - a.rev || b.n - a.n)
    .map((e) => e.event);
}

/** The machine's versions, newest first. */
export async function readVersions(tx: Tx, keys: EtcdKeys, machineId: string): Promise<MachineVersion[]> {
  const kvs = await tx.list(keys.dir('versions', machineId));
  return kvs
    .map((kv) => ({ rev: kv.createRevision, version: decode<MachineVersion>(kv.value) }))
    .sort((a, b) => b.version.createdAt - a.version.createdAt || b.rev - a.rev)
    .map((v) => v.version);
}

/** Stages the removal of a machine and everything kept beside it (its delete is published). */
export function stageMachineRemoval(tx: Tx, keys: EtcdKeys, machine: Machine): void {
  tx.delete(keys.machine(machine.id));
  const name = nameKey(keys, machine);
  if (name !== undefined) tx.delete(name);
  tx.delete(keys.key('idx', 'machine-app', machine.appName, machine.id));
  tx.delete(keys.key('idx', 'machine-host', machine.hostId, machine.id));
  tx.deletePrefix(keys.dir('events', machine.id));
  tx.deletePrefix(keys.dir('versions', machine.id));
  tx.delete(keys.key('leases', machine.id));
}

/** The ids an index dir lists (its keys' last segments). */
export async function indexIds(tx: Tx, prefix: string): Promise<string[]> {
  return (await tx.list(prefix)).map((kv) => lastSegment(kv.key));
}
