import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostFirewall } from '../../isolation/host-firewall.ts';
import type { IsolationPolicy } from '../../isolation/policy.ts';
import { machineIpv6, sixpnGateway, SIXPN_ONLINK_PREFIX } from '../../sixpn.ts';
import { generateKeyPair } from '../keys.ts';
import { MeshNode } from '../mesh-node.ts';
import type { MeshPeer } from '../mesh-plan.ts';
import { hostPrefixes } from '../prefixes.ts';
import { NetnsKit } from './netns.ts';

/** A Machine of the test world: its own namespace hung off its host's bridge. */
export interface TestMachine {
  ns: string;
  org: number;
  ipv6: string;
  ipv4: string;
  /** The host side of its veth: its bridge port. */
  port: string;
  mac: string;
}

/** A host of the test world: a namespace with an underlay link, a bridge, a mesh node and a firewall. */
export interface TestHost {
  ns: string;
  number: number;
  underlay: string;
  node: MeshNode;
  firewall: HostFirewall;
  /** Machines by org network number. */
  machines: Map<number, TestMachine>;
}

/** Two orgs' network numbers; both have a Machine on each host. */
export const ORG_A = 7;
export const ORG_B = 70_001;
export const WG_PORT = 51_820;
export const AGENT_PORT = 4280;
export const BRIDGE = 'br6';
export const TUNNEL = 'aloftwg';
/** The "internet" namespace's address (an SMTP server stand-in), reached from host 1. */
export const INTERNET = '198.51.100.2';

/**
 * Two hosts joined by a veth underlay (10.77.0.1 and .2, IPv4 only, so nothing but
 * WireGuard needs to cross it), each with one Machine of ORG_A and one of ORG_B on its
 * bridge, and an "internet" namespace routed behind host 1. Every name carries a random
 * tag, so parallel runs never meet; `cleanup` stops the daemons and deletes it all.
 */
export class TwoHosts {
  readonly kit = new NetnsKit();
  readonly tag = randomBytes(3).toString('hex');
  readonly hosts: TestHost[] = [];
  internet = '';
  #dir = '';

  /** Builds the world; on failure removes what it made and rethrows. */
  static async create(): Promise<TwoHosts> {
    const world = new TwoHosts();
    try {
      await world.#build();
    } catch (err) {
      await world.cleanup();
      throw err;
    }
    return world;
  }

  /** The peer entry other hosts get for `host`. */
  peerOf(host: TestHost): MeshPeer {
    return { id: host.ns, publicKey: host.node.publicKey, endpoint: `${host.underlay}:${WG_PORT}`, prefixes: hostPrefixes(host.number, [ORG_A, ORG_B]) };
  }

  /** The isolation policy of `host`, with SMTP allowed for `smtpOrgs`. */
  policy(host: TestHost, smtpOrgs: readonly number[] = []): IsolationPolicy {
    return {
      orgs: [ORG_A, ORG_B].map((network) => ({ network, allowSmtp: smtpOrgs.includes(network), ipv4: [host.machines.get(network)!.ipv4] })),
      bridge: BRIDGE,
      machinePortPrefix: 'vm',
      tunnel: TUNNEL,
      hostAddresses: ['10.77.0.1', '10.77.0.2', '198.51.100.1'],
      agentPorts: [AGENT_PORT],
      machines: [...host.machines.values()].map(({ port, ipv6, ipv4, mac }) => ({ port, ipv6, ipv4, mac })),
    };
  }

  /** Packets on each host's underlay since the start: WireGuard UDP and anything else (ARP aside). */
  async underlayCounts(): Promise<{ wireguard: number; other: number }> {
    const total = { wireguard: 0, other: 0 };
    for (const host of this.hosts) {
      const out = await this.kit.exec(host.ns, 'nft', '-j', 'list', 'counters', 'table', 'netdev', 'probe');
      for (const item of (JSON.parse(out) as { nftables: { counter?: { name: string; packets: number } }[] }).nftables) {
        if (item.counter?.name === 'wireguard') total.wireguard += item.counter.packets;
        if (item.counter?.name === 'other') total.other += item.counter.packets;
      }
    }
    return total;
  }

