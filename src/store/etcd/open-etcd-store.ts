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
}

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
  const client = new Etcd3({ hosts: endpoints, dialTimeout: options.dialTimeoutMs ?? 5000 });
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
