import { Etcd3 } from 'etcd3';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { AloftError, invalidField } from '../../lib/errors.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { Org } from '../auth-store.ts';
import { MAX_TXN_OPS } from './app-removal.ts';
import { EtcdStore } from './etcd-store.ts';
import { EtcdKeys } from './keys.ts';
import { transact } from './transaction.ts';

/** The prefix every key of the store lives under when none is given. */
export const DEFAULT_ETCD_PREFIX = '/aloft/';

export interface EtcdStoreOptions {
  /** etcd client URLs, e.g. ["http://10.0.0.1:2379", …]; the client fails over between them. */
  endpoints: readonly string[];
  /** Where the store's keys live. Default `/aloft/`; two platforms can share one etcd with two prefixes. */
  prefix?: string;
  logger?: Logger;
  /** The clock that stamps `updatedAt`. Default: the system clock. */
  clock?: Clock;
  /** How long to wait for a connection to a member. Default 5,000 ms. */
  dialTimeoutMs?: number;
  /** etcd's `--max-txn-ops`; larger deletes are split to fit. Default 128, etcd's default. */
  maxTxnOps?: number;
  /**
   * How long one call (not a watch) may take on a member before it is given up and
   * tried on another. Default 3,000 ms (a WAN commit takes a few hundred): a member that went silent (a dead host, a cut
   * link) answers nothing, and without a deadline a call to it would wait forever.
   */
  callTimeoutMs?: number;
}

/**
 * gRPC keepalive on every connection, watches included: a member that went silent is
 * noticed within about 9 s and its streams move to another. etcd refuses pings more
 * often than every 5 s (`--grpc-keepalive-min-time`), so 6 s it is.
 */
const KEEPALIVE = { 'grpc.keepalive_time_ms': 6000, 'grpc.keepalive_timeout_ms': 3000, 'grpc.keepalive_permit_without_calls': 1 } as const;

/** The org every fresh store has, as the SQLite store's first migration seeds it. */
const PERSONAL_ORG: Org = { slug: 'personal', name: 'Personal', createdAt: 0 };

/**
 * Connects to etcd and returns the store, seeding the `personal` org on first use.
 * Throws STORE_FAILED when no member answers.
 */
export async function openEtcdStore(options: EtcdStoreOptions): Promise<EtcdStore> {
  const endpoints = [...options.endpoints];
  if (endpoints.length === 0 || endpoints.some((e) => !/^https?:\/\/[^/]+$/.test(e))) {
    throw invalidField('open the etcd store', 'endpoints', 'one or more URLs like http://127.0.0.1:2379', options.endpoints);
  }
  const prefix = options.prefix ?? DEFAULT_ETCD_PREFIX;
  if (!prefix.startsWith('/') || prefix.length < 2) {
    throw invalidField('open the etcd store', 'prefix', 'a key prefix starting with / (e.g. /aloft/)', prefix);
  }
  const maxTxnOps = options.maxTxnOps ?? MAX_TXN_OPS;
  if (!Number.isSafeInteger(maxTxnOps) || maxTxnOps < 32) {
    throw invalidField('open the etcd store', 'maxTxnOps', 'an integer of at least 32', maxTxnOps);
  }
  const keys = new EtcdKeys(prefix);
  const callTimeoutMs = options.callTimeoutMs ?? 3000;
  const client = new Etcd3({
    hosts: endpoints,
    dialTimeout: options.dialTimeoutMs ?? 5000,
    grpcOptions: KEEPALIVE,
    // A missed deadline is one of etcd3's recoverable errors: the call is retried on another
    // member, and three in a row open that member's circuit breaker for 5 s (etcd3's default).
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
  });
  try {
    const { revision } = await transact(client, 'seed the store', async (tx) => {
      if (!(await tx.get(keys.key('orgs', PERSONAL_ORG.slug)))) tx.putJson(keys.key('orgs', PERSONAL_ORG.slug), PERSONAL_ORG);
    });
    return new EtcdStore(client, { keys, clock: options.clock ?? systemClock, logger: options.logger ?? silentLogger, revision, maxTxnOps });
  } catch (err) {
    client.close();
    if (err instanceof AloftError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new AloftError('STORE_FAILED', `Cannot open the etcd store at ${endpoints.join(',')}: ${message}`, { cause: err });
  }
}
