import type { Database, Statement } from 'better-sqlite3';
import type { Clock } from '../../lib/clock.ts';
import { AloftError, invalidField } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { isTerminal, TERMINAL_STATES, type App, type Machine, type MachineEvent, type Volume, type VolumeSnapshot } from '../../model/index.ts';
import { applyMachineChange } from '../machine-change.ts';
import type { ChangeListener, MachineChange, MachineFilter, MachineVersion, Store, WatchOptions } from '../store.ts';
import { listVersions, recordVersion } from './versions.ts';
import { appExists, appNotFound, machineIdTaken, machineNameTaken, machineNotFound, storeClosed } from '../store-errors.ts';
import { ChangeFeed } from './change-feed.ts';
import { GroupCommit } from './group-commit.ts';
import { ChangeLog } from './change-log.ts';
import { SqliteVolumes } from './volumes.ts';
import { SqliteSecrets } from './secrets.ts';
import { SqliteHosts } from './hosts.ts';
import { SqlitePeers } from './peers.ts';
import type { AppIp, IpFilter, PeerFilter, PeerGatewayRecord, UserPeer } from '../peer-store.ts';
import type { HostFilter, HostRecord, HostRegistration, RoleLease } from '../host-store.ts';
import type { OrgDataKey, SecretsWrite, StoredSecret } from '../secret-store.ts';
import type { SnapshotPatch, VolumeChange, VolumeFilter } from '../volume-store.ts';
import { appFromRow, appParams, eventFromJson, machineFromRow, machineParams, type AppRow, type MachineRow } from './rows.ts';
import type { AcquireLeaseRequest, Lease } from '../lease-store.ts';
import type { ApiToken, Org } from '../auth-store.ts';
import { acquireLeaseIn, readLease, releaseLeaseIn } from './leases.ts';
import { insertRelease, insertReleaseEvent, patchRelease, readRelease, readReleaseEvents, readReleases } from './releases.ts';
import type { NewRelease, Release, ReleaseEvent, ReleasePatch, ReleaseStatus } from '../release-store.ts';
import { insertOrg, insertToken, markTokenRevoked, readOrg, readOrgs, readTokenByHash, readTokens } from './auth.ts';

const INSERT_APP = `INSERT INTO apps (name, id, org_slug, network, status, created_at)
  VALUES (@name, @id, @org_slug, @network, @status, @created_at)`;
const INSERT_MACHINE = `INSERT INTO machines
  (id, name, app_name, region, host_id, state, instance_id, config, image_ref, addresses, cordoned, checks, version,
    created_at, updated_at)
  VALUES (@id, @name, @app_name, @region, @host_id, @state, @instance_id, @config, @image_ref, @addresses, @cordoned,
    @checks, @version, @created_at, @updated_at)`;
const UPDATE_MACHINE = `UPDATE machines SET name = @name, region = @region, host_id = @host_id, state = @state,
  instance_id = @instance_id, config = @config, image_ref = @image_ref, addresses = @addresses, cordoned = @cordoned,
  checks = @checks, version = @version, updated_at = @updated_at
  WHERE id = @id`;
const TERMINAL_SQL = TERMINAL_STATES.map((s) => `'${s}'`).join(', ');
const LIVE_NAME_HOLDER = `SELECT id FROM machines
  WHERE app_name = ? AND name = ? AND id != ? AND state NOT IN (${TERMINAL_SQL})`;
const NEXT_SEQUENCE = `INSERT INTO sequences (name, value) VALUES (?, 1)
  ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`;

/**
 * The embedded Store on SQLite (better-sqlite3). Every write is one immediate
 * transaction that also appends to the `changes` log; after it commits, the change
 * feed delivers it to this process's watchers before the write's promise resolves.
 * Build one with openSqliteStore().
 */
export class SqliteStore implements Store {
  readonly #db: Database;
  readonly #clock: Clock;
  readonly #changes: ChangeLog;
  readonly #feed: ChangeFeed;
  readonly #statements = new Map<string, Statement>();
  readonly #volumes: SqliteVolumes;
  readonly #secrets: SqliteSecrets;
  readonly #hosts: SqliteHosts;
  readonly #peers: SqlitePeers;
  readonly #commits: GroupCommit;

