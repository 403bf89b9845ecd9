/** The store part: the Store interface and its embedded SQLite implementation. */
export type { Change, ChangeListener, MachineChange, MachineFilter, Store, WatchOptions } from './store.ts';
export type { AcquireLeaseRequest, Lease, LeaseStore } from './lease-store.ts';
export type { ApiToken, AuthStore, Org } from './auth-store.ts';
export type { SnapshotPatch, VolumeChange, VolumeFilter, VolumeStore } from './volume-store.ts';
export type { AppIp, IpFilter, PeerFilter, PeerGatewayRecord, PeerStore, UserPeer } from './peer-store.ts';
export { HOST_ROLES, HOST_STATUSES, hostRole, type HostAddresses, type HostCapacityRecord, type HostFilter, type HostGpu, type HostRecord, type HostRegistration, type HostRole, type HostStatus, type HostStore, type RoleLease } from './host-store.ts';
export { DEPLOY_STRATEGIES, RELEASE_STATUSES, type DeployStrategy, type NewRelease, type Release, type ReleaseEvent, type ReleasePatch, type ReleaseStatus, type ReleaseStore } from './release-store.ts';
export type { OrgDataKey, SealedSecret, SecretStatus, SecretStore, SecretsWrite, StoredSecret } from './secret-store.ts';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/open-sqlite-store.ts';
export type { SqliteStore } from './sqlite/sqlite-store.ts';
