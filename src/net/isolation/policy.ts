import { isIPv4, isIPv6 } from 'node:net';
import { invalidField } from '../../lib/errors.ts';
import { normalizeCidr } from '../wireguard/uapi-protocol.ts';

/** One org as a host's firewall sees it. */
export interface IsolationOrg {
  /** The org's 6PN network number (1 to 4294967295; 0 is the platform's). */
  network: number;
  /** Whether its Machines may open TCP connections to port 25 outside 6PN (off by default at Fly). */
  allowSmtp: boolean;
  /**
   * Host-local IPv4 addresses of the org's Machines on this host. IPv4 is NATed and
   * shared by all orgs, so only these tell the org of an IPv4 packet (for SMTP).
   */
  ipv4?: readonly string[];
}

/** A TCP or UDP service on the host that Machines may use (the resolver at fdaa::3). */
export interface HostService {
  address: string;
  protocol: 'tcp' | 'udp';
  /** The port Machines use. */
  port: number;
  /**
   * Where the service really listens, when not on `port`: Machines' traffic to `port`
   * is redirected there (DNAT). Two platforms on one machine each hold fdaa::3, but
   * only one can listen on its port 53; the other listens elsewhere and redirects.
   */
  listenPort?: number;
}

/** A Machine's bridge port and the only addresses it may send from. */
export interface MachinePort {
  /** The host side of its veth (or its tap): a bridge port named with `machinePortPrefix`. */
  port: string;
  /** Its 6PN address. */
  ipv6: string;
  /** Its host-local IPv4 address, if it has one. */
  ipv4?: string;
  /** The MAC of its interface, when known: then frames from any other MAC are dropped too. */
  mac?: string;
}

/** A Machine's service port on this host, which edges on the backhaul may reach. */
export interface EdgeTarget {
  /** The Machine's 6PN address. */
  address: string;
  protocol: 'tcp' | 'udp';
  port: number;
}

/**
 * The edges on the backhaul (`aloft proxy --underlay …`) and what they may reach: only
 * Machines' service ports (and their checks' ports) on this host. Anything else from an
 * edge, to a Machine or to the host, is dropped (counter `edge`).
 */
export interface EdgeAccess {
  /** The edges' 6PN prefixes (each its /80 in network 0). */
  sources: readonly string[];
  targets: readonly EdgeTarget[];
}

/** Everything one host's isolation rules are made from. */
export interface IsolationPolicy {
  orgs: readonly IsolationOrg[];
  /** The bridge Machines attach to (their routed traffic comes in on it). */
  bridge: string;
  /** Prefix of the host-side veth of each Machine (the bridge's ports), e.g. "vm". */
  machinePortPrefix: string;
  /** The WireGuard interface (traffic from other hosts comes in on it). */
  tunnel: string;
  /** Addresses (or CIDRs) of this and the other hosts that Machines must not reach. */
  hostAddresses: readonly string[];
  /** TCP ports of the agent's API: dropped from Machines to any address. */
  agentPorts: readonly number[];
  /** Host services Machines may reach (everything else on the host is dropped). */
  hostServices?: readonly HostService[];
  /**
   * The Machines on this host. When given, each port may send only from its Machine's
   * own addresses (and MAC), neighbour adverts only for them, and frames from Machine
   * ports not listed are dropped: without it, a Machine that controls its own kernel
   * (a microVM, root with CAP_NET_RAW) could claim another org's source address.
   */
  machines?: readonly MachinePort[];
  /** Edges on the backhaul; absent: none is registered (network 0 is then only hosts). */
  edges?: EdgeAccess;
}

/** A policy checked and normalised: CIDRs canonical, orgs sorted and unique. */
export interface CheckedPolicy extends Omit<IsolationPolicy, 'orgs' | 'hostAddresses' | 'hostServices' | 'machines' | 'edges'> {
  orgs: { network: number; allowSmtp: boolean; ipv4: string[] }[];
  hostAddresses4: string[];
  hostAddresses6: string[];
  hostServices: HostService[];
  /** Absent: no source checks. */
  machines: MachinePort[] | undefined;
  /** Edges' prefixes (canonical CIDRs, sorted) and their targets (unique, sorted). */
  edgeSources: string[];
  edgeTargets: EdgeTarget[];
}

