import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DNS_PRIVATE_ADDRESS, startDnsServer, type DnsServerOptions, type RunningDnsServer } from '../dns/index.ts';
import { commandFailed, execCommand, type CommandOptions } from '../lib/command.ts';
import { isAloftError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { HostFirewall, type IsolationPolicy } from '../net/isolation/index.ts';
import { hostNetworkPrefix, INFRA_NETWORK, MeshNode, type MeshPeer } from '../net/wireguard/index.ts';
import type { HostAddresses, Store } from '../store/index.ts';
import { isolationPolicy, localHostAddresses, meshPeers, type PolicyFrame } from './private-policy.ts';
import { coalesce } from '../lib/coalesce.ts';
import { freeUdpPort } from '../lib/free-udp-port.ts';

/** Options of {@link startPrivateNetwork}. */
export interface PrivateNetworkOptions {
  store: Store;
  hostId: string;
  hostNumber: number;
  region: string;
  dataDir: string;
  /** The host bridge (LinuxHostNetwork's), which must exist already. */
  bridge: string;
  /** Prefix of Machines' host-side veths (LinuxHostNetwork's `vethPrefix`). */
  machinePortPrefix: string;
  /** The UDP port of this host's wireguard-go (0: any free one). */
  meshPort: number;
  /** The host's WireGuard private key, base64 (loadOrCreateHostKey of `<data-dir>/wireguard.key`). */
  privateKey: string;
  /** The API's TCP port, which Machines must not reach. */
  apiPort: number;
  /**
   * The address other hosts reach this host's mesh port at (cluster mode's `--underlay`);
   * published as `<underlay>:<port>`. Absent: no endpoint, so no host peers with this one.
   */
  underlay?: string | undefined;
  /**
   * More for the DNS server: the proxy's region RTT table (`rtt`, for top<N>.nearest.of;
   * `aloft up` has none yet), `_peer.internal` (`peers`), an upstream…
   */
  dns?: Partial<Omit<DnsServerOptions, 'store' | 'host' | 'port' | 'region' | 'log'>>;
  log: Logger;
}

/** This host's private network while it runs. */
export interface RunningPrivateNetwork {
  /** The resolver Machines are given (fdaa::3, port 53 as Machines see it). */
  dns: RunningDnsServer;
  mesh: MeshNode;
  firewall: HostFirewall;
  /** The policy applied last. */
  policy(): IsolationPolicy;
  /**
   * What this host publishes in the host registry (HostRegistration's
   * `wireguardPublicKey` and `addresses`), for whoever registers it.
   */
  registration(): { wireguardPublicKey: string; addresses: HostAddresses };
  /** Applies the store's current apps, Machines and hosts now (the watch does it too). */
  refresh(): Promise<void>;
  /**
   * Stops the DNS server and wireguard-go, removes the rules and fdaa::3 from the bridge.
   * `keepRules`: leaves the isolation rules in place, for Machines that keep running
   * (an `aloft agent` stopped without its Machines): without them orgs would meet on the bridge.
   */
  close(options?: { keepRules?: boolean }): Promise<void>;
}

const IP: CommandOptions = { timeoutMs: 15_000, errorCode: 'NETWORK_FAILED' };
const FORWARDING = '/proc/sys/net/ipv6/conf/all/forwarding';

/**
 * The private network (6PN) of one host, as `aloft up` runs it:
 * - IPv6 forwarding on (6PN between this host's bridge and the mesh is routed);
 * - fdaa::3 on the bridge, with the private DNS server on it (UDP and TCP port 53);
 * - the isolation rules (nftables) from the store's apps and Machines, kept current
 *   from its watch and removed at close;
 * - wireguard-go in the host's namespace with this host's key, its peers the other
 *   hosts of the registry (none for the embedded single host).
 * Whatever started is undone when a later step fails.
 */
export async function startPrivateNetwork(options: PrivateNetworkOptions): Promise<RunningPrivateNetwork> {
  const log = options.log.child({ part: 'private-network' });
  const undo: (() => Promise<void>)[] = [];
  const unwind = async (): Promise<void> => {
    for (const step of undo.reverse()) await step().catch((err: unknown) => log.warn({ err }, 'private network cleanup failed'));
  };
  try {
    await enableIpv6Forwarding(log);
    await ip(['addr', 'replace', `${DNS_PRIVATE_ADDRESS}/128`, 'dev', options.bridge, 'nodad']);
    undo.push(() => ip(['addr', 'del', `${DNS_PRIVATE_ADDRESS}/128`, 'dev', options.bridge], /Cannot assign|Cannot find device|does not exist/));
    const dns = await startResolver(options, log);
    undo.push(() => dns.close());

    const firewall = new HostFirewall({ table: tableFor(options.bridge) });
    const listenPort = options.meshPort === 0 ? await freeUdpPort() : options.meshPort;
    const mesh = new MeshNode({
      iface: meshInterfaceFor(options.bridge),
      socketDir: join(options.dataDir, 'wireguard', 'run'),
      privateKey: options.privateKey,
      listenPort,
      hostNumber: options.hostNumber,
      log,
    });
    const frame: PolicyFrame = {
      bridge: options.bridge,
      machinePortPrefix: options.machinePortPrefix,
      tunnel: mesh.tunnel.iface,
      agentPorts: [options.apiPort],
      localAddresses: localHostAddresses(),
      dnsPort: dns.port,
    };

    let applied: IsolationPolicy | undefined;
    let appliedText = '';
    let peersText = '';
    const apply = async (): Promise<void> => {
      const facts = { apps: await options.store.listApps(), machines: await options.store.listMachines(), hosts: await options.store.listHosts(), hostId: options.hostId };
      const policy = isolationPolicy(frame, facts);
      const text = JSON.stringify(policy);
      if (text !== appliedText) {
        await firewall.apply(policy);
        applied = policy;
        appliedText = text;
        log.info({ orgs: policy.orgs.map((org) => org.network) }, 'isolation rules applied');
      }
      const peers: MeshPeer[] = meshPeers(facts);
      const peersNow = JSON.stringify(peers);
      if (peersNow !== peersText) {
        await mesh.setPeers(peers);
        peersText = peersNow;
      }
    };
    // One refresh at a time; changes that land meanwhile fold into one more run after it.
    const refresh = coalesce(apply);

    // Watched from the revision the first rules are read at, so no change falls between.
    const revision = await options.store.revision();
    await apply();
    let keepRules = false;
    undo.push(() => (keepRules ? Promise.resolve() : firewall.remove()));
    // A wireguard-go left by a killed aloft up still holds the interface; deleting it
    // makes that one exit (wireguard-go stops when its interface goes).
    await ip(['link', 'del', mesh.tunnel.iface], /Cannot find device|does not exist/);
    await mesh.start();
    undo.push(() => mesh.stop());
    const unwatch = options.store.watch((change) => {
      if (change.kind !== 'app' && change.kind !== 'machine' && change.kind !== 'host') return;
      refresh().catch((err: unknown) => log.error({ err }, 'private network: applying the store’s changes failed'));
    }, { fromRevision: revision });
    undo.push(async () => unwatch());
    log.info({ dns: `[${dns.host}]:${dns.port}`, mesh: mesh.tunnel.iface, listenPort, publicKey: mesh.publicKey }, 'private network up');

    let closed = false;
    return {
      dns,
      mesh,
      firewall,
      policy: () => applied!,
      registration: () => ({
        wireguardPublicKey: mesh.publicKey,
        // The underlay a peer dials is the operator's to give (cluster mode's --underlay).
        addresses: { underlay: options.underlay === undefined ? null : underlayEndpoint(options.underlay, listenPort), sixpnPrefix: hostNetworkPrefix(INFRA_NETWORK, options.hostNumber) },
      }),
      refresh,
      async close(closeOptions = {}) {
        if (closed) return;
        closed = true;
        keepRules = closeOptions.keepRules ?? false;
        await refresh.settled();
        await unwind();
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/** `address:port`, the address bracketed when it is IPv6 (`[fd00::1]:51820`). */
export function underlayEndpoint(address: string, port: number): string {
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** The nft table name of a platform's rules: one per bridge, so two platforms on one machine keep apart. */
export function tableFor(bridge: string): string {
  return `aloft_${bridge.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The WireGuard interface of a platform: named after its bridge (at most 15 characters). */
export function meshInterfaceFor(bridge: string): string {
  return `${bridge.slice(0, 12)}-wg`;
}

/**
 * Turns IPv6 forwarding on for the whole host (net.ipv6.conf.all.forwarding=1), left
 * on at stop since other things may rely on it by then. Side effect: an interface that
 * forwards ignores router advertisements unless its accept_ra is 2, so a host whose own
 * IPv6 comes from SLAAC should set that on its uplink first.
 */
async function enableIpv6Forwarding(log: Logger): Promise<void> {
  if ((await readFile(FORWARDING, 'utf8')).trim() === '1') return;
  await writeFile(FORWARDING, '1\n');
  log.warn('turned on IPv6 forwarding for this host (net.ipv6.conf.all.forwarding=1): the private network routes 6PN between Machines and the mesh');
}

/**
 * The private DNS server on fdaa::3 port 53. Another platform on this machine (a dev
 * `aloft up` beside a test's) may hold that port already, on its own bridge's fdaa::3:
 * this one then listens on a free port, and its rules redirect its own bridge's
 * queries for port 53 there, so each platform's Machines ask their own platform.
 */
async function startResolver(options: PrivateNetworkOptions, log: Logger): Promise<RunningDnsServer> {
  const start = (port: number): Promise<RunningDnsServer> =>
    startDnsServer({ ...options.dns, store: options.store, host: DNS_PRIVATE_ADDRESS, port, region: options.region, log });
  try {
    return await start(53);
  } catch (err) {
    if (!isAloftError(err, 'ALREADY_RUNNING')) throw err;
    const dns = await start(0);
    log.warn(`[${DNS_PRIVATE_ADDRESS}]:53 is held by another process (another aloft up on this machine?): this platform's resolver listens on port ${dns.port}, and its Machines' queries are redirected there`);
    return dns;
  }
}


/** Runs `ip args`; a failure whose stderr matches `ok` counts as done. */
async function ip(args: string[], ok?: RegExp): Promise<void> {
  const result = await execCommand('ip', args, IP);
  if (result.code === 0 || (ok !== undefined && ok.test(result.stderr))) return;
  throw commandFailed('ip', args, result, IP.errorCode);
}
