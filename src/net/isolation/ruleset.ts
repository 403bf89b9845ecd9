import { expandIpv6 } from '../sixpn.ts';
import { networkPrefix, SIXPN_PREFIX } from '../wireguard/prefixes.ts';
import type { CheckedPolicy, MachinePort } from './policy.ts';

/** The default name of aloft's tables (one `inet`, one `bridge`); nothing else is touched. */
export const TABLE = 'aloft';

/** A valid nft table name: a letter, then letters, digits and underscores. */
export const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** The named counters every drop rule feeds, so tests and metrics can see what was dropped. */
export const DROP_COUNTERS = ['cross_org', 'host', 'smtp', 'between_machines', 'spoof', 'edge'] as const;
export type DropCounter = (typeof DROP_COUNTERS)[number];

/**
 * The nft script that makes aloft's tables exactly `policy`, as one transaction: each
 * table is declared (so deleting it cannot fail), deleted and written anew, and `nft -f`
 * applies the whole file or nothing.
 *
 * What the rules say (6PN is fdaa::/16; an org's network is fdaa:<net>::/48):
 * - routed 6PN traffic, from Machines here or from other hosts over the tunnel, passes
 *   only when source and destination are in one org (`org6` map → per-org chain), and
 *   6PN arriving on any other interface (the underlay) is dropped;
 *   network 0 (hosts) may reach Machines (the proxy does), Machines may not reach it;
 *   edges on the backhaul (`edge6`, network 0 too) only Machines' service ports here
 *   (`edge_targets`): nothing else of a Machine and nothing of the host;
 * - Machines reach nothing on the host itself but established replies, neighbour
 *   discovery and the listed services; other hosts' tunnel traffic only from network 0;
 * - Machines reach no host address (this host's or another's) and no agent API port;
 * - TCP to port 25 outside 6PN is dropped unless the source is in `smtp4`/`smtp6`;
 * - on the bridge, frames between Machine ports pass only as same-org IPv6 (and the
 *   neighbour solicitations that finds them): IPv4, ARP and cross-org IPv6 between
 *   Machines are dropped, since routing alone cannot see what a bridge switches;
 * - with `machines` given, every frame entering from a Machine port must come from that
 *   Machine's own addresses (MAC, IPv6 or link-local, IPv4, ARP sender, the target of a
 *   neighbour advert); frames from unlisted Machine ports are dropped. Every rule above
 *   trusts source addresses, and this is what makes them trustworthy.
 */
