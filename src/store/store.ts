import type { AloftError } from '../lib/errors.ts';
import type { App, Machine, MachineEvent, MachineState, Volume } from '../model/index.ts';
import type { AuthStore } from './auth-store.ts';
import type { LeaseStore } from './lease-store.ts';
import type { VolumeStore } from './volume-store.ts';
import type { ReleaseStore } from './release-store.ts';
import type { SecretStore } from './secret-store.ts';
import type { HostRecord, HostStore } from './host-store.ts';
import type { AppIp, PeerStore, UserPeer } from './peer-store.ts';

/**
 * The Store: aloft's shared state (apps, machines, machine events, counters), behind
 * one interface so the embedded SQLite store and the cluster's etcd store are
 * interchangeable. Every implementation runs the contract suite in contract.ts.
 *
 * Every write bumps a global `revision` and is published as a Change, in revision
 * order, to watchers. Watchers can start from an older revision and get every change
 * after it (replayed from the change log), then live ones: this is how the agent,
 * proxy and DNS follow the store without polling, and resume after a restart.
 */
export interface Store extends VolumeStore, LeaseStore, AuthStore, ReleaseStore, SecretStore, HostStore, PeerStore {
  // apps
  /** Throws APP_EXISTS when the name is taken. */
  createApp(app: App): Promise<App>;
  getApp(name: string): Promise<App | undefined>;
  listApps(filter?: { orgSlug?: string }): Promise<App[]>;
  /** Deletes the app, its machines and their events. Throws APP_NOT_FOUND. */
  deleteApp(name: string): Promise<void>;

  // machines
  /** Inserts a new machine (and its first events). Throws MACHINE_NAME_TAKEN. */
  createMachine(machine: Machine, events?: MachineEvent[]): Promise<Machine>;
  getMachine(id: string): Promise<Machine | undefined>;
  listMachines(filter?: MachineFilter): Promise<Machine[]>;
  /**
   * Changes a machine atomically: applies `patch`, bumps `version` and `updatedAt`,
   * appends `events`, in one transaction. With `expectVersion`, throws STORE_CONFLICT
   * when the stored version differs; with `expectState`, throws ILLEGAL_TRANSITION when
   * the current state is not one of them. Throws MACHINE_NOT_FOUND.
   */
  updateMachine(id: string, change: MachineChange): Promise<Machine>;
  /** Removes the record entirely (after `destroyed`, for garbage collection). */
  deleteMachine(id: string): Promise<void>;
  /**
   * Every config the machine has had, newest first. createMachine records the first;
   * an updateMachine that changes `instanceId` marks the live one replaced and records
   * the new one, in the same transaction.
   */
  listMachineVersions(machineId: string): Promise<MachineVersion[]>;

  // events
  appendEvent(machineId: string, event: MachineEvent): Promise<void>;
  /** Newest first. */
  listEvents(machineId: string, options?: { limit?: number }): Promise<MachineEvent[]>;

  // small shared values (host records, counters)
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  /** Atomically increments and returns the counter `name` (first call returns 1). */
  nextSequence(name: string): Promise<number>;

  // changes
  /** The revision of the latest write (0 for an empty store). */
  revision(): Promise<number>;
  /**
   * Calls `listener` with every change after `fromRevision` (default: now, i.e. only
   * future changes), in order, then live. Returns a function that stops the watch.
   * Throws STORE_FAILED ("compacted") when `fromRevision` is older than the change log
   * still keeps; list again and watch from `revision()` then.
   */
  watch(listener: ChangeListener, options?: WatchOptions): () => void;

  close(): Promise<void>;
}

/** One config version of a machine (Fly's MachineVersion). */
export interface MachineVersion {
  instanceId: string;
  config: Machine['config'];
  createdAt: number;
  /** When a newer version replaced it; absent for the live one. */
  replacedAt?: number;
}

export interface MachineFilter {
  appName?: string;
  hostId?: string;
  region?: string;
  /** Include machines in terminal states (destroyed, replaced, migrated). Default false. */
  includeDestroyed?: boolean;
}

export interface MachineChange {
  /**
   * What the caller is doing ("start", "stop"…), for error messages such as "Cannot
   * stop machine … as its state must be one of started: got stopped". Default "update".
   */
  action?: string;
  patch?: Partial<Omit<Machine, 'id' | 'appName' | 'version' | 'createdAt' | 'updatedAt'>>;
  events?: MachineEvent[];
  expectVersion?: number;
  expectState?: readonly MachineState[];
}

export type ChangeListener = (change: Change) => void;

export interface WatchOptions {
  /** Replay every change after this revision first. Default: the current revision. */
  fromRevision?: number;
  /**
   * Called when the watch cannot go on because the changes it still needs were
   * compacted away (it fell too far behind); the watch is then stopped. List again and
   * watch from `revision()`. Without it the error is only logged.
   */
  onError?: (error: AloftError) => void;
}

export type Change =
  | { revision: number; kind: 'app'; op: 'put'; key: string; app: App }
  | { revision: number; kind: 'app'; op: 'delete'; key: string }
  | { revision: number; kind: 'machine'; op: 'put'; key: string; machine: Machine }
  | { revision: number; kind: 'machine'; op: 'delete'; key: string }
  | { revision: number; kind: 'volume'; op: 'put'; key: string; volume: Volume }
  | { revision: number; kind: 'volume'; op: 'delete'; key: string }
  // Cluster mode's host registry (host-store.ts). Watchers switch on `kind` and skip
  // kinds they do not follow, so adding one here leaves them as they were.
  | { revision: number; kind: 'host'; op: 'put'; key: string; host: HostRecord }
  | { revision: number; kind: 'host'; op: 'delete'; key: string }
  // User WireGuard peers (key `<org>/<name>`) and apps' private IPs (key: the address), peer-store.ts.
  | { revision: number; kind: 'peer'; op: 'put'; key: string; peer: UserPeer }
  | { revision: number; kind: 'peer'; op: 'delete'; key: string }
  | { revision: number; kind: 'ip'; op: 'put'; key: string; ip: AppIp }
  | { revision: number; kind: 'ip'; op: 'delete'; key: string };
