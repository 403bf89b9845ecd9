import type { Etcd3 } from 'etcd3';
import type { EtcdKeys } from './keys.ts';
import type { ReadKv, Tx } from './transaction.ts';
import { decode } from './codec.ts';

/**
 * What EtcdStore lends to the per-concern parts (volumes, leases, auth, releases,
 * secrets): its client and key layout, its clock, and its two ways in. `write` runs an
 * optimistic transaction (transaction.ts) and records the revision it made; `read` runs
 * the same reads at one snapshot without committing anything. Both refuse a closed store
 * and turn etcd failures into STORE_FAILED.
 */
export interface EtcdContext {
  readonly client: Etcd3;
  readonly keys: EtcdKeys;
  now(): number;
  write<T>(action: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  read<T>(action: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
}

/** Reads and decodes one record, or undefined. */
export async function getJson<T>(tx: Tx, key: string): Promise<T | undefined> {
  const kv = await tx.get(key);
  return kv === undefined ? undefined : decode<T>(kv.value);
}

/** Reads and decodes every record under `prefix`, in key order. */
export async function listJson<T>(tx: Tx, prefix: string, options: { strict?: boolean } = {}): Promise<T[]> {
  return (await tx.list(prefix, options)).map((kv: ReadKv) => decode<T>(kv.value));
}

/** The last path segment of an index key, decoded (the record's id). */
export function lastSegment(key: string): string {
  return decodeURIComponent(key.slice(key.lastIndexOf('/') + 1));
}
