import { isIPv6 } from 'node:net';
import { invalidField } from '../lib/errors.ts';

/**
 * Fly's 6PN layout (PLATFORM.md): a 128-bit address is
 *
 *   fdaa | org network (32) | host (32) | machine (32) | free (16)
 *
 * so every Machine owns a /112 (`fdaa:<net>:<host>:<machine>::/112`), and its own
 * address is that prefix with the free bits set to 2, e.g. fdaa:0:3b99:a7b:7d:5e95:5bee:2.
 *
 * On a host, all Machines of one org share an on-link /80 (`fdaa:<net>:<host>::/80`):
 * the host's bridge holds `fdaa:<net>:<host>::1/80` as the gateway, and each Machine's
 * eth0 holds its address as a /80. On-link beats one routed /112 per Machine here: no
 * per-Machine routes on the host, and the proxy reaches Machines straight over the bridge.
 */
export interface SixPnParts {
  /** The org's private network number (32 bits). */
  network: number;
  /** The host number (32 bits). */
  host: number;
  /** The Machine number on that host (32 bits). */
  machine: number;
}

/** Prefix length a Machine's eth0 uses for its 6PN address (org + host, on-link). */
export const SIXPN_ONLINK_PREFIX = 80;
/** Prefix length that each Machine owns. */
export const SIXPN_MACHINE_PREFIX = 112;
/** The free 16 bits of a Machine's own address. */
export const SIXPN_MACHINE_SUFFIX = 2;
/** The free 16 bits of the host's gateway address in an org's /80. */
export const SIXPN_GATEWAY_SUFFIX = 1;

const MAX_U32 = 0xffff_ffff;

/** The Machine's 6PN address, e.g. machineIpv6(1, 1, 5) → "fdaa:0:1:0:1:0:5:2". */
export function machineIpv6(network: number, host: number, machine: number): string {
  checkU32('build 6PN address', 'network', network);
  checkU32('build 6PN address', 'host', host);
  checkU32('build 6PN address', 'machine', machine);
  return formatIpv6([0xfdaa, ...split(network), ...split(host), ...split(machine), SIXPN_MACHINE_SUFFIX]);
}

/** The host's gateway for an org on this host: fdaa:<net>:<host>::1 (held by the bridge). */
export function sixpnGateway(network: number, host: number): string {
  checkU32('build 6PN gateway', 'network', network);
  checkU32('build 6PN gateway', 'host', host);
  return formatIpv6([0xfdaa, ...split(network), ...split(host), 0, 0, SIXPN_GATEWAY_SUFFIX]);
}

/** Splits a 6PN address back into its parts; throws INVALID_ARGUMENT for anything else. */
export function parse6pn(address: string): SixPnParts & { suffix: number } {
  const groups = expandIpv6(address);
  if (groups === null) throw invalidField('parse 6PN address', 'address', 'an IPv6 address', address);
  if (groups[0] !== 0xfdaa) throw invalidField('parse 6PN address', 'address', 'inside fdaa::/16', address);
  const g = (i: number): number => groups[i] ?? 0;
  return {
    network: join(g(1), g(2)),
    host: join(g(3), g(4)),
    machine: join(g(5), g(6)),
    suffix: g(7),
  };
}

/** Expands an IPv6 address to its eight 16-bit groups; null when it is not one. */
export function expandIpv6(address: string): number[] | null {
  if (!isIPv6(address) || address.includes('.') || address.includes('%')) return null;
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array<string>(zeros).fill('0'), ...right].map((part) => Number.parseInt(part, 16));
  return groups.length === 8 ? groups : null;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (≥2) of zero groups as "::". */
export function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function split(value: number): [number, number] {
  return [Math.floor(value / 0x10000), value % 0x10000];
}

function join(high: number, low: number): number {
  return high * 0x10000 + low;
}

function checkU32(action: string, field: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) {
    throw invalidField(action, field, 'an integer from 0 to 4294967295', value);
  }
}