  /** Stops both daemons (by PID), kills the test's processes and deletes every namespace. */
  async cleanup(): Promise<void> {
    for (const host of this.hosts) await host.node.stop().catch(() => undefined);
    await this.kit.cleanup();
    if (this.#dir !== '') await rm(this.#dir, { recursive: true, force: true });
  }

  async #build(): Promise<void> {
    const { kit } = this;
    this.#dir = await mkdtemp(join(tmpdir(), 'aloft-wg-test-'));
    const h1 = await kit.netns(`awg${this.tag}h1`);
    const h2 = await kit.netns(`awg${this.tag}h2`);
    await kit.ip('-n', h1, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', h2);
    for (const [i, ns] of [h1, h2].entries()) {
      const number = i + 1;
      const underlay = `10.77.0.${number}`;
      // No IPv6 on the underlay: its link-local chatter (ND, MLD) would blur the proof
      // that nothing but WireGuard crosses it.
      await kit.exec(ns, 'sysctl', '-qw', 'net.ipv6.conf.ul0.disable_ipv6=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.ip_forward=1');
      await kit.ip('-n', ns, 'addr', 'add', `${underlay}/24`, 'dev', 'ul0');
      await kit.ip('-n', ns, 'link', 'set', 'ul0', 'up');
      await kit.ip('-n', ns, 'link', 'add', BRIDGE, 'type', 'bridge');
      await kit.ip('-n', ns, 'addr', 'add', '172.19.0.1/16', 'dev', BRIDGE);
      await kit.ip('-n', ns, 'link', 'set', BRIDGE, 'up');
      const machines = new Map<number, TestMachine>();
      for (const [j, org] of [ORG_A, ORG_B].entries()) {
        const port = `vm${j}`;
        const machine = { ns: await kit.netns(`awg${this.tag}h${number}o${j}`), org, ipv6: machineIpv6(org, number, j + 1), ipv4: `172.19.0.${j + 2}`, port, mac: '' };
        await kit.ip('-n', ns, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', machine.ns);
        await kit.ip('-n', ns, 'link', 'set', port, 'master', BRIDGE);
        await kit.ip('-n', ns, 'link', 'set', port, 'up');
        await kit.ip('-n', ns, 'addr', 'add', `${sixpnGateway(org, number)}/${SIXPN_ONLINK_PREFIX}`, 'dev', BRIDGE, 'nodad');
        await kit.ip('-n', machine.ns, 'addr', 'add', `${machine.ipv6}/${SIXPN_ONLINK_PREFIX}`, 'dev', 'eth0', 'nodad');
        await kit.ip('-n', machine.ns, 'addr', 'add', `${machine.ipv4}/16`, 'dev', 'eth0');
        await kit.ip('-n', machine.ns, 'link', 'set', 'eth0', 'up');
        await kit.ip('-n', machine.ns, '-6', 'route', 'add', 'default', 'via', sixpnGateway(org, number), 'dev', 'eth0');
        await kit.ip('-n', machine.ns, 'route', 'add', 'default', 'via', '172.19.0.1', 'dev', 'eth0');
        machine.mac = (JSON.parse(await kit.ip('-j', '-n', machine.ns, 'link', 'show', 'eth0')) as { address: string }[])[0]!.address;
        machines.set(org, machine);
      }
      const node = new MeshNode({
        iface: TUNNEL,
        netns: ns,
        socketDir: join(this.#dir, `h${number}`),
        privateKey: generateKeyPair().privateKey,
        listenPort: WG_PORT,
        hostNumber: number,
        backoff: { initialMs: 50, maxMs: 1000 },
      });
      this.hosts.push({ ns, number, underlay, node, firewall: new HostFirewall({ netns: ns }), machines });
    }
    await this.#underlayProbe();
    await this.#internet(h1);
  }

  /** Counters on each underlay's ingress: WireGuard's UDP port, ARP, and everything else. */
  async #underlayProbe(): Promise<void> {
    for (const host of this.hosts) {
      const rules = `table netdev probe {
  counter wireguard {
  }
  counter other {
  }
  chain ingress {
    type filter hook ingress device "ul0" priority 0; policy accept;
    ether type ip udp dport ${WG_PORT} counter name "wireguard" accept
    ether type arp accept
    counter name "other" accept
  }
}
`;
      await this.#nftScript(host.ns, rules);
    }
  }

  /** A namespace behind host 1 standing in for the internet: echo servers on 25 and 2525. */
  async #internet(h1: string): Promise<void> {
    const { kit } = this;
    this.internet = await kit.netns(`awg${this.tag}in`);
    await kit.ip('-n', h1, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0', 'netns', this.internet);
    await kit.ip('-n', h1, 'addr', 'add', '198.51.100.1/24', 'dev', 'up0');
    await kit.ip('-n', h1, 'link', 'set', 'up0', 'up');
    await kit.ip('-n', this.internet, 'addr', 'add', `${INTERNET}/24`, 'dev', 'up0');
    await kit.ip('-n', this.internet, 'link', 'set', 'up0', 'up');
    // Routed back without NAT: the test only needs the SMTP rule to see Machines' sources.
    await kit.ip('-n', this.internet, 'route', 'add', '172.19.0.0/16', 'via', '198.51.100.1');
  }

  async #nftScript(ns: string, text: string): Promise<void> {
    const file = join(this.#dir, `${ns}.nft`);
    await writeFile(file, text);
    await this.kit.exec(ns, 'nft', '-f', file);
  }
}
