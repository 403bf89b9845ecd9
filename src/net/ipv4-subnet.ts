import { isIPv4 } from 'node:net';
import { invalidField } from '../lib/errors.ts';

/**
 * The host-local IPv4 subnet that Machines on one host share (default 172.19.0.0/16).
 * The bridge holds the first host address (.0.1) as the gateway; Machines get the rest,
 * numbered by a counter the agent keeps. Addresses ending in .0 or .255 are skipped
 * even where they are valid hosts, because enough software mistakes them for network
 * or broadcast addresses.
 */
export interface Ipv4Subnet {
  /** Network address as a 32-bit number. */
  base: number;
  /** Prefix length, 8 to 24. */
  prefixLength: number;
}

/** The default host-local subnet. */
export const DEFAULT_IPV4_SUBNET = '172.19.0.0/16';

/** Usable addresses per /24 block: .1 to .254. */
const PER_BLOCK = 254;

/** Parses "a.b.c.d/len" (len 8..24, host bits zero). */
export function parseIpv4Subnet(cidr: string): Ipv4Subnet {
  const [address = '', length, extra] = cidr.split('/');
  const prefixLength = Number(length);
  if (extra !== undefined || !isIPv4(address) || !Number.isInteger(prefixLength) || length === '') {
    throw invalidField('parse IPv4 subnet', 'subnet', 'CIDR notation like 172.19.0.0/16', cidr);
  }
  if (prefixLength < 8 || prefixLength > 24) {
    throw invalidField('parse IPv4 subnet', 'subnet', 'a prefix length from 8 to 24', cidr);
  }
  const base = ipv4ToNumber(address);
  if (base % 2 ** (32 - prefixLength) !== 0) {
    throw invalidField('parse IPv4 subnet', 'subnet', 'a network address (host bits zero)', cidr);
  }
  return { base, prefixLength };
}

/** How many Machines the subnet holds. */
export function ipv4Capacity(subnet: Ipv4Subnet): number {
  return 2 ** (24 - subnet.prefixLength) * PER_BLOCK - 1;
}

/** The gateway the bridge holds: the subnet's first host address. */
export function ipv4Gateway(subnet: Ipv4Subnet): string {
  return numberToIpv4(subnet.base + 1);
}

/**
 * The address of Machine number `index` (0-based): 0 → .0.2, 252 → .0.254,
 * 253 → .1.1, and so on, skipping the gateway and every .0 and .255.
 */
export function machineIpv4(subnet: Ipv4Subnet, index: number): string {
  const capacity = ipv4Capacity(subnet);
  if (!Number.isInteger(index) || index < 0 || index >= capacity) {
    throw invalidField('assign IPv4 address', 'index', `an integer from 0 to ${capacity - 1}`, index);
  }
  const slot = index + 1; // slot 0 is the gateway
  const block = Math.floor(slot / PER_BLOCK);
  return numberToIpv4(subnet.base + block * 256 + (slot % PER_BLOCK) + 1);
}

/** "a.b.c.d" → 32-bit number. */
export function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/** 32-bit number → "a.b.c.d". */
export function numberToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}
