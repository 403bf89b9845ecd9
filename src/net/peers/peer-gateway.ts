import { execCommand, mustRun, type CommandRunner } from '../../lib/command.ts';
import { invalidField } from '../../lib/errors.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { Change, Store } from '../../store/store.ts';
import { publicKeyOf } from '../wireguard/keys.ts';
import { WireguardSupervisor } from '../wireguard/supervisor.ts';
import { TunnelInterface, WIREGUARD_MTU } from '../wireguard/tunnel-interface.ts';
import type { UapiClient } from '../wireguard/uapi-client.ts';
import { checkEndpoint } from '../wireguard/uapi-protocol.ts';
import { peerPrefix, planPeers, type PeerChanges } from './peer-plan.ts';

/** What the gateway reads and writes in the store. */
export type PeerGatewayStore = Pick<Store, 'listPeers' | 'putPeerGateway' | 'watch'>;

/** Options of {@link PeerGateway}. */
export interface PeerGatewayOptions {
  store: PeerGatewayStore;
  /** This host's id, region and 6PN number. */
  hostId: string;
  region: string;
  hostNumber: number;
  /** The gateway device's private key, base64 (loadOrCreateHostKey on its own file). */
  privateKey: string;
  /** UDP port the device listens on. */
  listenPort: number;
  /** What laptops are told to connect to: `host:port`, reachable from them. */
  endpoint: string;
  /** Interface name (default "aloft-peers"); not the mesh's, whose peers are hosts only. */
  iface?: string;
  /** The host's network namespace (a name under /var/run/netns); the root one when absent. */
  netns?: string | undefined;
  /** This gateway's own directory for its UAPI socket (see WireguardSupervisor). */
  socketDir: string;
  /**
   * The host's Machine bridge. Peers' addresses sit in the gateway host's /80 of their org,
   * which is on-link there: Machines on this host would look for a peer by neighbour
   * discovery, so the gateway answers for each peer on the bridge (proxy NDP).
   */
  bridge?: string;
  binary?: string;
  run?: CommandRunner;
  log?: Logger;
}

/**
 * The host side of user peers: a wireguard-go device of its own (the mesh device's
 * peers are kept equal to the hosts, so user peers would be removed there), whose
 * peers are kept equal to the store's peers for this host, each with its /128 as its
 * allowed IP and a route over the device. It publishes its key and endpoint in the store
 * (`putPeerGateway`), which is how `aloft wireguard create` finds it. Reconciles on
 * start, after every daemon restart, and on every `peer` change; only differences are
 * sent. The host must forward IPv6 (it does as a 6PN host).
 */
export class PeerGateway {
  readonly supervisor: WireguardSupervisor;
  readonly tunnel: TunnelInterface;
  readonly publicKey: string;
  readonly #options: PeerGatewayOptions;
  readonly #log: Logger;
  readonly #run: CommandRunner;
  #unwatch: (() => void) | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #pending: Promise<PeerChanges> | undefined;
  readonly #listeners = new Set<(changes: PeerChanges) => void>();