const ACTION = 'build isolation rules';
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** Validates a policy; INVALID_ARGUMENT naming the first bad field. */
export function checkPolicy(policy: IsolationPolicy): CheckedPolicy {
  if (typeof policy !== 'object' || policy === null) throw invalidField(ACTION, 'policy', 'an object', policy);
  for (const field of ['bridge', 'tunnel'] as const) {
    if (typeof policy[field] !== 'string' || !IFNAME.test(policy[field])) throw invalidField(ACTION, field, 'an interface name of 1 to 15 of [A-Za-z0-9_.-]', policy[field]);
  }
  if (typeof policy.machinePortPrefix !== 'string' || !/^[A-Za-z0-9_.-]{1,14}$/.test(policy.machinePortPrefix)) {
    throw invalidField(ACTION, 'machinePortPrefix', '1 to 14 of [A-Za-z0-9_.-]', policy.machinePortPrefix);
  }
  if (!Array.isArray(policy.orgs as unknown)) throw invalidField(ACTION, 'orgs', 'an array', policy.orgs);
  const seen = new Set<number>();
  const orgs = policy.orgs.map((org, i) => {
    if (!Number.isInteger(org.network) || org.network < 1 || org.network > 0xffff_ffff) {
      throw invalidField(ACTION, `orgs[${i}].network`, 'an integer from 1 to 4294967295', org.network);
    }
    if (seen.has(org.network)) throw invalidField(ACTION, `orgs[${i}].network`, 'unique across orgs', org.network);
    seen.add(org.network);
    if (typeof org.allowSmtp !== 'boolean') throw invalidField(ACTION, `orgs[${i}].allowSmtp`, 'true or false', org.allowSmtp);
    const ipv4 = (org.ipv4 ?? []).map((address, j) => {
      if (!isIPv4(address)) throw invalidField(ACTION, `orgs[${i}].ipv4[${j}]`, 'an IPv4 address', address);
      return address;
    });
    return { network: org.network, allowSmtp: org.allowSmtp, ipv4 };
  });
  orgs.sort((a, b) => a.network - b.network);
  if (!Array.isArray(policy.hostAddresses as unknown)) throw invalidField(ACTION, 'hostAddresses', 'an array of addresses', policy.hostAddresses);
  const hosts = policy.hostAddresses.map((address, i) => {
    const field = `hostAddresses[${i}]`;
    if (typeof address === 'string' && !address.includes('/')) {
      if (isIPv4(address)) return `${address}/32`;
      if (isIPv6(address)) return normalizeCidr(ACTION, field, `${address}/128`);
    }
    return normalizeCidr(ACTION, field, address);
  });
  if (!Array.isArray(policy.agentPorts as unknown)) throw invalidField(ACTION, 'agentPorts', 'an array of ports', policy.agentPorts);
  policy.agentPorts.forEach((port, i) => checkPort(`agentPorts[${i}]`, port));
  const hostServices = (policy.hostServices ?? []).map((service, i) => {
    const field = `hostServices[${i}]`;
    if (!isIPv4(service.address) && !isIPv6(service.address)) throw invalidField(ACTION, `${field}.address`, 'an IP address', service.address);
    if (service.protocol !== 'tcp' && service.protocol !== 'udp') throw invalidField(ACTION, `${field}.protocol`, '"tcp" or "udp"', service.protocol);
    checkPort(`${field}.port`, service.port);
    if (service.listenPort !== undefined) checkPort(`${field}.listenPort`, service.listenPort);
    return { address: service.address, protocol: service.protocol, port: service.port, ...(service.listenPort === undefined ? {} : { listenPort: service.listenPort }) };
  });
  const machines = policy.machines === undefined ? undefined : checkMachines(policy.machines, policy.machinePortPrefix);
  const edges = checkEdges(policy.edges ?? { sources: [], targets: [] });
  return {
    orgs,
    bridge: policy.bridge,
    machinePortPrefix: policy.machinePortPrefix,
    tunnel: policy.tunnel,
    hostAddresses4: [...new Set(hosts.filter((cidr) => !cidr.includes(':')))].sort(),
    hostAddresses6: [...new Set(hosts.filter((cidr) => cidr.includes(':')))].sort(),
    agentPorts: [...new Set(policy.agentPorts)].sort((a, b) => a - b),
    hostServices,
    machines,
    ...edges,
  };
}

