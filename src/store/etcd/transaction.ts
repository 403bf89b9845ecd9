import type { Etcd3, ICompare, IKeyValue, IRequestOp } from 'etcd3';
import { AloftError } from '../../lib/errors.ts';
import { encode } from './codec.ts';
import { prefixEnd } from './keys.ts';

/**
 * Optimistic transactions on etcd. A write reads what it needs through a `Tx` (all
 * reads at one snapshot revision), stages its puts and deletes, and commits them in one
 * etcd transaction whose compares say "nothing I read has changed": each key read is
 * compared on its mod revision (or on not existing), each range on holding no key
 * modified after the snapshot. When the compare fails another writer got there first,
 * so the write runs again on fresh reads. This is what makes every write of the store
 * serializable, as the SQLite store's immediate transactions are.
 */

/** A key/value as read: the value as text, and its etcd bookkeeping. */
export interface ReadKv {
  key: string;
  value: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
}

export function toReadKv(kv: IKeyValue): ReadKv {
  return {
    key: kv.key.toString(),
    value: kv.value,
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
  };
}

/** Reads and staged writes of one attempt. */
export class Tx {
  readonly #client: Etcd3;
  #revision: number | undefined;
  readonly #compares: ICompare[] = [];
  readonly #ops: IRequestOp[] = [];
  readonly #putIndex = new Map<string, number>();

  constructor(client: Etcd3) {
    this.#client = client;
  }

  /** The snapshot revision the reads saw (after the first read). */
  get revision(): number | undefined {
    return this.#revision;
  }

  /** Reads one key; the commit fails if it changes (or appears, or goes) meanwhile. */
  async get(key: string): Promise<ReadKv | undefined> {
    const res = await this.#client.kv.range({ key: Buffer.from(key), ...this.#at() });
    this.#pin(res.header.revision);
    const kv = res.kvs[0];
    this.#compares.push(
      kv === undefined
        ? { key: Buffer.from(key), target: 'Version', result: 'Equal', version: 0 }
        : { key: Buffer.from(key), target: 'Mod', result: 'Equal', mod_revision: kv.mod_revision },
    );
    return kv && toReadKv(kv);
  }

  /**
   * Reads every key under `prefix`, in key order. The commit fails if a key in the range
   * is created or changed meanwhile; with `strict`, also if one of them is deleted.
   */
  async list(prefix: string, options: { strict?: boolean } = {}): Promise<ReadKv[]> {
    const res = await this.#client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix), ...this.#at() });
    this.#pin(res.header.revision);
    this.#compares.push({
      key: Buffer.from(prefix),
      range_end: prefixEnd(prefix),
      target: 'Mod',
      result: 'Less',
      mod_revision: (this.#revision ?? 0) + 1,
    });
    if (options.strict === true) {
      for (const kv of res.kvs) this.#compares.push({ key: kv.key, target: 'Mod', result: 'Equal', mod_revision: kv.mod_revision });
    }
    return res.kvs.map(toReadKv);
  }

  /** Stages a put; a second put of the same key replaces the first (etcd refuses duplicates). */
  put(key: string, value: string | Buffer): void {
    const op: IRequestOp = { request_put: { key: Buffer.from(key), value: typeof value === 'string' ? Buffer.from(value) : value } };
    const at = this.#putIndex.get(key);
    if (at === undefined) {
      this.#putIndex.set(key, this.#ops.length);
      this.#ops.push(op);
    } else {
      this.#ops[at] = op;
    }
  }

  /** Stages a JSON put (Buffers kept as base64, codec.ts). */
  putJson(key: string, value: unknown): void {
    this.put(key, encode(value));
  }

  /** Stages the delete of one key. */
  delete(key: string): void {
    this.#ops.push({ request_delete_range: { key: Buffer.from(key) } });
  }

  /** Stages the delete of every key under `prefix`. */
  deletePrefix(prefix: string): void {
    this.#ops.push({ request_delete_range: { key: Buffer.from(prefix), range_end: prefixEnd(prefix) } });
  }

  get ops(): readonly IRequestOp[] {
    return this.#ops;
  }

  get compares(): readonly ICompare[] {
    return this.#compares;
  }

  #at(): { revision?: number } {
    return this.#revision === undefined ? {} : { revision: this.#revision };
  }

  #pin(headerRevision: string): void {
    this.#revision ??= Number(headerRevision);
  }
}

/** How many times a write is retried on conflicts before it gives up with STORE_CONFLICT. */
const MAX_ATTEMPTS = 100;

/**
 * Runs `fn` as an optimistic transaction (see above) and returns its result and the
 * revision its commit made. `fn` may throw (an AloftError refusing the write): nothing is
 * committed then. A write with no staged ops commits nothing and returns the snapshot
 * revision.
 */
export async function transact<T>(client: Etcd3, action: string, fn: (tx: Tx) => Promise<T>): Promise<{ result: T; revision: number }> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const tx = new Tx(client);
    const result = await fn(tx);
    if (tx.ops.length === 0) return { result, revision: tx.revision ?? 0 };
    const res = await client.kv.txn({ compare: [...tx.compares], success: [...tx.ops], failure: [] });
    if (res.succeeded) return { result, revision: Number(res.header.revision) };
  }
  throw new AloftError('STORE_CONFLICT', `Cannot ${action} as the records it reads must hold still for one of ${MAX_ATTEMPTS} tries: got a change every time`);
}
