/**
 * The host registry: every host that runs an agent registers itself here (region,
 * capacity, drivers, its WireGuard key and addresses, where its agent answers), beats
 * its heart, and is marked down by the API's HostMonitor when the beats stop. Part of
 * `Store`; the contract is contract/hosts.ts.
 *
 * Registrations and status changes are published as `host` Changes carrying the record.
 * Heartbeats are not: one every few seconds per host would flood the change log that
 * watchers resume from, so a watched record's `heartbeatAt` is only as fresh as its last
 * registration or status change (read the host for the latest).
 */

export const HOST_STATUSES = ['up', 'down'] as const;
export type HostStatus = (typeof HOST_STATUSES)[number];

/**
 * What a registry entry is: a `host` runs an agent and Machines; an `edge` runs only an
 * edge proxy that joins the WireGuard mesh to dial Machines over 6PN (`aloft proxy
 * --backhaul-…`). Edges beat and peer like hosts, but nothing is ever placed on one.
 */
export const HOST_ROLES = ['host', 'edge'] as const;
export type HostRole = (typeof HOST_ROLES)[number];

/** A record's role: absent means `host` (every agent, and records from before roles). */
export function hostRole(record: { role?: HostRole | undefined }): HostRole {
  return record.role ?? 'host';
}

/** One GPU of a host, as its agent found it. */
export interface HostGpu {
  /** The device index (`/dev/nvidia<index>`). */
  index: number;
  /** The model, when the agent could tell ("NVIDIA H100"). */
  model?: string;
}

/** What a host has in all, as its agent measured it at registration. */
export interface HostCapacityRecord {
  /** Cores. */
  cpus: number;
  memoryMb: number;
  /** The size of the filesystem under the agent's data dir, in GB. */
  diskGb: number;
  /** Free space there at registration, in GB (volume files are sparse). */
  diskAvailableGb?: number;
  gpus: HostGpu[];
}

/** How the host is reached. */
export interface HostAddresses {
  /** The WireGuard underlay endpoint, `address:port`; null when the host has no mesh yet. */
  underlay: string | null;
  /** The host's own 6PN prefix (network 0), e.g. `fdaa:0:0:2::/80`. */
  sixpnPrefix: string;
}

/** What an agent tells the registry about its host. */
export interface HostRegistration {
  id: string;
  region: string;
  /** `edge` for an edge proxy on the mesh; absent for a host (see HostRole). */
  role?: HostRole;
  /** The host's 32-bit number in 6PN addresses; unique among hosts and edges. */
  number: number;
  /** The host-local IPv4 subnet its Machines get addresses from (CIDR); '' for an edge, which has none. */
  ipv4Subnet: string;
  capacity: HostCapacityRecord;
  drivers: string[];
  /** The host's x25519 public key (base64), null when it runs no mesh. */
  wireguardPublicKey: string | null;
  addresses: HostAddresses;
  /** The agent's HostControl RPC endpoint (`http://…`), null when it serves none (embedded). */
  controlUrl: string | null;
}

/** A registered host as stored. Times are ms since the epoch. */
export interface HostRecord extends HostRegistration {
  /** When the agent last registered (each agent start registers again). */
  registeredAt: number;
  heartbeatAt: number;
  status: HostStatus;
  /** Why it is down, when it is. */
  downReason?: string;
}

export interface HostFilter {
  region?: string;
  status?: HostStatus;
  /** Only entries of this role (a record without one is a `host`). */
  role?: HostRole;
}

/** A named role that one process at a time may hold (the HostMonitor's). */
export interface RoleLease {
  role: string;
  holder: string;
  expiresAt: number;
}

export interface HostStore {
  /**
   * Records the host (inserting or replacing its record) as up, with `registeredAt` and
   * `heartbeatAt` at `now`. Throws STORE_CONFLICT when another host has its 6PN number.
   */
  registerHost(registration: HostRegistration, now: number): Promise<HostRecord>;
  getHost(id: string): Promise<HostRecord | undefined>;
  /** Ordered by id. */
  listHosts(filter?: HostFilter): Promise<HostRecord[]>;
  /**
   * Records a heartbeat at `now` (not published as a change). Throws HOST_NOT_FOUND, and
   * HOST_DOWN when the host was marked down: its Machines may be elsewhere now, so its
   * agent must register again rather than quietly come back.
   */
  heartbeatHost(id: string, now: number): Promise<HostRecord>;
  /**
   * Marks the host down with `reason`, only when its heartbeat is still the one the
   * caller judged (`expectHeartbeatAt`): a beat that lands in between wins, and this
   * throws STORE_CONFLICT. Throws HOST_NOT_FOUND; marking a down host down again
   * changes nothing and returns it.
   */
  markHostDown(id: string, change: { reason: string; expectHeartbeatAt: number }): Promise<HostRecord>;
  /** Removes the record. Throws HOST_NOT_FOUND. */
  removeHost(id: string): Promise<void>;

  /**
   * Takes or renews `role` for `holder` until `now + ttlMs`. Returns the lease when
   * `holder` has it now, undefined when another holder's lease is unexpired.
   */
  claimRole(request: { role: string; holder: string; ttlMs: number; now: number }): Promise<RoleLease | undefined>;
  /** Gives the role up when `holder` has it (so another process takes over at once). */
  releaseRole(role: string, holder: string): Promise<void>;
}