function checkEdges(edges: EdgeAccess): { edgeSources: string[]; edgeTargets: EdgeTarget[] } {
  if (!Array.isArray(edges.sources as unknown)) throw invalidField(ACTION, 'edges.sources', 'an array of IPv6 CIDRs', edges.sources);
  if (!Array.isArray(edges.targets as unknown)) throw invalidField(ACTION, 'edges.targets', 'an array of Machine ports', edges.targets);
  const sources = edges.sources.map((cidr, i) => {
    const field = `edges.sources[${i}]`;
    const normal = normalizeCidr(ACTION, field, typeof cidr === 'string' && !cidr.includes('/') ? `${cidr}/128` : cidr);
    if (!normal.includes(':')) throw invalidField(ACTION, field, 'an IPv6 CIDR (edges dial over 6PN)', cidr);
    return normal;
  });
  const targets = new Map<string, EdgeTarget>();
  edges.targets.forEach((target, i) => {
    const field = `edges.targets[${i}]`;
    if (!isIPv6(target.address) || target.address.includes('.')) throw invalidField(ACTION, `${field}.address`, 'an IPv6 address', target.address);
    if (target.protocol !== 'tcp' && target.protocol !== 'udp') throw invalidField(ACTION, `${field}.protocol`, '"tcp" or "udp"', target.protocol);
    checkPort(`${field}.port`, target.port);
    targets.set(`${target.address} ${target.protocol} ${target.port}`, { address: target.address, protocol: target.protocol, port: target.port });
  });
  return {
    edgeSources: [...new Set(sources)].sort(),
    edgeTargets: [...targets.values()].sort((a, b) => a.address.localeCompare(b.address) || a.protocol.localeCompare(b.protocol) || a.port - b.port),
  };
}

function checkMachines(machines: readonly MachinePort[], prefix: string): MachinePort[] {
  if (!Array.isArray(machines as unknown)) throw invalidField(ACTION, 'machines', 'an array of Machine ports', machines);
  const ports = new Set<string>();
  return machines.map((machine, i) => {
    const field = (name: string): string => `machines[${i}].${name}`;
    if (typeof machine.port !== 'string' || !IFNAME.test(machine.port) || !machine.port.startsWith(prefix)) {
      throw invalidField(ACTION, field('port'), `an interface name starting with "${prefix}"`, machine.port);
    }
    if (ports.has(machine.port)) throw invalidField(ACTION, field('port'), 'unique across Machines', machine.port);
    ports.add(machine.port);
    if (!isIPv6(machine.ipv6) || machine.ipv6.includes('.')) throw invalidField(ACTION, field('ipv6'), 'an IPv6 address', machine.ipv6);
    if (machine.ipv4 !== undefined && !isIPv4(machine.ipv4)) throw invalidField(ACTION, field('ipv4'), 'an IPv4 address', machine.ipv4);
    if (machine.mac !== undefined && !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(machine.mac)) throw invalidField(ACTION, field('mac'), 'a MAC address like 02:00:00:00:00:01', machine.mac);
    return {
      port: machine.port,
      ipv6: machine.ipv6,
      ...(machine.ipv4 !== undefined ? { ipv4: machine.ipv4 } : {}),
      ...(machine.mac !== undefined ? { mac: machine.mac.toLowerCase() } : {}),
    };
  });
}

function checkPort(field: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw invalidField(ACTION, field, 'an integer from 1 to 65535', port);
}
