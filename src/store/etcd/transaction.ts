import type { Etcd3, ICompare, IKeyValue, IRangeRequest, IRangeResponse, IRequestOp } from 'etcd3';
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
 *
 * Round trips (over a WAN cluster each quorum round trip is the costly part): the first
 * read of an attempt pins the snapshot revision, and every later read is a serializable
 * read at that revision, which any member answers alone. A revision is history that does
 * not change, so such a read is exact, never stale; a member that has not applied the
 * pinned revision yet says so (etcd's "future revision") and that read goes linearizable
 * instead, which waits until the member has.
 *
 * The first read itself is linearizable (a quorum round trip), except in a write's first
 * attempt when `transact` is given `optimistic`: then it is the member's own latest
 * state, which may lag behind the cluster's (never behind `optimistic.minRevision`, the
 * newest revision the caller has seen: a member further behind is read linearizably). A
 * stale read cannot be committed: every key read is compared at commit, so the commit
 * fails and the write runs again from a linearizable read. What the commit does not
 * check is not trusted either: an optimistic attempt that refuses (throws), commits
 * nothing, or listed a range without `strict` (deletes go unchecked) is run again from a
 * linearizable read before its answer counts. Every retry starts afresh with a
 * linearizable read, so a conflict is always judged on the newest state.
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
  /** Set when the first read may be member-local: the oldest revision it may answer at. */
  readonly #optimisticFrom: number | undefined;
  #pinnedLocally = false;
  #unchecked = false;

  /** `optimistic`: the first read is serializable (see above), answered at `minRevision` or later. */
  constructor(client: Etcd3, options: { optimistic?: { minRevision: number } } = {}) {
    this.#client = client;
    this.#optimisticFrom = options.optimistic?.minRevision;
  }

  /**
   * True when this attempt's answer must not be trusted as it is: its snapshot came from
   * one member alone and the commit would not check all it read (a list without strict).
   */
  get needsLinearizableRerun(): boolean {
    return this.#pinnedLocally && this.#unchecked;
  }

  /** True when the snapshot came from one member's own state (an optimistic first read). */
  get pinnedLocally(): boolean {
    return this.#pinnedLocally;
  }

  /** The snapshot revision the reads saw (after the first read). */
  get revision(): number | undefined {
    return this.#revision;
  }

  /** Reads one key; the commit fails if it changes (or appears, or goes) meanwhile. */
  async get(key: string): Promise<ReadKv | undefined> {
    const res = await this.#range({ key: Buffer.from(key) });
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
    const res = await this.#range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix) });
    this.#compares.push({
      key: Buffer.from(prefix),
      range_end: prefixEnd(prefix),
      target: 'Mod',
      result: 'Less',
      mod_revision: (this.#revision ?? 0) + 1,
    });
    if (options.strict !== true) this.#unchecked = true;
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

  /**
   * One range of this attempt: before a revision is pinned, the first read (see above),
   * whose answer pins it; after, a serializable read at the pin. Reads started together
   * before any answered each make a first read; the first answer pins, and one that
   * answered at another revision is read again at the pin, so all see one snapshot.
   */
  async #range(request: IRangeRequest): Promise<IRangeResponse> {
    if (this.#revision === undefined) {
      const { res, local } = await this.#firstRange(request);
      const at = Number(res.header.revision);
      if (this.#revision === undefined) {
        this.#revision = at;
        this.#pinnedLocally = local;
      }
      if (at === this.#revision) return res;
    }
    return this.#rangeAtPin(request, this.#revision);
  }

  /** A member-local read when optimistic and that member is not behind `minRevision`, else a linearizable one. */
  async #firstRange(request: IRangeRequest): Promise<{ res: IRangeResponse; local: boolean }> {
    const from = this.#optimisticFrom;
    if (from !== undefined) {
      const res = await this.#client.kv.range({ ...request, serializable: true });
      // A member behind what the caller has seen would hide the caller's own writes.
      if (Number(res.header.revision) >= from) return { res, local: true };
    }
    return { res: await this.#client.kv.range(request), local: false };
  }

  async #rangeAtPin(request: IRangeRequest, revision: number): Promise<IRangeResponse> {
    try {
      return await this.#client.kv.range({ ...request, revision, serializable: true });
    } catch (err) {
      if (!isFutureRevision(err)) throw err;
      // This member lags behind the pin: a linearizable read waits until it has caught up.
      return this.#client.kv.range({ ...request, revision });
    }
  }
}

/** etcd's answer to a read at a revision the member has not applied yet (gRPC OUT_OF_RANGE, mvcc.ErrFutureRev). */
export function isFutureRevision(err: unknown): boolean {
  return err instanceof Error && /required revision is a future revision/.test(err.message);
}

/** How many times a write is retried on conflicts before it gives up with STORE_CONFLICT. */
const MAX_ATTEMPTS = 100;

/**
 * Runs `fn` as an optimistic transaction (see above) and returns its result and the
 * revision its commit made. `fn` may throw (an AloftError refusing the write): nothing is
 * committed then. A write with no staged ops commits nothing and returns the snapshot
 * revision. With `optimistic`, the first attempt starts from a member-local read (see
 * above); whatever it would answer without a commit that checked it is asked again.
 */
export async function transact<T>(client: Etcd3, action: string, fn: (tx: Tx) => Promise<T>, options: { optimistic?: { minRevision: number } } = {}): Promise<{ result: T; revision: number }> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const tx = new Tx(client, attempt === 1 && options.optimistic !== undefined ? { optimistic: options.optimistic } : {});
    let result: T;
    try {
      result = await fn(tx);
    } catch (err) {
      // A refusal judged on one member's possibly older state is judged again on the cluster's.
      if (tx.pinnedLocally) continue;
      throw err;
    }
    if (tx.pinnedLocally && (tx.ops.length === 0 || tx.needsLinearizableRerun)) continue;
    if (tx.ops.length === 0) return { result, revision: tx.revision ?? 0 };
    const res = await client.kv.txn({ compare: [...tx.compares], success: [...tx.ops], failure: [] });
    if (res.succeeded) return { result, revision: Number(res.header.revision) };
  }
  throw new AloftError('STORE_CONFLICT', `Cannot ${action} as the records it reads must hold still for one of ${MAX_ATTEMPTS} tries: got a change every time`);
}
