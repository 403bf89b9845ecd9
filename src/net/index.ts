/** net: 6PN addressing and per-host machine networking (bridge, netns, veth). */
export type { HostNetwork } from './host-network.ts';
export { LinuxHostNetwork, NETNS_DIR, type LinuxHostNetworkOptions } from './linux-host-network.ts';
export {
  machineIpv6,
  parse6pn,
  sixpnGateway,
  SIXPN_MACHINE_PREFIX,
  SIXPN_ONLINK_PREFIX,
  type SixPnParts,
} from './sixpn.ts';
export {
  DEFAULT_IPV4_SUBNET,
  ipv4Capacity,
  ipv4Gateway,
  machineIpv4,
  parseIpv4Subnet,
  type Ipv4Subnet,
} from './ipv4-subnet.ts';
export type { CommandResult, CommandRunner } from '../lib/command.ts';
