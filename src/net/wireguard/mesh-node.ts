import type { CommandRunner } from '../../lib/command.ts';
import { invalidField } from '../../lib/errors.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import { publicKeyOf } from './keys.ts';
import { DEFAULT_KEEPALIVE_SECONDS, meshPrefixes, planMesh, type MeshChanges, type MeshPeer } from './mesh-plan.ts';
import { hostSixpnAddress } from './prefixes.ts';
import { WireguardSupervisor } from './supervisor.ts';
import { TunnelInterface } from './tunnel-interface.ts';
import type { UapiClient } from './uapi-client.ts';

/** Options of {@link MeshNode}. */
export interface MeshNodeOptions {
  /** Tunnel interface name (default "aloft-wg"). */
  iface?: string;
  /** The host's network namespace (a name under /var/run/netns); the root one when absent. */
  netns?: string | undefined;
  /** This host's directory for the UAPI socket (see WireguardSupervisor). */
  socketDir: string;
  /** The host's private key, base64 (from loadOrCreateHostKey). */
  privateKey: string;
  /** UDP port wireguard-go listens on (the endpoint other hosts are given). */
  listenPort: number;
  /** The host's 32-bit number in 6PN addresses; its tunnel holds fdaa:0:0:<host>::1. */
  hostNumber: number;
  /** Seconds between keepalives (default 25). */
  keepalive?: number;
  /** wireguard-go binary (default on PATH). */
  binary?: string;
  /** Restart backoff of the daemon (default 100 ms → 10 s). */
  backoff?: { initialMs: number; maxMs: number };
  /** Runs `ip`; injected by unit tests. */
  run?: CommandRunner;
  log?: Logger;
}

/**
 * One host's place in the WireGuard mesh: its supervised wireguard-go, the tunnel's
 * address and routes, and its peers kept equal to the desired set of other hosts.
 * After a restart of the daemon, the whole state (key, port, link, peers, routes) is
 * applied again from what was last asked, before the supervisor reports `ready`.
 */
export class MeshNode {
  readonly supervisor: WireguardSupervisor;
  readonly tunnel: TunnelInterface;
  readonly publicKey: string;
  readonly address: string;
  readonly #options: MeshNodeOptions;
  readonly #log: Logger;
  #desired: readonly MeshPeer[] = [];
  /** One reconcile at a time: a restart's re-apply and a caller's update never interleave. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: MeshNodeOptions) {
    const iface = options.iface ?? 'aloft-wg';
    if (!Number.isInteger(options.listenPort) || options.listenPort < 1 || options.listenPort > 65_535) {
      throw invalidField('start WireGuard mesh', 'listenPort', 'an integer from 1 to 65535', options.listenPort);
    }
    this.#options = options;
    this.#log = (options.log ?? silentLogger).child({ part: 'mesh' });
    this.publicKey = publicKeyOf(options.privateKey);
    this.address = hostSixpnAddress(options.hostNumber);
    this.tunnel = new TunnelInterface({ iface, netns: options.netns, ...(options.run ? { run: options.run } : {}) });
    this.supervisor = new WireguardSupervisor({
      iface,
      netns: options.netns,
      socketDir: options.socketDir,
      ...(options.binary !== undefined ? { binary: options.binary } : {}),
      ...(options.backoff !== undefined ? { backoff: options.backoff } : {}),
      onStart: (client) => this.#serial(() => this.#bringUp(client)),
      log: this.#log,
    });
  }

  /** The daemon's UAPI client (for reading peers and handshakes). */
  get client(): UapiClient {
    return this.supervisor.client;
  }

  /** Starts wireguard-go and configures it with the peers set so far. */
  async start(): Promise<void> {
    await this.supervisor.start();
  }

  /** Stops wireguard-go (its interface and routes go with it). */
  async stop(): Promise<void> {
    await this.supervisor.stop();
  }

  /**
   * Makes the mesh exactly `peers` (validated first: nothing is changed when one is
   * bad). Applies only the differences, in one UAPI set, then fixes the routes. When
   * the daemon is not running, the set is kept for its next start.
   */
  async setPeers(peers: readonly MeshPeer[]): Promise<MeshChanges> {
    meshPrefixes(peers);
    planMesh({ hasPrivateKey: true, listenPort: 0, peers: [] }, peers, { selfPublicKey: this.publicKey });
    this.#desired = peers;
    if (this.supervisor.pid === undefined) return { added: [], removed: [], updated: [] };
    return this.#serial(() => this.#reconcile(this.client));
  }

  async #bringUp(client: UapiClient): Promise<void> {
    await client.set({ privateKey: this.#options.privateKey, listenPort: this.#options.listenPort });
    await this.tunnel.configure(this.address);
    // Peers after the link is up: wireguard-go then sends its first keepalive (and so a
    // handshake) at once, instead of waiting for traffic or the keepalive timer.
    await this.#reconcile(client);
  }

  async #reconcile(client: UapiClient): Promise<MeshChanges> {
    const current = await client.get();
    const { peers, changes } = planMesh(current, this.#desired, {
      keepalive: this.#options.keepalive ?? DEFAULT_KEEPALIVE_SECONDS,
      selfPublicKey: this.publicKey,
    });
    if (peers.length > 0) await client.set({ peers });
    const routes = await this.tunnel.setRoutes(meshPrefixes(this.#desired));
    if (peers.length > 0 || routes.added.length > 0 || routes.removed.length > 0) this.#log.info({ ...changes, routes }, 'mesh reconciled');
    return changes;
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
