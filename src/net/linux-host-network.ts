import { commandFailed, execCommand, mustRun, type CommandOptions, type CommandRunner } from '../lib/command.ts';
import { invalidField } from '../lib/errors.ts';
import type { MachineAddresses } from '../model/index.ts';
import type { HostNetwork } from './host-network.ts';
import { DEFAULT_IPV4_SUBNET, ipv4Gateway, ipv4ToNumber, parseIpv4Subnet, type Ipv4Subnet } from './ipv4-subnet.ts';
import { SIXPN_ONLINK_PREFIX, parse6pn, sixpnGateway } from './sixpn.ts';
import { SIXPN_PREFIX } from './wireguard/prefixes.ts';
import { WIREGUARD_MTU } from './wireguard/tunnel-interface.ts';

/** Options of {@link LinuxHostNetwork}; every one has a default fit for a real host. */
export interface LinuxHostNetworkOptions {
  /** Bridge in the root netns (default "aloft0"; ≤15 characters). */
  bridge?: string;
  /** Prefix of each Machine's netns name (default "aloft-"). */
  netnsPrefix?: string;
  /** Prefix of each host-side veth name, ≤3 characters (default "vm"). */
  vethPrefix?: string;
  /** Host-local IPv4 subnet (default 172.19.0.0/16). */
  ipv4Subnet?: string;
  /** Runs `ip`; injected by unit tests. */
  run?: CommandRunner;
}

/** Where `ip netns` keeps its namespaces; runtimes join a Machine's netns by this path. */
export const NETNS_DIR = '/var/run/netns';

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const IFNAME_PATTERN = /^[A-Za-z0-9_.-]{1,15}$/;
/** Characters of the machine id in the veth name: 15 (IFNAMSIZ-1) minus the prefix. */
const VETH_ID_CHARS = 12;
/** Each `ip` call is quick; one that hangs this long is stuck (e.g. on a lock). */
const IP: CommandOptions = { timeoutMs: 15_000, errorCode: 'NETWORK_FAILED' };
/** `ip` failures that mean "already gone", which detach treats as done. */
const GONE = /Cannot find device|No such file or directory|does not exist/;

/**
 * HostNetwork on Linux with iproute2: a bridge in the root netns holding the gateways,
 * one netns per Machine (`<netnsPrefix><id>`), and a veth pair into it whose Machine
 * side is `eth0`. The proxy on this host reaches Machines straight over the bridge, so
 * neither IPv4 nor IPv6 forwarding is enabled and no global sysctl is touched.
 *
 * Addresses: eth0 holds the Machine's IPv4 with the subnet's prefix and its 6PN
 * address as an on-link /80 (see sixpn.ts); the bridge holds the IPv4 gateway and one
 * `fdaa:<net>:<host>::1/80` per org network with Machines here, added on attach.
 */
export class LinuxHostNetwork implements HostNetwork {
  readonly bridge: string;
  readonly netnsPrefix: string;
  readonly vethPrefix: string;
  readonly subnet: Ipv4Subnet;
  readonly #run: CommandRunner;

  constructor(options: LinuxHostNetworkOptions = {}) {
    this.bridge = options.bridge ?? 'aloft0';
    this.netnsPrefix = options.netnsPrefix ?? 'aloft-';
    this.vethPrefix = options.vethPrefix ?? 'vm';
    this.subnet = parseIpv4Subnet(options.ipv4Subnet ?? DEFAULT_IPV4_SUBNET);
    this.#run = options.run ?? execCommand;
    if (!IFNAME_PATTERN.test(this.bridge)) {
      throw invalidField('configure host network', 'bridge', 'an interface name of 1 to 15 of [A-Za-z0-9_.-]', this.bridge);
    }
    if (!/^[A-Za-z0-9_.-]{1,3}$/.test(this.vethPrefix)) {
      throw invalidField('configure host network', 'vethPrefix', '1 to 3 of [A-Za-z0-9_.-]', this.vethPrefix);
    }
    if (!/^[A-Za-z0-9_.-]*$/.test(this.netnsPrefix)) {
      throw invalidField('configure host network', 'netnsPrefix', 'made of [A-Za-z0-9_.-]', this.netnsPrefix);
    }
  }

  /** The netns name of a Machine. */
  netnsName(machineId: string): string {
    checkId(machineId);
    return `${this.netnsPrefix}${machineId}`;
  }

  /** The netns path a runtime joins. */
  netnsPath(machineId: string): string {
    return `${NETNS_DIR}/${this.netnsName(machineId)}`;
  }

  /** The host side of the Machine's veth pair. */
  hostVethName(machineId: string): string {
    checkId(machineId);
    return `${this.vethPrefix}${machineId.slice(0, VETH_ID_CHARS)}`;
  }

  async ensureBridge(): Promise<void> {
    // Adding and tolerating "exists" is race-free where check-then-add is not.
    await this.#tolerate(['link', 'add', this.bridge, 'type', 'bridge'], /File exists/);
    await this.#ip(['addr', 'replace', `${ipv4Gateway(this.subnet)}/${this.subnet.prefixLength}`, 'dev', this.bridge]);
    await this.#ip(['link', 'set', this.bridge, 'up']);
  }