  constructor(options: PeerGatewayOptions) {
    if (!Number.isInteger(options.listenPort) || options.listenPort < 1 || options.listenPort > 65_535) {
      throw invalidField('start WireGuard peer gateway', 'listenPort', 'an integer from 1 to 65535', options.listenPort);
    }
    checkEndpoint('start WireGuard peer gateway', 'endpoint', options.endpoint);
    const iface = options.iface ?? 'aloft-peers';
    this.#options = options;
    this.#log = (options.log ?? silentLogger).child({ part: 'peer-gateway' });
    this.#run = options.run ?? execCommand;
    this.publicKey = publicKeyOf(options.privateKey);
    this.tunnel = new TunnelInterface({ iface, netns: options.netns, run: this.#run });
    this.supervisor = new WireguardSupervisor({
      iface,
      netns: options.netns,
      socketDir: options.socketDir,
      ...(options.binary !== undefined ? { binary: options.binary } : {}),
      onStart: (client) => this.#serial(() => this.#bringUp(client)),
      log: this.#log,
    });
  }

  /** The device's UAPI client. */
  get client(): UapiClient {
    return this.supervisor.client;
  }

  /** Publishes the gateway, starts wireguard-go with the store's peers, then follows the store. */
  async start(): Promise<void> {
    const o = this.#options;
    await o.store.putPeerGateway({ hostId: o.hostId, region: o.region, hostNumber: o.hostNumber, publicKey: this.publicKey, endpoint: o.endpoint, updatedAt: Date.now() });
    this.#unwatch = o.store.watch((change) => this.#onChange(change));
    await this.supervisor.start();
  }

  async stop(): Promise<void> {
    this.#unwatch?.();
    this.#unwatch = undefined;
    await this.supervisor.stop();
  }

  /** Calls `listener` after each reconcile (tests wait on this, not on time). */
  onReconciled(listener: (changes: PeerChanges) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Makes the device's peers and routes equal to the store's now; what changed. */
  sync(): Promise<PeerChanges> {
    // Changes arriving while one reconcile waits join it: it reads the store when it runs.
    this.#pending ??= this.#serial(async () => {
      this.#pending = undefined;
      return this.#reconcile(this.client);
    });
    return this.#pending;
  }

  #onChange(change: Change): void {
    if (change.kind !== 'peer' || this.supervisor.pid === undefined) return;
    this.sync().catch((err: unknown) => this.#log.error({ err }, 'peer gateway: reconcile failed'));
  }

  async #bringUp(client: UapiClient): Promise<void> {
    await client.set({ privateKey: this.#options.privateKey, listenPort: this.#options.listenPort });
    const netns = this.#options.netns;
    const args = ['link', 'set', this.tunnel.iface, 'mtu', String(WIREGUARD_MTU), 'up'];
    await mustRun(this.#run, 'ip', netns === undefined ? args : ['-n', netns, ...args], { timeoutMs: 15_000, errorCode: 'WIREGUARD_FAILED' });
    await this.#reconcile(client);
  }

  async #reconcile(client: UapiClient): Promise<PeerChanges> {
    const desired = await this.#options.store.listPeers({ gatewayHostId: this.#options.hostId });
    const { peers, changes } = planPeers(await client.get(), desired);
    if (peers.length > 0) await client.set({ peers });
    const routes = await this.tunnel.setRoutes(desired.map(peerPrefix));
    if (this.#options.bridge !== undefined) await this.#proxyNeighbours(this.#options.bridge, desired.map((peer) => peerPrefix(peer).slice(0, -'/128'.length)));
    if (peers.length > 0 || routes.added.length > 0 || routes.removed.length > 0) this.#log.info({ ...changes, routes }, 'peer gateway reconciled');
    for (const listener of this.#listeners) listener(changes);
    return changes;
  }

  /** Makes the bridge's 6PN proxy-NDP entries exactly the peers' addresses. */
  async #proxyNeighbours(bridge: string, addresses: readonly string[]): Promise<void> {
    const netns = this.#options.netns;
    const ip = (args: string[]): Promise<string> =>
      mustRun(this.#run, 'ip', netns === undefined ? args : ['-n', netns, ...args], { timeoutMs: 15_000, errorCode: 'WIREGUARD_FAILED' });
    const sysctl = ['sysctl', '-qw', `net.ipv6.conf.${bridge}.proxy_ndp=1`];
    await mustRun(this.#run, netns === undefined ? 'sysctl' : 'ip', netns === undefined ? sysctl.slice(1) : ['netns', 'exec', netns, ...sysctl], { timeoutMs: 15_000, errorCode: 'WIREGUARD_FAILED' });
    const listed = await ip(['-j', '-6', 'neigh', 'show', 'proxy', 'dev', bridge]);
    const have = ((listed.trim() === '' ? [] : JSON.parse(listed)) as { dst?: unknown }[])
      .map((entry) => (typeof entry.dst === 'string' ? entry.dst : ''))
      .filter((dst) => dst.startsWith('fdaa:'));
    const want = new Set(addresses);
    for (const dst of have) if (!want.has(dst)) await ip(['-6', 'neigh', 'del', 'proxy', dst, 'dev', bridge]);
    for (const dst of want) if (!have.includes(dst)) await ip(['-6', 'neigh', 'add', 'proxy', dst, 'dev', bridge]);
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
