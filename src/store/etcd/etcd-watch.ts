import type { Etcd3, IWatchResponse, Watcher } from 'etcd3';
import { AloftError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { App, Machine, Volume } from '../../model/index.ts';
import type { HostRecord } from '../host-store.ts';
import type { AppIp, UserPeer } from '../peer-store.ts';
import type { Change, ChangeListener } from '../store.ts';
import { decode } from './codec.ts';
import { prefixEnd, type EtcdKeys } from './keys.ts';

/**
 * One store watch on etcd: an etcd watch over the store's prefix from `cursor + 1`,
 * its events mapped to Changes (apps/, machines/, volumes/, hosts/, peers/, ips/ keys; everything else is
 * bookkeeping and publishes nothing). etcd hands events in revision order, and the keys
 * of one transaction in the order they were written, so deleteApp's machine deletes come
 * before the app's. The cursor (the last revision delivered) is what a reconnect resumes
 * from, so a member failing over neither skips nor repeats a change.
 */
export class EtcdWatch {
  readonly #client: Etcd3;
  readonly #keys: EtcdKeys;
  readonly #listener: ChangeListener;
  readonly #onError: ((error: AloftError) => void) | undefined;
  readonly #log: Logger;
  readonly #onStop: () => void;
  readonly #watcher: Watcher;
  #cursor: number;
  #active = true;

  constructor(options: {
    client: Etcd3;
    keys: EtcdKeys;
    listener: ChangeListener;
    onError: ((error: AloftError) => void) | undefined;
    fromRevision: number;
    logger: Logger;
    onStop: () => void;
  }) {
    this.#client = options.client;
    this.#keys = options.keys;
    this.#listener = options.listener;
    this.#onError = options.onError;
    this.#log = options.logger;
    this.#onStop = options.onStop;
    this.#cursor = options.fromRevision;
    this.#watcher = this.#client
      .watch()
      .prefix(this.#keys.prefix)
      .startRevision(String(this.#cursor + 1))
      .watcher();
    this.#watcher.on('data', (res) => this.#handle(res));
    // The library resumes from the header's revision; resume from what was delivered instead.
    this.#watcher.on('connected', () => this.#resumeFromCursor());
    this.#watcher.on('error', (err) => void this.#fail(err));
  }

  stop(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#onStop();
    this.#watcher.cancel().catch((err: unknown) => this.#log.debug({ err }, 'etcd watch cancel failed'));
  }

  #handle(res: IWatchResponse): void {
    if (!this.#active || res.events.length === 0) return;
    const before = this.#cursor;
    for (const event of res.events) {
      if (!this.#active) return;
      const revision = Number(event.kv.mod_revision);
      // After a reconnect etcd may send again what was delivered; one transaction's events share a revision.
      if (revision <= before) continue;
      this.#cursor = Math.max(this.#cursor, revision);
      const change = toChange(this.#keys, event.type, event.kv.key, event.kv.value, revision);
      if (change !== undefined) this.#deliver(change);
    }
    this.#resumeFromCursor();
  }

  #resumeFromCursor(): void {
    this.#watcher.request.start_revision = String(this.#cursor + 1);
  }

  #deliver(change: Change): void {
    try {
      this.#listener(change);
    } catch (err) {
      // One bad listener must not starve the others.
      this.#log.error({ err, revision: change.revision }, 'store watch listener threw');
    }
  }

  /** etcd cancelled the watch: find out whether its position was compacted away, then stop. */
  async #fail(err: unknown): Promise<void> {
    if (!this.#active) return;
    const horizon = await compactedHorizon(this.#client, this.#keys.prefix, this.#cursor + 1);
    if (!this.#active) return;
    this.stop();
    const error =
      horizon === undefined
        ? new AloftError('STORE_FAILED', `Cannot watch the store as etcd must keep the watch open: got ${err instanceof Error ? err.message : String(err)}`, { cause: err })
        : compacted(this.#cursor, horizon);
    this.#log.error({ err: error }, 'store watch stopped');
    try {
      this.#onError?.(error);
    } catch (thrown) {
      this.#log.error({ err: thrown }, 'store watch onError threw');
    }
  }
}

/** The Change an etcd event means, or undefined for keys that publish none. */
export function toChange(keys: EtcdKeys, type: string, rawKey: Buffer, value: Buffer, revision: number): Change | undefined {
  const what = keys.changeKind(rawKey.toString());
  if (what === undefined) return undefined;
  const { kind, id: key } = what;
  if (type === 'Delete') return { revision, kind, op: 'delete', key };
  if (kind === 'app') return { revision, kind, op: 'put', key, app: decode<App>(value) };
  if (kind === 'machine') return { revision, kind, op: 'put', key, machine: decode<Machine>(value) };
  if (kind === 'host') return { revision, kind, op: 'put', key, host: decode<HostRecord>(value) };
  if (kind === 'peer') return { revision, kind, op: 'put', key, peer: decode<UserPeer>(value) };
  if (kind === 'ip') return { revision, kind, op: 'put', key, ip: decode<AppIp>(value) };
  return { revision, kind, op: 'put', key, volume: decode<Volume>(value) };
}

/**
 * The oldest revision still readable when `revision` was compacted away (so watching
 * from one before it works), or undefined when `revision` is readable. A binary search
 * of range reads: etcd does not say where it compacted, and this is the rare path.
 */
export async function compactedHorizon(client: Etcd3, prefix: string, revision: number): Promise<number | undefined> {
  const readable = async (at: number): Promise<boolean> => {
    try {
      await client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix), revision: at, count_only: true });
      return true;
    } catch (err) {
      if (err instanceof Error && /compacted/.test(err.message)) return false;
      throw err;
    }
  };
  try {
    if (await readable(revision)) return undefined;
    const head = Number((await client.kv.range({ key: Buffer.from(prefix), count_only: true })).header.revision);
    let low = revision;
    let high = head;
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      if (await readable(mid)) high = mid;
      else low = mid + 1;
    }
    return high - 1;
  } catch {
    return undefined;
  }
}

/** The same error the SQLite store's change feed raises for a compacted position. */
export function compacted(fromRevision: number, horizon: number): AloftError {
  return new AloftError(
    'STORE_FAILED',
    `Cannot watch the store from revision ${fromRevision} as 'fromRevision' must be at least ${horizon}, because older changes are compacted: got ${fromRevision} (list again and watch from revision())`,
    { details: { fromRevision, horizon, reason: 'compacted' } },
  );
}