export function renderRuleset(policy: CheckedPolicy, table: string = TABLE): string {
  const ports = `${policy.machinePortPrefix}*`;
  const orgChains = policy.orgs.map((org) => `org_${org.network}`);
  const org6 = [`fdaa::/48 : accept`, ...policy.orgs.map((org, i) => `${networkPrefix(org.network)} : jump ${orgChains[i]}`)];
  const lines = [
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    ...DROP_COUNTERS.map((name) => `  counter ${name} {\n  }`),
    ...set('smtp6', 'ipv6_addr', smtp6(policy)),
    ...set('smtp4', 'ipv4_addr', smtp4(policy)),
    ...set('host6', 'ipv6_addr', policy.hostAddresses6),
    ...set('host4', 'ipv4_addr', policy.hostAddresses4),
    ...set('edge6', 'ipv6_addr', policy.edgeSources),
    `  set edge_targets {`,
    `    type ipv6_addr . inet_proto . inet_service`,
    ...(policy.edgeTargets.length > 0 ? [`    elements = { ${policy.edgeTargets.map((t) => `${t.address} . ${t.protocol} . ${t.port}`).join(', ')} }`] : []),
    `  }`,
    `  map org6 {`,
    `    type ipv6_addr : verdict`,
    `    flags interval`,
    `    elements = { ${org6.join(', ')} }`,
    `  }`,
    ...policy.orgs.flatMap((org, i) => [
      `  chain ${orgChains[i]} {`,
      `    ip6 daddr ${networkPrefix(org.network)} accept`,
      `    counter name "cross_org" drop`,
      `  }`,
    ]),
    `  chain forward {`,
    `    type filter hook forward priority filter; policy accept;`,
    `    iifname "${policy.bridge}" jump from_machines`,
    `    iifname "${policy.tunnel}" ip6 daddr != ${SIXPN_PREFIX} counter name "host" drop`,
    `    iifname "${policy.tunnel}" ip6 saddr @edge6 jump from_edges`,
    `    iifname "${policy.tunnel}" ip6 saddr vmap @org6`,
    // 6PN comes only from Machines here or over the tunnel: not from the underlay or anywhere else.
    `    ip6 daddr ${SIXPN_PREFIX} counter name "cross_org" drop`,
    `  }`,
    `  chain from_edges {`,
    `    ct state established,related accept`,
    `    ip6 daddr . meta l4proto . th dport @edge_targets accept`,
    `    counter name "edge" drop`,
    `  }`,
    `  chain from_machines {`,
    // Replies to connections a host opened (the proxy, over 6PN from network 0).
    `    ct state established,related accept`,
    // A Machine claiming a host's source address is lying: hosts' network is never a Machine's.
    `    ip6 saddr fdaa::/48 counter name "host" drop`,
    ...(policy.agentPorts.length > 0 ? [`    tcp dport { ${policy.agentPorts.join(', ')} } counter name "host" drop`] : []),
    `    ip daddr @host4 counter name "host" drop`,
    `    ip6 daddr @host6 counter name "host" drop`,
    `    ip6 daddr ${SIXPN_PREFIX} ip6 saddr vmap @org6`,
    `    ip6 daddr ${SIXPN_PREFIX} counter name "cross_org" drop`,
    `    meta nfproto ipv4 tcp dport 25 ip saddr != @smtp4 counter name "smtp" drop`,
    `    meta nfproto ipv6 tcp dport 25 ip6 saddr != @smtp6 counter name "smtp" drop`,
    `  }`,
    `  chain input {`,
    `    type filter hook input priority filter; policy accept;`,
    `    iifname "${policy.bridge}" jump machines_to_host`,
    `    iifname "${policy.tunnel}" jump mesh_to_host`,
    `  }`,
    `  chain machines_to_host {`,
    `    ct state established,related accept`,
    `    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept`,
    ...policy.hostServices.map((s) => `    ${s.address.includes(':') ? 'ip6' : 'ip'} daddr ${s.address} ${s.protocol} dport ${s.listenPort ?? s.port} accept`),
    `    counter name "host" drop`,
    `  }`,
    `  chain mesh_to_host {`,
    `    ct state established,related accept`,
    // An edge dials Machines only: nothing on the host itself is its business.
    `    ip6 saddr @edge6 counter name "edge" drop`,
    `    ip6 saddr fdaa::/48 accept`,
    `    counter name "host" drop`,
    `  }`,
    ...redirects(policy),
    `}`,
    `table bridge ${table}`,
    `delete table bridge ${table}`,
    `table bridge ${table} {`,
    `  counter cross_org {\n  }`,
    `  counter between_machines {\n  }`,
    `  counter spoof {\n  }`,
    `  map org6 {`,
    `    type ipv6_addr : verdict`,
    `    flags interval`,
    ...(policy.orgs.length > 0 ? [`    elements = { ${policy.orgs.map((org, i) => `${networkPrefix(org.network)} : jump ${orgChains[i]}`).join(', ')} }`] : []),
    `  }`,
    ...policy.orgs.flatMap((org, i) => [
      `  chain ${orgChains[i]} {`,
      `    ip6 daddr ${networkPrefix(org.network)} accept`,
      `    ip6 daddr ff02::1:ff00:0/104 icmpv6 type nd-neighbor-solicit accept`,
      `    counter name "cross_org" drop`,
      `  }`,
    ]),
    ...(policy.machines === undefined ? [] : sourceChecks(policy.machines, ports)),
    `  chain forward {`,
    `    type filter hook forward priority filter; policy accept;`,
    `    iifname != "${ports}" accept`,
    `    ether type ip6 ip6 saddr vmap @org6`,
    // IPv4, ARP and link-local chatter between Machines: none of it is needed, all of it could leak.
    `    counter name "between_machines" drop`,
    `  }`,
    `}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** The nft script that replaces only the SMTP sets (counters and rules untouched). */
export function renderSmtpSets(policy: CheckedPolicy, table: string = TABLE): string {
  const lines = [`flush set inet ${table} smtp6`, `flush set inet ${table} smtp4`];
  const six = smtp6(policy);
  const four = smtp4(policy);
  if (six.length > 0) lines.push(`add element inet ${table} smtp6 { ${six.join(', ')} }`);
  if (four.length > 0) lines.push(`add element inet ${table} smtp4 { ${four.join(', ')} }`);
  return `${lines.join('\n')}\n`;
}

/** The script that removes aloft's tables (and only them). */
export function renderRemoval(table: string = TABLE): string {
  return [`table inet ${table}`, `delete table inet ${table}`, `table bridge ${table}`, `delete table bridge ${table}`, ''].join('\n');
}

/** The bridge's prerouting checks: one chain per Machine port, reached by a port → chain map. */
function sourceChecks(machines: readonly MachinePort[], ports: string): string[] {
  const chains = machines.flatMap((machine, i) => {
    const checks = [`  chain port_${i} {`];
    if (machine.mac !== undefined) {
      checks.push(`    ether saddr != ${machine.mac} counter name "spoof" drop`);
      checks.push(`    ether type arp arp saddr ether != ${machine.mac} counter name "spoof" drop`);
    }
    checks.push(`    ether type ip6 ip6 saddr != { ${machine.ipv6}, fe80::/10, :: } counter name "spoof" drop`);
    // A neighbour advert for someone else's address would steal their traffic from the host.
    const target = `0x${(expandIpv6(machine.ipv6) ?? []).map((group) => group.toString(16).padStart(4, '0')).join('')}`;
    checks.push(`    icmpv6 type nd-neighbor-advert @th,64,10 != 0x3fa @th,64,128 != ${target} counter name "spoof" drop`);
    if (machine.ipv4 === undefined) {
      checks.push(`    ether type { ip, arp } counter name "spoof" drop`);
    } else {
      checks.push(`    ether type ip ip saddr != { ${machine.ipv4}, 0.0.0.0 } counter name "spoof" drop`);
      checks.push(`    ether type arp arp saddr ip != ${machine.ipv4} counter name "spoof" drop`);
    }
    // Its own frames: on to the forward and input rules (a jump that returned would hit the drop below).
    checks.push(`    accept`, `  }`);
    return checks;
  });
  return [
    `  map ports {`,
    `    type ifname : verdict`,
    ...(machines.length > 0 ? [`    elements = { ${machines.map((machine, i) => `"${machine.port}" : jump port_${i}`).join(', ')} }`] : []),
    `  }`,
    ...chains,
    `  chain prerouting {`,
    `    type filter hook prerouting priority filter; policy accept;`,
    `    iifname != "${ports}" accept`,
    `    iifname vmap @ports`,
    `    counter name "spoof" drop`,
    `  }`,
  ];
}

/** Services listening off their port: Machines' traffic from the bridge is sent there (DNAT). */
function redirects(policy: CheckedPolicy): string[] {
  const moved = policy.hostServices.filter((s) => s.listenPort !== undefined && s.listenPort !== s.port);
  if (moved.length === 0) return [];
  return [
    `  chain services_dnat {`,
    `    type nat hook prerouting priority dstnat; policy accept;`,
    ...moved.map((s) => {
      const family = s.address.includes(':') ? 'ip6' : 'ip';
      const to = family === 'ip6' ? `[${s.address}]:${s.listenPort}` : `${s.address}:${s.listenPort}`;
      return `    iifname "${policy.bridge}" ${family} daddr ${s.address} ${s.protocol} dport ${s.port} dnat ${family} to ${to}`;
    }),
    `  }`,
  ];
}

function smtp6(policy: CheckedPolicy): string[] {
  return policy.orgs.filter((org) => org.allowSmtp).map((org) => networkPrefix(org.network));
}

function smtp4(policy: CheckedPolicy): string[] {
  return [...new Set(policy.orgs.filter((org) => org.allowSmtp).flatMap((org) => org.ipv4))].sort();
}

function set(name: string, type: string, elements: readonly string[]): string[] {
  return [
    `  set ${name} {`,
    `    type ${type}`,
    // auto-merge: host addresses may overlap (a /24 and an address in it).
    `    flags interval`,
    `    auto-merge`,
    ...(elements.length > 0 ? [`    elements = { ${elements.join(', ')} }`] : []),
    `  }`,
  ];
}
