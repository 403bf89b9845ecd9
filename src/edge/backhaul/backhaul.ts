import { join } from 'node:path';
import { HostHeartbeat } from '../../cluster/host-heartbeat.ts';
import { commandFailed, execCommand, type CommandOptions } from '../../lib/command.ts';
import { AloftError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { loadOrCreateHostKey, MeshNode, type MeshPeer } from '../../net/wireguard/index.ts';
import { meshPeers } from '../../platform/private-policy.ts';
import { underlayEndpoint } from '../../platform/private-network.ts';
import { hostRole, type HostRecord } from '../../store/host-store.ts';
import type { Store } from '../../store/store.ts';
import { edgeRegistration } from './edge-registration.ts';
import { coalesce } from '../../lib/coalesce.ts';
import { freeUdpPort } from '../../lib/free-udp-port.ts';

/** The tunnel interface of an edge's wireguard-go. */
export const BACKHAUL_INTERFACE = 'aloft-edge-wg';
/** The edge's key, beside (never shared with) an agent's `wireguard.key` in the same data dir. */
export const BACKHAUL_KEY_FILE = 'edge-wireguard.key';

/** Options of {@link startBackhaul} (`aloft proxy --edge-id … --host-number … --underlay … --mesh-port …`). */
export interface BackhaulOptions {
  store: Store;
  /** This edge's id in the host registry (must not be a host's). */
  edgeId: string;
  region: string;
  /** Its number in 6PN network 0, unique among hosts and edges. */
  hostNumber: number;
  /** The IP address hosts reach this edge's mesh port at. */
  underlay: string;
  /** The UDP port of its wireguard-go (0: any free one). */
  meshPort: number;
  /** Holds the key (`edge-wireguard.key`) and wireguard-go's socket directory. */
  dataDir: string;
  heartbeatIntervalMs?: number;
  log: Logger;
}

/** An edge on the backhaul while it runs. */
export interface RunningBackhaul {
  mesh: MeshNode;
  /** The address this edge dials Machines from (`fdaa:0:0:<n>::1`). */
  address: string;
  /** Applies the registry's current hosts and apps to the mesh now (the watch does it too). */
  refresh(): Promise<void>;
  /** Stops beating, removes the edge from the registry (hosts drop it at once) and stops wireguard-go. */
  close(): Promise<void>;
}

/**
 * An edge proxy's place on the private WireGuard backhaul: its own wireguard-go (key in
 * the data dir) whose peers are every other up registry entry with a key and an
 * underlay (hosts, allowed their /80s per org network, and other edges), kept current
 * from the store's watch; then its entry in the host registry as an `edge`, beating
 * like a host, so every host peers with it. Its proxy then dials Machines at their 6PN
 * addresses (`dial: 'ipv6'`). Whatever started is undone when a later step fails.
 */
export async function startBackhaul(options: BackhaulOptions): Promise<RunningBackhaul> {
  const log = options.log.child({ part: 'backhaul', edge: options.edgeId });
  const { store } = options;
  await refuseHostId(store, options.edgeId);
  const undo: (() => Promise<unknown>)[] = [];
  const unwind = async (): Promise<void> => {
    for (const step of undo.reverse()) await step().catch((err: unknown) => log.warn({ err }, 'backhaul cleanup failed'));
  };
  try {
    const key = await loadOrCreateHostKey(join(options.dataDir, BACKHAUL_KEY_FILE));
    const listenPort = options.meshPort === 0 ? await freeUdpPort() : options.meshPort;
    const mesh = new MeshNode({
      iface: BACKHAUL_INTERFACE,
      socketDir: join(options.dataDir, 'edge-wireguard', 'run'),
      privateKey: key.privateKey,
      listenPort,
      hostNumber: options.hostNumber,
      log,
    });

    let peersText = '';
    const apply = async (): Promise<void> => {
      const [apps, hosts] = await Promise.all([store.listApps(), store.listHosts()]);
      const peers: MeshPeer[] = meshPeers({ apps, machines: [], hosts, hostId: options.edgeId });
      const text = JSON.stringify(peers);
      if (text === peersText) return;
      await mesh.setPeers(peers);
      peersText = text;
      log.info({ peers: peers.map((p) => p.id) }, 'backhaul peers set');
    };
    // One refresh at a time; changes that land meanwhile fold into one more run after it.
    const refresh = coalesce(apply);

    // Watched from the revision the first peers are read at, so no change falls between.
    const revision = await store.revision();
    await apply();
    // A wireguard-go left by a killed edge still holds the interface; deleting it ends that one.
    await deleteLink(BACKHAUL_INTERFACE);
    await mesh.start();
    undo.push(() => mesh.stop());
    const unwatch = store.watch((change) => {
      // Apps bring new org networks (each host's peer entry allows one /80 per network).
      if (change.kind !== 'host' && change.kind !== 'app') return;
      refresh().catch((err: unknown) => log.error({ err }, 'backhaul: applying the registry’s changes failed'));
    }, { fromRevision: revision });
    undo.push(async () => unwatch());

    // Registered last: hosts peer with this edge only once its wireguard-go answers.
    const heartbeat = new HostHeartbeat({
      store,
      hostId: options.edgeId,
      ...(options.heartbeatIntervalMs === undefined ? {} : { intervalMs: options.heartbeatIntervalMs }),
      log,
      registration: () =>
        Promise.resolve(edgeRegistration({ id: options.edgeId, region: options.region, number: options.hostNumber, wireguardPublicKey: mesh.publicKey, underlay: underlayEndpoint(options.underlay, listenPort) })),
    });
    undo.push(() => store.removeHost(options.edgeId));
    await heartbeat.start();
    undo.push(() => heartbeat.stop());
    log.info({ address: mesh.address, listenPort, publicKey: mesh.publicKey }, 'backhaul up');

    let closed = false;
    return {
      mesh,
      address: mesh.address,
      refresh,
      async close() {
        if (closed) return;
        closed = true;
        await refresh.settled();
        await unwind();
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/** An edge id that names a host would replace that host's record (and strand its Machines). */
async function refuseHostId(store: Store, edgeId: string): Promise<void> {
  const existing: HostRecord | undefined = await store.getHost(edgeId);
  if (existing !== undefined && hostRole(existing) !== 'edge') {
    throw new AloftError('STORE_CONFLICT', `Cannot start the edge backhaul as 'edge-id' must not be a host's id: got "${edgeId}", registered as a host in ${existing.region}`);
  }
}

async function deleteLink(iface: string): Promise<void> {
  const options: CommandOptions = { timeoutMs: 15_000, errorCode: 'WIREGUARD_FAILED' };
  const args = ['link', 'del', iface];
  const result = await execCommand('ip', args, options);
  if (result.code !== 0 && !/Cannot find device|does not exist/.test(result.stderr)) throw commandFailed('ip', args, result, options.errorCode);
}
