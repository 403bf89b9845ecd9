import { appNotFound } from '../store-errors.ts';
import type { Machine, Volume } from '../../model/index.ts';
import type { Release } from '../release-store.ts';
import { getJson, listJson } from './context.ts';
import type { EtcdKeys } from './keys.ts';
import { indexIds, stageMachineRemoval } from './machine-records.ts';
import { byCreation } from './order.ts';
import type { Tx } from './transaction.ts';

/**
 * etcd caps the operations of one transaction (`--max-txn-ops`, 128 by default). An app
 * with many records is therefore removed in several transactions: each re-checks that
 * the app exists and removes whole machines, then whole volumes, releases and IPs, as
 * many as fit; the last removes what is left and the app itself. So watchers still see each
 * machine's delete before the app's, a removal cut short leaves the app in place (and
 * deleteApp can run again), and nothing of a machine or volume is ever half-removed.
 */
export const MAX_TXN_OPS = 128;

/** Operations one machine's removal stages (stageMachineRemoval). */
const OPS_PER_MACHINE = 7;

/**
 * Stages one round of removing app `name`. Resolves true when this round removes the
 * app (the last), false when more rounds must follow. Throws APP_NOT_FOUND.
 */
export async function stageAppRemoval(tx: Tx, keys: EtcdKeys, name: string, maxOps = MAX_TXN_OPS): Promise<boolean> {
  if (!(await tx.get(keys.app(name)))) throw appNotFound('delete', name);
  // Room for the prefix deletes and the app's own delete at the end.
  const budget = maxOps - 6;
  const fits = (more: number): boolean => tx.ops.length === 0 || tx.ops.length + more <= budget;

  const ids = await indexIds(tx, keys.dir('idx', 'machine-app', name));
  const machines = (await Promise.all(ids.map((id) => getJson<Machine>(tx, keys.machine(id))))).filter((m) => m !== undefined);
  // One delete per machine, so watchers (proxy, DNS) drop each route they hold.
  for (const machine of machines.sort(byCreation)) {
    if (!fits(OPS_PER_MACHINE)) return false;
    stageMachineRemoval(tx, keys, machine);
  }

  // Volumes' records go with their app (the API refuses while any is live).
  for (const id of await indexIds(tx, keys.dir('idx', 'volume-app', name))) {
    const snapshots = await indexIds(tx, keys.dir('idx', 'snapshot-volume', id));
    if (!fits(snapshots.length + 4)) return false;
    const volume = await getJson<Volume>(tx, keys.volume(id));
    for (const snapshotId of snapshots) tx.delete(keys.key('snapshots', snapshotId));
    tx.deletePrefix(keys.dir('idx', 'snapshot-volume', id));
    if (volume) tx.delete(keys.key('idx', 'volume-host', volume.hostId, id));
    tx.delete(keys.key('idx', 'volume-app', name, id));
    tx.delete(keys.volume(id));
  }

  for (const release of await listJson<Release>(tx, keys.dir('releases', name))) {
    if (!fits(2)) return false;
    tx.delete(keys.key('idx', 'release-id', release.id));
    tx.delete(keys.key('releases', name, release.version.toString().padStart(10, '0')));
  }

  // Its private IPs go too, each published as an ip delete so the proxy drops its listener.
  for (const address of await indexIds(tx, keys.dir('idx', 'ip-app', name))) {
    if (!fits(2)) return false;
    tx.delete(keys.key('idx', 'ip-app', name, address));
    tx.delete(keys.key('ips', address));
  }

  tx.deletePrefix(keys.dir('release-events', name));
  tx.deletePrefix(keys.dir('secrets', name));
  tx.delete(keys.app(name));
  return true;
}