  /** Use openSqliteStore(), which configures and migrates `db` first. */
  constructor(db: Database, options: { logger: Logger; clock: Clock; pollIntervalMs: number; changeLogLimit: number }) {
    this.#db = db;
    this.#clock = options.clock;
    this.#changes = new ChangeLog(db, options.changeLogLimit);
    const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.#feed = new ChangeFeed(
      {
        head: () => this.#changes.head(),
        horizon: () => this.#changes.horizon(),
        since: (revision, limit) => this.#changes.since(revision, limit),
        dataVersion: () => dataVersion.get() ?? 0,
      },
      { pollIntervalMs: options.pollIntervalMs, logger: options.logger },
    );
    this.#commits = new GroupCommit(db, {
      beforeCommit: () => this.#changes.trim(),
      afterCommit: () => this.#feed.pump(),
      toError: (action, err) => toStoreError(action, err),
    });
    this.#volumes = new SqliteVolumes({
      write: (action, fn) => this.#write(action, fn),
      read: (action, fn) => this.#read(action, fn),
      sql: (text) => this.#sql(text),
      changes: this.#changes,
      now: () => this.#clock.now(),
      appExists: (name) => this.#appRow(name) !== undefined,
    });
    this.#secrets = new SqliteSecrets({
      write: (action, fn) => this.#write(action, fn),
      read: (action, fn) => this.#read(action, fn),
      sql: (text) => this.#sql(text),
      now: () => this.#clock.now(),
      appExists: (name) => this.#appRow(name) !== undefined,
    });
    this.#hosts = new SqliteHosts({
      write: (action, fn) => this.#write(action, fn),
      read: (action, fn) => this.#read(action, fn),
      sql: (text) => this.#sql(text),
      changes: this.#changes,
    });
    this.#peers = new SqlitePeers({
      write: (action, fn) => this.#write(action, fn),
      read: (action, fn) => this.#read(action, fn),
      sql: (text) => this.#sql(text),
      changes: this.#changes,
      appExists: (name) => this.#appRow(name) !== undefined,
    });
  }

  async createApp(app: App): Promise<App> {
    return this.#write('create app', () => {
      if (this.#appRow(app.name)) throw appExists(app.name);
      this.#sql(INSERT_APP).run(appParams(app));
      const stored = appFromRow(appParams(app));
      this.#changes.append('app', 'put', app.name, stored);
      return stored;
    });
  }

  async getApp(name: string): Promise<App | undefined> {
    return this.#read('get app', () => {
      const row = this.#appRow(name);
      return row && appFromRow(row);
    });
  }

  async listApps(filter: { orgSlug?: string } = {}): Promise<App[]> {
    return this.#read('list apps', () => {
      const rows =
        filter.orgSlug === undefined
          ? this.#sql<[], AppRow>('SELECT * FROM apps ORDER BY name').all()
          : this.#sql<[string], AppRow>('SELECT * FROM apps WHERE org_slug = ? ORDER BY name').all(filter.orgSlug);
      return rows.map(appFromRow);
    });
  }

  async deleteApp(name: string): Promise<void> {
    await this.#write('delete app', () => {
      if (!this.#appRow(name)) throw appNotFound('delete', name);
      const ids = this.#sql<[string], string>('SELECT id FROM machines WHERE app_name = ? ORDER BY created_at, id')
        .pluck()
        .all(name);
      // One change per machine, so watchers (proxy, DNS) drop each route they hold.
      for (const id of ids) this.#removeMachine(id);
      // Destroyed volumes' records go with their app (the API refuses while any is live),
      // so a new app of the same name starts with none.
      this.#sql('DELETE FROM volume_snapshots WHERE app_name = ?').run(name);
      this.#sql('DELETE FROM volumes WHERE app_name = ?').run(name);
      this.#sql('DELETE FROM apps WHERE name = ?').run(name);
      this.#changes.append('app', 'delete', name);
    });
  }

  async createMachine(machine: Machine, events: MachineEvent[] = []): Promise<Machine> {
    return this.#write('create machine', () => {
      if (!this.#appRow(machine.appName)) throw appNotFound('create machine in', machine.appName);
      if (this.#machineRow(machine.id)) throw machineIdTaken(machine.id);
      this.#checkName(machine);
      const params = machineParams(machine);
      this.#sql(INSERT_MACHINE).run(params);
      recordVersion(this.#db, params, undefined);
      this.#insertEvents(machine.id, events);
      const stored = machineFromRow(params);
      this.#changes.append('machine', 'put', machine.id, stored);
      return stored;
    });
  }

  async getMachine(id: string): Promise<Machine | undefined> {
    return this.#read('get machine', () => {
      const row = this.#machineRow(id);
      return row && machineFromRow(row);
    });
  }

  async listMachines(filter: MachineFilter = {}): Promise<Machine[]> {
    return this.#read('list machines', () => {
      const where: string[] = [];
      const params: string[] = [];
      for (const [column, value] of [
        ['app_name', filter.appName],
        ['host_id', filter.hostId],
        ['region', filter.region],
      ] as const) {
        if (value === undefined) continue;
        where.push(`${column} = ?`);
        params.push(value);
      }
      if (filter.includeDestroyed !== true) where.push(`state NOT IN (${TERMINAL_SQL})`);
      const sql = `SELECT * FROM machines${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`;
      return this.#sql<string[], MachineRow>(sql).all(...params).map(machineFromRow);
    });
  }

  async updateMachine(id: string, change: MachineChange): Promise<Machine> {
    const action = change.action ?? 'update';
    return this.#write(`${action} machine`, () => {
      const row = this.#machineRow(id);
      if (!row) throw machineNotFound(action, id);
      const next = applyMachineChange(machineFromRow(row), change, this.#clock.now());
      this.#checkName(next);
      this.#sql(UPDATE_MACHINE).run(machineParams(next));
      if (next.instanceId !== row.instance_id) recordVersion(this.#db, machineParams(next), row.instance_id);
      this.#insertEvents(id, change.events ?? []);
      const stored = machineFromRow(machineParams(next));
      this.#changes.append('machine', 'put', id, stored);
      return stored;
    });
  }

  async deleteMachine(id: string): Promise<void> {
    await this.#write('delete machine', () => {
      if (!this.#machineRow(id)) throw machineNotFound('delete', id);
      this.#removeMachine(id);
    });
  }

  async listMachineVersions(machineId: string): Promise<MachineVersion[]> {
    return this.#read('list machine versions', () => listVersions(this.#db, machineId));
  }

  async appendEvent(machineId: string, event: MachineEvent): Promise<void> {
    await this.#write('append event', () => {
      if (!this.#machineRow(machineId)) throw machineNotFound('append an event to', machineId);
      this.#insertEvents(machineId, [event]);
    });
  }

  async listEvents(machineId: string, options: { limit?: number } = {}): Promise<MachineEvent[]> {
    const { limit } = options;
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
      throw invalidField('list events', 'limit', 'a non-negative integer', limit);
    }
    return this.#read('list events', () =>
      this.#sql<[string, number], string>('SELECT json FROM machine_events WHERE machine_id = ? ORDER BY seq DESC LIMIT ?')
        .pluck()
        .all(machineId, limit ?? -1)
        .map(eventFromJson),
    );
  }

  // volumes: SqliteVolumes (volumes.ts) does the work inside this store's transactions.
  createVolume(volume: Volume): Promise<Volume> {
    return this.#volumes.createVolume(volume);
  }

  getVolume(id: string): Promise<Volume | undefined> {
    return this.#volumes.getVolume(id);
  }

  listVolumes(filter?: VolumeFilter): Promise<Volume[]> {
    return this.#volumes.listVolumes(filter);
  }

  updateVolume(id: string, change: VolumeChange): Promise<Volume> {
    return this.#volumes.updateVolume(id, change);
  }

  createSnapshot(snapshot: VolumeSnapshot): Promise<VolumeSnapshot> {
    return this.#volumes.createSnapshot(snapshot);
  }

  getSnapshot(id: string): Promise<VolumeSnapshot | undefined> {
    return this.#volumes.getSnapshot(id);
  }

  listSnapshots(volumeId: string): Promise<VolumeSnapshot[]> {
    return this.#volumes.listSnapshots(volumeId);
  }

  updateSnapshot(id: string, patch: SnapshotPatch): Promise<VolumeSnapshot> {
    return this.#volumes.updateSnapshot(id, patch);
  }

  // secrets: SqliteSecrets (secrets.ts), ciphertexts only; they go with their app (ON DELETE CASCADE)
  getOrgDataKey(orgSlug: string): Promise<OrgDataKey | undefined> {
    return this.#secrets.getOrgDataKey(orgSlug);
  }

  putOrgDataKey(key: OrgDataKey): Promise<OrgDataKey> {
    return this.#secrets.putOrgDataKey(key);
  }

  listSecrets(appName: string): Promise<StoredSecret[]> {
    return this.#secrets.listSecrets(appName);
  }

  writeSecrets(appName: string, write: SecretsWrite): Promise<StoredSecret[]> {
    return this.#secrets.writeSecrets(appName, write);
  }

  markSecretsDeployed(appName: string, seen: readonly { name: string; updatedAt: number }[]): Promise<StoredSecret[]> {
    return this.#secrets.markSecretsDeployed(appName, seen);
  }

  // user peers, their gateways and apps' private IPs: SqlitePeers (peers.ts)
  putPeerGateway(gateway: PeerGatewayRecord): Promise<PeerGatewayRecord> {
    return this.#peers.putPeerGateway(gateway);
  }

  listPeerGateways(filter?: { region?: string }): Promise<PeerGatewayRecord[]> {
    return this.#peers.listPeerGateways(filter);
  }

  createPeer(peer: UserPeer): Promise<UserPeer> {
    return this.#peers.createPeer(peer);
  }

  getPeer(org: string, name: string): Promise<UserPeer | undefined> {
    return this.#peers.getPeer(org, name);
  }

  listPeers(filter?: PeerFilter): Promise<UserPeer[]> {
    return this.#peers.listPeers(filter);
  }

  deletePeer(org: string, name: string): Promise<void> {
    return this.#peers.deletePeer(org, name);
  }

  createIp(ip: AppIp): Promise<AppIp> {
    return this.#peers.createIp(ip);
  }

  getIp(address: string): Promise<AppIp | undefined> {
    return this.#peers.getIp(address);
  }

  listIps(filter?: IpFilter): Promise<AppIp[]> {
    return this.#peers.listIps(filter);
  }

  deleteIp(address: string): Promise<void> {
    return this.#peers.deleteIp(address);
  }

  // hosts: SqliteHosts (hosts.ts), cluster mode's registry and the HostMonitor's role
  registerHost(registration: HostRegistration, now: number): Promise<HostRecord> {
    return this.#hosts.registerHost(registration, now);
  }

  getHost(id: string): Promise<HostRecord | undefined> {
    return this.#hosts.getHost(id);
  }

  listHosts(filter?: HostFilter): Promise<HostRecord[]> {
    return this.#hosts.listHosts(filter);
  }

  heartbeatHost(id: string, now: number): Promise<HostRecord> {
    return this.#hosts.heartbeatHost(id, now);
  }

  markHostDown(id: string, change: { reason: string; expectHeartbeatAt: number }): Promise<HostRecord> {
    return this.#hosts.markHostDown(id, change);
  }

  removeHost(id: string): Promise<void> {
    return this.#hosts.removeHost(id);
  }

  claimRole(request: { role: string; holder: string; ttlMs: number; now: number }): Promise<RoleLease | undefined> {
    return this.#hosts.claimRole(request);
  }

  releaseRole(role: string, holder: string): Promise<void> {
    return this.#hosts.releaseRole(role, holder);
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.#read('get meta', () => this.#sql<[string], string>('SELECT value FROM meta WHERE key = ?').pluck().get(key));
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.#write('set meta', () => {
      this.#sql('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(
        key,
        value,
      );
    });
  }

  async nextSequence(name: string): Promise<number> {
    return this.#write('take the next sequence number', () => {
      const value = this.#sql<[string], number>(NEXT_SEQUENCE).pluck().get(name);
      return value ?? 0;
    });
  }

  // leases (sqlite/leases.ts); not published as changes: no watcher follows them
  async acquireLease(request: AcquireLeaseRequest): Promise<Lease> {
    return this.#write('acquire lease', () => acquireLeaseIn(this.#db, request));
  }

  async getLease(machineId: string, now: number): Promise<Lease | undefined> {
    return this.#read('get lease', () => readLease(this.#db, machineId, now));
  }

  async releaseLease(machineId: string, nonce: string, now: number): Promise<void> {
    await this.#write('release lease', () => releaseLeaseIn(this.#db, machineId, nonce, now));
  }

  // releases (sqlite/releases.ts); not published as changes: the deploy engine streams their events itself
  async createRelease(release: NewRelease): Promise<Release> {
    return this.#write('create release', () => insertRelease(this.#db, release));
  }

  async getRelease(appName: string, version: number): Promise<Release | undefined> {
    return this.#read('get release', () => readRelease(this.#db, appName, version));
  }

  async listReleases(appName: string, filter?: { statuses?: readonly ReleaseStatus[]; limit?: number }): Promise<Release[]> {
    return this.#read('list releases', () => readReleases(this.#db, appName, filter));
  }

  async updateRelease(id: string, patch: ReleasePatch, now: number): Promise<Release> {
    return this.#write('update release', () => patchRelease(this.#db, id, patch, now));
  }

  async appendReleaseEvent(id: string, data: Record<string, unknown>, now: number): Promise<ReleaseEvent> {
    return this.#write('record a deploy event', () => insertReleaseEvent(this.#db, id, data, now));
  }

  async listReleaseEvents(id: string, afterSeq?: number): Promise<ReleaseEvent[]> {
    return this.#read('list deploy events', () => readReleaseEvents(this.#db, id, afterSeq));
  }

  // orgs and tokens (sqlite/auth.ts)
  async createOrg(org: Org): Promise<Org> {
    return this.#write('create org', () => insertOrg(this.#db, org));
  }

  async getOrg(slug: string): Promise<Org | undefined> {
    return this.#read('get org', () => readOrg(this.#db, slug));
  }

  async listOrgs(): Promise<Org[]> {
    return this.#read('list orgs', () => readOrgs(this.#db));
  }

  async createToken(token: ApiToken): Promise<ApiToken> {
    return this.#write('create token', () => insertToken(this.#db, token));
  }

  async findTokenByHash(hash: string): Promise<ApiToken | undefined> {
    return this.#read('find token', () => readTokenByHash(this.#db, hash));
  }

  async listTokens(filter: { orgSlug?: string } = {}): Promise<ApiToken[]> {
    return this.#read('list tokens', () => readTokens(this.#db, filter));
  }

  async revokeToken(id: string, now: number): Promise<ApiToken> {
    return this.#write('revoke token', () => markTokenRevoked(this.#db, id, now));
  }

  async revision(): Promise<number> {
    return this.#read('read the revision', () => this.#changes.head());
  }

  watch(listener: ChangeListener, options: WatchOptions = {}): () => void {
    return this.#feed.watch(listener, options);
  }

  async close(): Promise<void> {
    // Writes already queued were promised a commit: make it before closing.
    if (this.#db.open) this.#commits.flush();
    this.#feed.close();
    if (this.#db.open) this.#db.close();
  }

  /**
   * Runs `fn` in a transaction shared with the other writes of this event-loop turn
   * (group-commit.ts), then delivers what it logged to watchers before resolving.
   */
  #write<T>(action: string, fn: () => T): Promise<T> {
    if (!this.#db.open) return Promise.reject(storeClosed(action));
    return this.#commits.run(action, fn);
  }

  #read<T>(action: string, fn: () => T): T {
    return this.#guard(action, fn);
  }

  /** Turns driver failures (closed handle, I/O, constraint backstops) into STORE_FAILED. */
  #guard<T>(action: string, fn: () => T): T {
    if (!this.#db.open) throw storeClosed(action);
    try {
      return fn();
    } catch (err) {
      throw toStoreError(action, err);
    }
  }

  /** Prepared statements, cached: most calls run the same few SQL texts. */
  #sql<P extends unknown[] = unknown[], R = unknown>(text: string): Statement<P, R> {
    let statement = this.#statements.get(text);
    if (statement === undefined) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement as Statement<P, R>;
  }

  #appRow(name: string): AppRow | undefined {
    return this.#sql<[string], AppRow>('SELECT * FROM apps WHERE name = ?').get(name);
  }

  #machineRow(id: string): MachineRow | undefined {
    return this.#sql<[string], MachineRow>('SELECT * FROM machines WHERE id = ?').get(id);
  }

  /** Names are unique among an app's machines that are not in a terminal state. */
  #checkName(machine: Machine): void {
    if (isTerminal(machine.state)) return;
    const other = this.#sql<[string, string, string], string>(LIVE_NAME_HOLDER)
      .pluck()
      .get(machine.appName, machine.name, machine.id);
    if (other !== undefined) throw machineNameTaken(machine, other);
  }

  #insertEvents(machineId: string, events: readonly MachineEvent[]): void {
    const insert = this.#sql('INSERT INTO machine_events (machine_id, json) VALUES (?, ?)');
    for (const event of events) insert.run(machineId, JSON.stringify(event));
  }

  /** Deletes a machine (its events cascade) and logs the change. */
  #removeMachine(id: string): void {
    this.#sql('DELETE FROM machines WHERE id = ?').run(id);
    this.#changes.append('machine', 'delete', id);
  }
}

/** AloftErrors pass as they are; anything the driver threw becomes STORE_FAILED. */
function toStoreError(action: string, err: unknown): AloftError {
  if (err instanceof AloftError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AloftError('STORE_FAILED', `Cannot ${action} as the SQLite store failed: ${message}`, { cause: err });
}
