import { networkInterfaces } from 'node:os';
import { isTerminal, type App, type Machine } from '../model/index.ts';
import { DNS_PRIVATE_ADDRESS } from '../dns/server.ts';
import type { EdgeAccess, EdgeTarget, HostService, IsolationPolicy } from '../net/isolation/index.ts';
import { hostNetworkPrefix, hostPrefixes, INFRA_NETWORK, type MeshPeer } from '../net/wireguard/index.ts';
import { hostRole, type HostRecord } from '../store/index.ts';

/** What one host's private-network rules and mesh are computed from. */
export interface PrivateNetworkFacts {
  apps: readonly App[];
  machines: readonly Machine[];
  /** The host registry (every host, this one included, if registered). */
  hosts: readonly HostRecord[];
  /** This host's id (left out of its own peers). */
  hostId: string;
}

/** The parts of the policy that do not come from the store. */
export interface PolicyFrame {
  bridge: string;
  /** The host side of each Machine's veth (LinuxHostNetwork's `vethPrefix`). */
  machinePortPrefix: string;
  tunnel: string;
  /** TCP ports Machines must never reach (the API's). */
  agentPorts: readonly number[];
  /** This machine's own addresses (see localHostAddresses). */
  localAddresses: readonly string[];
  /** Where this platform's resolver listens on fdaa::3 (53, unless another platform holds it). */
  dnsPort: number;
}

/**
 * The services every Machine may reach on its host: the private resolver on fdaa::3
 * port 53, over UDP and TCP (redirected to `dnsPort` when it listens elsewhere).
 */
export function hostServices(dnsPort: number): HostService[] {
  return (['udp', 'tcp'] as const).map((protocol) => ({ address: DNS_PRIVATE_ADDRESS, protocol, port: 53, ...(dnsPort === 53 ? {} : { listenPort: dnsPort }) }));
}

/**
 * The isolation policy of this host: one org entry per 6PN network that any app sits on
 * (networks are per org, so every org's Machines are kept to their own), each with its
 * Machines' IPv4 addresses on this host (what tells an IPv4 packet's org for SMTP);
 * host addresses are this machine's and every registered host's underlay.
 */
export function isolationPolicy(frame: PolicyFrame, facts: PrivateNetworkFacts): IsolationPolicy {
  const ipv4ByNetwork = new Map<number, Set<string>>();
  const networkOf = new Map(facts.apps.map((app) => [app.name, app.network]));
  for (const app of facts.apps) if (app.network > 0) ipv4ByNetwork.set(app.network, new Set());
  for (const machine of facts.machines) {
    const network = networkOf.get(machine.appName);
    if (machine.hostId !== facts.hostId || network === undefined || !machine.addresses) continue;
    ipv4ByNetwork.get(network)?.add(machine.addresses.ipv4);
  }
  const underlays = facts.hosts.flatMap((host) => (host.addresses.underlay === null ? [] : [underlayAddress(host.addresses.underlay)]));
  return {
    // SMTP stays off for every org until orgs carry the switch (Fly: off unless asked for).
    orgs: [...ipv4ByNetwork].sort(([a], [b]) => a - b).map(([network, ipv4]) => ({ network, allowSmtp: false, ipv4: [...ipv4].sort() })),
    bridge: frame.bridge,
    machinePortPrefix: frame.machinePortPrefix,
    tunnel: frame.tunnel,
    hostAddresses: [...new Set([...frame.localAddresses, ...underlays])].sort(),
    agentPorts: frame.agentPorts,
    hostServices: hostServices(frame.dnsPort),
    edges: edgeAccess(facts),
  };
}

/**
 * What edges on the backhaul may reach on this host: every registered edge's /80 in
 * network 0, to each of this host's Machines' service ports (`internal_port`, and a
 * service check's own port), since an edge's proxy and its health checks dial those.
 */
export function edgeAccess(facts: PrivateNetworkFacts): EdgeAccess {
  const sources = facts.hosts.filter((host) => hostRole(host) === 'edge').map((edge) => hostNetworkPrefix(INFRA_NETWORK, edge.number));
  const targets: EdgeTarget[] = [];
  // No edge registered (aloft up, a cluster without the backhaul): nothing to list.
  if (sources.length === 0) return { sources, targets };
  for (const machine of facts.machines) {
    const address = machine.addresses?.ipv6;
    if (machine.hostId !== facts.hostId || address === undefined || address === '' || isTerminal(machine.state)) continue;
    for (const service of machine.config.services ?? []) {
      const protocol = service.protocol === 'udp' ? 'udp' : 'tcp';
      targets.push({ address, protocol, port: service.internal_port });
      for (const check of service.checks ?? []) if (check.port !== undefined) targets.push({ address, protocol: 'tcp', port: check.port });
    }
  }
  return { sources, targets };
}

/**
 * The mesh peers of this host (or edge): every other registry entry that is up and
 * publishes a WireGuard key and an underlay endpoint. A host is allowed its own /80 plus
 * one /80 per org network (any org may have Machines on any host); an edge only its own
 * /80 in network 0, since it runs no Machines (its proxy dials from `fdaa:0:0:<n>::1`).
 */
export function meshPeers(facts: PrivateNetworkFacts): MeshPeer[] {
  const networks = [...new Set(facts.apps.map((app) => app.network).filter((network) => network > 0))];
  return facts.hosts
    .filter((host) => host.id !== facts.hostId && host.status === 'up' && host.wireguardPublicKey !== null && host.addresses.underlay !== null)
    .map((host) => ({
      id: host.id,
      publicKey: host.wireguardPublicKey!,
      endpoint: host.addresses.underlay!,
      prefixes: hostRole(host) === 'edge' ? hostPrefixes(host.number, []) : hostPrefixes(host.number, networks),
    }));
}

/**
 * This machine's addresses that Machines must not reach through it: every non-loopback
 * address but 6PN ones (those are Machines' gateways) and link-local ones (scoped to a link).
 */
export function localHostAddresses(): string[] {
  const out: string[] = [];
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.internal) continue;
      const lower = address.address.toLowerCase();
      if (address.family === 'IPv6' && (lower.startsWith('fdaa:') || lower.startsWith('fe80:'))) continue;
      out.push(address.address);
    }
  }
  return [...new Set(out)].sort();
}

/** The address part of an `ip:port` or `[ipv6]:port` endpoint. */
function underlayAddress(endpoint: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(endpoint);
  if (bracketed) return bracketed[1]!;
  return endpoint.slice(0, endpoint.lastIndexOf(':'));
}