  async attach(machineId: string, addresses: MachineAddresses): Promise<{ netnsPath: string }> {
    const ns = this.netnsName(machineId);
    const veth = this.hostVethName(machineId);
    const { network, host } = parse6pn(addresses.ipv6);
    this.#checkIpv4(addresses.ipv4);
    const gateway6 = sixpnGateway(network, host);
    const created = await this.#tolerate(['netns', 'add', ns], /File exists/);
    try {
      if (!(await this.#hasEth0(ns))) {
        // A host veth without its peer is left from an interrupted attach: start over.
        await this.#tolerate(['link', 'del', veth], GONE);
        const peer = `vp${machineId.slice(0, VETH_ID_CHARS)}`;
        await this.#ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', peer, 'netns', ns]);
        await this.#ip(['-n', ns, 'link', 'set', peer, 'name', 'eth0']);
      }
      await this.#ip(['link', 'set', veth, 'master', this.bridge]);
      await this.#ip(['link', 'set', veth, 'up']);
      await this.#ip(['addr', 'replace', `${gateway6}/${SIXPN_ONLINK_PREFIX}`, 'dev', this.bridge, 'nodad']);
      await this.#ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      // `replace` makes re-attaching idempotent, and restores what runsc strips from eth0.
      await this.#ip(['-n', ns, 'addr', 'replace', `${addresses.ipv4}/${this.subnet.prefixLength}`, 'dev', 'eth0']);
      // nodad: duplicate address detection would hold the address "tentative" for ~1 s.
      await this.#ip(['-n', ns, 'addr', 'replace', `${addresses.ipv6}/${SIXPN_ONLINK_PREFIX}`, 'dev', 'eth0', 'nodad']);
      await this.#ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      await this.#ip(['-n', ns, 'route', 'replace', 'default', 'via', ipv4Gateway(this.subnet), 'dev', 'eth0']);
      await this.#ip(['-n', ns, '-6', 'route', 'replace', 'default', 'via', gateway6, 'dev', 'eth0']);
      // 6PN beyond this host's /80 crosses the WireGuard mesh (MTU 1420, eth0 is 1500):
      // the route's MTU makes the Machine's kernel size packets for the tunnel up front
      // instead of learning it from a Packet Too Big per destination.
      await this.#ip(['-n', ns, '-6', 'route', 'replace', SIXPN_PREFIX, 'via', gateway6, 'dev', 'eth0', 'mtu', String(WIREGUARD_MTU)]);
    } catch (err) {
      // Leave nothing half-made behind, but never tear down a netns that existed before.
      if (created) await this.detach(machineId).catch(() => undefined);
      throw err;
    }
    return { netnsPath: this.netnsPath(machineId) };
  }

  async detach(machineId: string): Promise<void> {
    // The host side first: a netns that a process still holds keeps its veth alive.
    await this.#tolerate(['link', 'del', this.hostVethName(machineId)], GONE);
    await this.#tolerate(['netns', 'del', this.netnsName(machineId)], GONE);
  }

  async list(): Promise<string[]> {
    const out = await mustRun(this.#run, 'ip', ['-j', 'netns', 'list'], IP);
    const entries = (out.trim() === '' ? [] : JSON.parse(out)) as { name?: unknown }[];
    return entries
      .map((entry) => (typeof entry.name === 'string' ? entry.name : ''))
      .filter((name) => name.startsWith(this.netnsPrefix) && name.length > this.netnsPrefix.length)
      .map((name) => name.slice(this.netnsPrefix.length))
      .sort();
  }

  async #hasEth0(ns: string): Promise<boolean> {
    const out = await this.#ip(['-j', '-n', ns, 'link', 'show']);
    const links = (out.trim() === '' ? [] : JSON.parse(out)) as { ifname?: unknown }[];
    return links.some((link) => link.ifname === 'eth0');
  }

  #checkIpv4(address: string): void {
    const size = 2 ** (32 - this.subnet.prefixLength);
    const offset = /^\d+\.\d+\.\d+\.\d+$/.test(address) ? ipv4ToNumber(address) - this.subnet.base : -1;
    if (offset <= 1 || offset >= size - 1) {
      throw invalidField('attach machine', 'ipv4', 'a host address inside the subnet other than the gateway', address);
    }
  }

  #ip(args: string[]): Promise<string> {
    return mustRun(this.#run, 'ip', args, IP);
  }

  /** Runs `ip args`; true when it did something, false when it failed with `ok` in stderr. */
  async #tolerate(args: string[], ok: RegExp): Promise<boolean> {
    const result = await this.#run('ip', args, IP);
    if (result.code === 0) return true;
    if (ok.test(result.stderr)) return false;
    throw commandFailed('ip', args, result, IP.errorCode);
  }
}

function checkId(machineId: string): void {
  if (!ID_PATTERN.test(machineId)) {
    throw invalidField('name machine network', 'machineId', '1 to 63 of [A-Za-z0-9_.-], starting alphanumeric', machineId);
  }
}
