/** The store part: the Store interface and its embedded SQLite implementation. */
export type { Change, ChangeListener, MachineChange, MachineFilter, Store, WatchOptions } from './store.ts';
export type { AcquireLeaseRequest, Lease, LeaseStore } from './lease-store.ts';
export type { ApiToken, AuthStore, Org } from './auth-store.ts';
export type { SnapshotPatch, VolumeChange, VolumeFilter, VolumeStore } from './volume-store.ts';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/open-sqlite-store.ts';
export type { SqliteStore } from './sqlite/sqlite-store.ts';
