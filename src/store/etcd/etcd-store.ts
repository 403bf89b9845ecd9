import type { Etcd3 } from 'etcd3';
import type { Clock } from '../../lib/clock.ts';
import { AloftError, invalidField } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { isTerminal, type App, type Machine, type MachineEvent, type Volume, type VolumeSnapshot } from '../../model/index.ts';
import type { ApiToken, Org } from '../auth-store.ts';
import type { HostFilter, HostRecord, HostRegistration, RoleLease } from '../host-store.ts';
import type { AppIp, IpFilter, PeerFilter, PeerGatewayRecord, UserPeer } from '../peer-store.ts';
import type { AcquireLeaseRequest, Lease } from '../lease-store.ts';
import { applyMachineChange } from '../machine-change.ts';
import type { NewRelease, Release, ReleaseEvent, ReleasePatch, ReleaseStatus } from '../release-store.ts';
import type { OrgDataKey, SecretsWrite, StoredSecret } from '../secret-store.ts';
import { appExists, appNotFound, machineIdTaken, machineNotFound, storeClosed } from '../store-errors.ts';
import type { ChangeListener, MachineChange, MachineFilter, MachineVersion, Store, WatchOptions } from '../store.ts';
import type { SnapshotPatch, VolumeChange, VolumeFilter } from '../volume-store.ts';
import { stageAppRemoval } from './app-removal.ts';
import { EtcdAuth } from './auth.ts';
import { normalizeMachine } from './codec.ts';
import { getJson, listJson, type EtcdContext } from './context.ts';
import { EtcdWatch } from './etcd-watch.ts';
import type { EtcdKeys } from './keys.ts';
import { EtcdHosts } from './hosts.ts';
import { EtcdLeases } from './leases.ts';
import { EtcdPeers } from './peers.ts';
import { byCreation, compareText } from './order.ts';
import { indexIds, readEvents, readVersions, stageEvents, stageMachine, stageMachineRemoval } from './machine-records.ts';
import { EtcdReleases } from './releases.ts';
import { EtcdSecrets } from './secrets.ts';
import { transact, Tx } from './transaction.ts';
import { EtcdVolumes } from './volumes.ts';

/**
 * The cluster Store on etcd. Records are JSON values under one key prefix (keys.ts);
 * every write is one optimistic etcd transaction (transaction.ts), so two API processes
 * on two hosts cannot both win a race; the store's revision is etcd's revision, and
 * `watch` is an etcd watch on the prefix (etcd-watch.ts). Build one with openEtcdStore().
 */
export class EtcdStore implements Store {
  readonly #client: Etcd3;
  readonly #keys: EtcdKeys;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #watches = new Set<EtcdWatch>();
  readonly #ctx: EtcdContext;
  readonly #volumes: EtcdVolumes;
  readonly #leases: EtcdLeases;
  readonly #auth: EtcdAuth;
  readonly #releases: EtcdReleases;
  readonly #secrets: EtcdSecrets;
  readonly #hosts: EtcdHosts;
  readonly #peers: EtcdPeers;
  /** The newest revision this store has seen: where a watch without fromRevision starts. */
  #seen = 0;
  #closed = false;
  readonly #maxTxnOps: number;

