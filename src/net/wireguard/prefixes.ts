import { invalidField } from '../../lib/errors.ts';
import { formatIpv6, sixpnGateway, SIXPN_ONLINK_PREFIX } from '../sixpn.ts';

/**
 * Which 6PN prefixes a host owns in the mesh. In Fly's layout the org network comes
 * before the host (`fdaa | net | host | machine`), so one host's Machines do not share
 * one prefix: they sit in one /80 per org (`fdaa:<net>:<host>::/80`). A host's peer
 * entry therefore allows one /80 per org network, plus the host's own /80 in network 0.
 *
 * Network 0 is the platform's own: orgs are numbered from 1 (the store's sequence), so
 * `fdaa:0:0:<host>::/80` holds host addresses (the host itself is `…::1`) and
 * `fdaa::/48` is where fixed services such as the resolver `fdaa::3` live.
 */
export const INFRA_NETWORK = 0;

/** The 6PN prefix of all org networks: routed traffic inside it is private-network traffic. */
export const SIXPN_PREFIX = 'fdaa::/16';

const MAX_U32 = 0xffff_ffff;

/** The host's own 6PN address (on its WireGuard interface): fdaa:0:0:<host>::1. */
export function hostSixpnAddress(host: number): string {
  return sixpnGateway(INFRA_NETWORK, checkU32('build host 6PN address', 'host', host));
}

/** The /80 of an org network on a host: fdaa:<net>:<host>::/80. */
export function hostNetworkPrefix(network: number, host: number): string {
  checkU32('build 6PN prefix', 'network', network);
  checkU32('build 6PN prefix', 'host', host);
  return `${formatIpv6([0xfdaa, hi(network), lo(network), hi(host), lo(host), 0, 0, 0])}/${SIXPN_ONLINK_PREFIX}`;
}

/** An org network's /48 across all hosts: fdaa:<net>::/48. */
export function networkPrefix(network: number): string {
  checkU32('build 6PN network prefix', 'network', network);
  return `${formatIpv6([0xfdaa, hi(network), lo(network), 0, 0, 0, 0, 0])}/48`;
}

/**
 * Every prefix a host's peer entry allows and every route to it: the host's own /80 in
 * network 0, then one /80 per org network (sorted, duplicates dropped).
 */
export function hostPrefixes(host: number, networks: readonly number[]): string[] {
  const orgs = [...new Set(networks)].sort((a, b) => a - b);
  for (const network of orgs) {
    if (network === INFRA_NETWORK) throw invalidField('build host prefixes', 'networks', 'org network numbers from 1 (0 is the platform’s own)', network);
  }
  return [hostNetworkPrefix(INFRA_NETWORK, host), ...orgs.map((network) => hostNetworkPrefix(network, host))];
}

function hi(value: number): number {
  return Math.floor(value / 0x10000);
}

function lo(value: number): number {
  return value % 0x10000;
}

function checkU32(action: string, field: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) {
    throw invalidField(action, field, 'an integer from 0 to 4294967295', value);
  }
  return value;
}
