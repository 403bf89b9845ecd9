/** The cluster Store on etcd: same interface and contract as the SQLite store. */
export { openEtcdStore, DEFAULT_ETCD_PREFIX, type EtcdStoreOptions } from './open-etcd-store.ts';
export type { EtcdStore } from './etcd-store.ts';