  /** Use openEtcdStore(), which connects and seeds the store first. */
  constructor(client: Etcd3, options: { keys: EtcdKeys; clock: Clock; logger: Logger; revision: number; maxTxnOps: number }) {
    this.#client = client;
    this.#keys = options.keys;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#seen = options.revision;
    this.#maxTxnOps = options.maxTxnOps;
    this.#ctx = {
      client,
      keys: this.#keys,
      now: () => this.#clock.now(),
      write: (action, fn) => this.#write(action, fn),
      read: (action, fn) => this.#read(action, fn),
    };
    this.#volumes = new EtcdVolumes(this.#ctx);
    this.#leases = new EtcdLeases(this.#ctx);
    this.#auth = new EtcdAuth(this.#ctx);
    this.#releases = new EtcdReleases(this.#ctx);
    this.#secrets = new EtcdSecrets(this.#ctx);
    this.#hosts = new EtcdHosts(this.#ctx);
    this.#peers = new EtcdPeers(this.#ctx);
  }

  async createApp(app: App): Promise<App> {
    return this.#write('create app', async (tx) => {
      if (await tx.get(this.#keys.app(app.name))) throw appExists(app.name);
      tx.putJson(this.#keys.app(app.name), app);
      return { ...app };
    });
  }

  async getApp(name: string): Promise<App | undefined> {
    return this.#read('get app', (tx) => getJson<App>(tx, this.#keys.app(name)));
  }

  async listApps(filter: { orgSlug?: string } = {}): Promise<App[]> {
    const apps = await this.#read('list apps', (tx) => listJson<App>(tx, this.#keys.dir('apps')));
    return apps.filter((a) => filter.orgSlug === undefined || a.orgSlug === filter.orgSlug).sort((a, b) => compareText(a.name, b.name));
  }

  async deleteApp(name: string): Promise<void> {
    // Several transactions when the app has more records than one may hold (app-removal.ts).
    while (!(await this.#write('delete app', (tx) => stageAppRemoval(tx, this.#keys, name, this.#maxTxnOps)))) {
      // Each round removed some whole records; the next reads what is left.
    }
  }

  async createMachine(machine: Machine, events: MachineEvent[] = []): Promise<Machine> {
    return this.#write('create machine', async (tx) => {
      if (!(await tx.get(this.#keys.app(machine.appName)))) throw appNotFound('create machine in', machine.appName);
      if (await tx.get(this.#keys.machine(machine.id))) throw machineIdTaken(machine.id);
      const stored = normalizeMachine(machine);
      await stageMachine(tx, this.#keys, stored, undefined);
      stageEvents(tx, this.#keys, machine.id, events);
      return stored;
    });
  }

  async getMachine(id: string): Promise<Machine | undefined> {
    return this.#read('get machine', (tx) => getJson<Machine>(tx, this.#keys.machine(id)));
  }

  async listMachines(filter: MachineFilter = {}): Promise<Machine[]> {
    const machines = await this.#read('list machines', async (tx) => {
      // The narrowest index first; the other filters apply to what it gives.
      const index =
        filter.appName !== undefined
          ? this.#keys.dir('idx', 'machine-app', filter.appName)
          : filter.hostId !== undefined
            ? this.#keys.dir('idx', 'machine-host', filter.hostId)
            : undefined;
      if (index === undefined) return listJson<Machine>(tx, this.#keys.dir('machines'));
      const ids = await indexIds(tx, index);
      return (await Promise.all(ids.map((id) => getJson<Machine>(tx, this.#keys.machine(id))))).filter((m) => m !== undefined);
    });
    return machines
      .filter(
        (m) =>
          (filter.appName === undefined || m.appName === filter.appName) &&
          (filter.hostId === undefined || m.hostId === filter.hostId) &&
          (filter.region === undefined || m.region === filter.region) &&
          (filter.includeDestroyed === true || !isTerminal(m.state)),
      )
      .sort(byCreation);
  }

  async updateMachine(id: string, change: MachineChange): Promise<Machine> {
    const action = change.action ?? 'update';
    return this.#write(`${action} machine`, async (tx) => {
      const current = await getJson<Machine>(tx, this.#keys.machine(id));
      if (!current) throw machineNotFound(action, id);
      const next = normalizeMachine(applyMachineChange(current, change, this.#clock.now()));
      await stageMachine(tx, this.#keys, next, current);
      stageEvents(tx, this.#keys, id, change.events ?? []);
      return next;
    });
  }

  async deleteMachine(id: string): Promise<void> {
    await this.#write('delete machine', async (tx) => {
      const current = await getJson<Machine>(tx, this.#keys.machine(id));
      if (!current) throw machineNotFound('delete', id);
      stageMachineRemoval(tx, this.#keys, current);
    });
  }

  async listMachineVersions(machineId: string): Promise<MachineVersion[]> {
    return this.#read('list machine versions', (tx) => readVersions(tx, this.#keys, machineId));
  }

  async appendEvent(machineId: string, event: MachineEvent): Promise<void> {
    await this.#write('append event', async (tx) => {
      if (!(await tx.get(this.#keys.machine(machineId)))) throw machineNotFound('append an event to', machineId);
      stageEvents(tx, this.#keys, machineId, [event]);
    });
  }

  async listEvents(machineId: string, options: { limit?: number } = {}): Promise<MachineEvent[]> {
    const { limit } = options;
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
      throw invalidField('list events', 'limit', 'a non-negative integer', limit);
    }
    const events = await this.#read('list events', (tx) => readEvents(tx, this.#keys, machineId));
    return limit === undefined ? events : events.slice(0, limit);
  }

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

  acquireLease(request: AcquireLeaseRequest): Promise<Lease> {
    return this.#leases.acquireLease(request);
  }

  getLease(machineId: string, now: number): Promise<Lease | undefined> {
    return this.#leases.getLease(machineId, now);
  }

  releaseLease(machineId: string, nonce: string, now: number): Promise<void> {
    return this.#leases.releaseLease(machineId, nonce, now);
  }

  createOrg(org: Org): Promise<Org> {
    return this.#auth.createOrg(org);
  }

  getOrg(slug: string): Promise<Org | undefined> {
    return this.#auth.getOrg(slug);
  }

  listOrgs(): Promise<Org[]> {
    return this.#auth.listOrgs();
  }

  createToken(token: ApiToken): Promise<ApiToken> {
    return this.#auth.createToken(token);
  }

  findTokenByHash(hash: string): Promise<ApiToken | undefined> {
    return this.#auth.findTokenByHash(hash);
  }

  listTokens(filter?: { orgSlug?: string }): Promise<ApiToken[]> {
    return this.#auth.listTokens(filter);
  }

  revokeToken(id: string, now: number): Promise<ApiToken> {
    return this.#auth.revokeToken(id, now);
  }

  createRelease(release: NewRelease): Promise<Release> {
    return this.#releases.createRelease(release);
  }

  getRelease(appName: string, version: number): Promise<Release | undefined> {
    return this.#releases.getRelease(appName, version);
  }

  listReleases(appName: string, filter?: { statuses?: readonly ReleaseStatus[]; limit?: number }): Promise<Release[]> {
    return this.#releases.listReleases(appName, filter);
  }

  updateRelease(id: string, patch: ReleasePatch, now: number): Promise<Release> {
    return this.#releases.updateRelease(id, patch, now);
  }

  appendReleaseEvent(id: string, data: Record<string, unknown>, now: number): Promise<ReleaseEvent> {
    return this.#releases.appendReleaseEvent(id, data, now);
  }

  listReleaseEvents(id: string, afterSeq?: number): Promise<ReleaseEvent[]> {
    return this.#releases.listReleaseEvents(id, afterSeq);
  }

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

  async getMeta(key: string): Promise<string | undefined> {
    return this.#read('get meta', async (tx) => (await tx.get(this.#keys.key('meta', key)))?.value.toString());
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.#write('set meta', async (tx) => {
      tx.put(this.#keys.key('meta', key), value);
    });
  }

  /**
   * The counter is the etcd version of `seq/<name>`: each put bumps it by one, and a
   * transaction that puts then reads the key returns the number its own put made, so
   * concurrent callers never share one and never retry.
   */
  async nextSequence(name: string): Promise<number> {
    return this.#guard('take the next sequence number', async () => {
      const key = Buffer.from(this.#keys.key('seq', name));
      const res = await this.#client.kv.txn({
        compare: [],
        success: [{ request_put: { key, value: Buffer.alloc(0) } }, { request_range: { key } }],
        failure: [],
      });
      this.#saw(Number(res.header.revision));
      return Number(res.responses[1]?.response_range.kvs[0]?.version ?? 0);
    });
  }

  async revision(): Promise<number> {
    return this.#guard('read the revision', async () => {
      const res = await this.#client.kv.range({ key: Buffer.from(this.#keys.prefix), count_only: true });
      const revision = Number(res.header.revision);
      this.#saw(revision);
      return revision;
    });
  }

  /**
   * See Store.watch. Without `fromRevision`, "now" is the newest revision this store has
   * seen (every write it has resolved, every read it has made): a store that has not read
   * since another process wrote may replay those writes too. Watch from a revision read
   * with `revision()` for an exact start. A compacted position stops the watch through
   * `onError` (etcd answers the watch, not this call, so it cannot throw here).
   */
  watch(listener: ChangeListener, options: WatchOptions = {}): () => void {
    if (this.#closed) throw storeClosed('watch the store');
    const { fromRevision } = options;
    if (fromRevision !== undefined && !(Number.isSafeInteger(fromRevision) && fromRevision >= 0)) {
      throw invalidField('watch the store', 'fromRevision', 'a non-negative integer', fromRevision);
    }
    const watch: EtcdWatch = new EtcdWatch({
      client: this.#client,
      keys: this.#keys,
      listener,
      onError: options.onError,
      // "Now" is the newest revision this store has seen: every write it has resolved is before it.
      fromRevision: fromRevision ?? this.#seen,
      logger: this.#log,
      onStop: () => this.#watches.delete(watch),
    });
    this.#watches.add(watch);
    return () => watch.stop();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const watch of [...this.#watches]) watch.stop();
    this.#client.close();
  }

  async #write<T>(action: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#guard(action, async () => {
      // The first attempt may start from the nearest member's state (no quorum round trip),
      // as long as that holds everything this store has seen (transaction.ts).
      const { result, revision } = await transact(this.#client, action, fn, { optimistic: { minRevision: this.#seen } });
      this.#saw(revision);
      return result;
    });
  }

  async #read<T>(action: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#guard(action, async () => {
      const tx = new Tx(this.#client);
      const result = await fn(tx);
      if (tx.revision !== undefined) this.#saw(tx.revision);
      return result;
    });
  }

  /** Refuses a closed store; etcd failures become STORE_FAILED, AloftErrors pass as they are. */
  async #guard<T>(action: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw storeClosed(action);
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AloftError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      throw new AloftError('STORE_FAILED', `Cannot ${action} as the etcd store failed: ${message}`, { cause: err });
    }
  }

  #saw(revision: number): void {
    if (revision > this.#seen) this.#seen = revision;
  }
}
